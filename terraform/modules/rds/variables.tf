variable "name" {
  type        = string
  description = "Instance identifier and name prefix."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the instance."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the DB subnet group."
}

variable "client_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed on 5432 (Airflow workers, Redash)."
  default     = []
}


variable "engine_major_version" {
  type        = string
  description = "PostgreSQL major version (parameter group family postgres<N>)."
  default     = "16"

  validation {
    condition     = contains(["15", "16"], var.engine_major_version)
    error_message = "Use PostgreSQL 15 or 16."
  }
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL engine version (major or major.minor, must match engine_major_version)."
  default     = "16"
}

variable "instance_class" {
  type        = string
  description = "Instance class."
  default     = "db.m7g.large"
}

variable "allocated_storage_gb" {
  type        = number
  description = "Initial storage in GiB."
  default     = 50
}

variable "max_allocated_storage_gb" {
  type        = number
  description = "Storage autoscaling ceiling in GiB."
  default     = 200
}

variable "database_name" {
  type        = string
  description = "Mart database (conf/aws.yaml postgres.mart_db)."
  default     = "mart"
}

variable "master_username" {
  type        = string
  description = "Admin user; the password is managed by Secrets Manager (manage_master_user_password)."
  default     = "shopstream_admin"
}

variable "multi_az" {
  type        = bool
  description = "Standby in a second AZ."
  default     = true
}

variable "backup_retention_days" {
  type        = number
  description = "Automated backup retention."
  default     = 7
}

variable "deletion_protection" {
  type        = bool
  description = "Deletion protection."
  default     = true
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for storage, Performance Insights and the master secret."
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource."
  default     = {}
}
