variable "name" {
  type        = string
  description = "Domain name (3-28 lowercase characters)."
}

variable "engine_version" {
  type        = string
  description = "Engine version (the local node runs OpenSearch 2.19)."
  default     = "OpenSearch_2.19"
}

variable "vpc_id" {
  type        = string
  description = "VPC of the domain."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (the first 1-3 are used)."
}

variable "client_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed on 443 (EKS nodes for Logstash and Dashboards)."
  default     = []
}


variable "instance_type" {
  type        = string
  description = "Data node instance type."
  default     = "r7g.large.search"
}

variable "instance_count" {
  type        = number
  description = "Data nodes (spread over up to 3 AZs when > 1)."
  default     = 3
}

variable "dedicated_master_enabled" {
  type        = bool
  description = "Three dedicated master nodes (recommended for production; false saves about a third of the cost)."
  default     = true
}

variable "dedicated_master_type" {
  type        = string
  description = "Dedicated master instance type."
  default     = "m7g.large.search"
}

variable "volume_size_gb" {
  type        = number
  description = "EBS volume per data node in GiB."
  default     = 100
}

variable "master_user_arn" {
  type        = string
  description = "IAM role/user ARN that is the fine-grained-access-control master user (no password anywhere)."
}

variable "access_principal_arns" {
  type        = list(string)
  description = "Extra IAM principals allowed to send signed requests (e.g. Logstash's IRSA role); FGAC maps them to roles."
  default     = []
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for encryption at rest and the log groups."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the domain's log groups."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource."
  default     = {}
}
