variable "region" {
  type        = string
  description = "AWS region of the deployment (also where the state bucket lives)."
}

variable "name" {
  type        = string
  description = "Name prefix of every resource (lowercase, short: it ends up in bucket and cluster names)."
  default     = "shopstream"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}$", var.name))
    error_message = "name must be 3-21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource (also the provider default_tags)."
  default = {
    Project   = "shopstream"
    ManagedBy = "terraform"
  }
}

variable "state_bucket" {
  type        = string
  description = "S3 bucket holding the remote state of the other stacks (bootstrap output state_bucket)."
}

variable "state_key_prefix" {
  type        = string
  description = "Prefix of the state keys; stack X lives at <prefix>X/terraform.tfstate."
  default     = "shopstream/"
}

variable "kafka_version" {
  type        = string
  description = "MSK Kafka version (3.9.x = the local broker's 3.9.1)."
  default     = "3.9.x"
}

variable "msk_broker_count" {
  type        = number
  description = "MSK brokers (a multiple of the number of AZs)."
  default     = 3
}

variable "msk_broker_instance_type" {
  type        = string
  description = "MSK broker instance type."
  default     = "kafka.m7g.large"
}

variable "msk_broker_volume_size_gb" {
  type        = number
  description = "EBS per broker in GiB."
  default     = 500
}

variable "export_expiration_days" {
  type        = number
  description = "Days export files are kept after loading."
  default     = 30
}

variable "archive_transition_days" {
  type        = number
  description = "Days before raw archive objects move to Glacier Instant Retrieval."
  default     = 90
}

variable "redshift_node_type" {
  type        = string
  description = "Redshift node type."
  default     = "ra3.large"
}

variable "redshift_node_count" {
  type        = number
  description = "Redshift nodes."
  default     = 2
}

variable "rds_instance_class" {
  type        = string
  description = "Instance class of the PostgreSQL mart."
  default     = "db.m7g.large"
}

variable "rds_multi_az" {
  type        = bool
  description = "Multi-AZ standby for the mart."
  default     = true
}

variable "opensearch_instance_type" {
  type        = string
  description = "OpenSearch data node type."
  default     = "r7g.large.search"
}

variable "opensearch_instance_count" {
  type        = number
  description = "OpenSearch data nodes."
  default     = 3
}

variable "opensearch_dedicated_master_enabled" {
  type        = bool
  description = "Three dedicated OpenSearch master nodes."
  default     = true
}

variable "opensearch_master_user_arn" {
  type        = string
  description = "IAM role ARN that becomes the OpenSearch fine-grained-access-control master user."
}
