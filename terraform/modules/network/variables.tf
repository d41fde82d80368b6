variable "name" {
  type        = string
  description = "Name prefix for every resource of the network."
}

variable "vpc_cidr" {
  type        = string
  description = "CIDR block of the VPC (a /16 is carved into /20 private and /24 public subnets)."
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones to use, e.g. [\"ap-northeast-2a\", \"ap-northeast-2b\", \"ap-northeast-2c\"]; MSK brokers must be a multiple of their count."

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4
    error_message = "Use between 2 and 4 availability zones."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for all AZs (cheaper, not zone-redundant) instead of one per AZ."
  default     = false
}

variable "private_subnet_tags" {
  type        = map(string)
  description = "Extra tags for private subnets (e.g. the EMR managed-policy and EKS internal-ELB tags)."
  default = {
    "for-use-with-amazon-emr-managed-policies" = "true"
    "kubernetes.io/role/internal-elb"          = "1"
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the VPC flow logs in CloudWatch Logs."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource."
  default     = {}
}

variable "client_security_groups" {
  type        = list(string)
  description = "Components that get a client security group (data stores admit these groups, not CIDRs)."
  default     = ["emr", "airflow-workers", "logstash", "msk-connect"]
}
