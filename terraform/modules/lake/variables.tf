variable "name" {
  type        = string
  description = "Name prefix; buckets are <name>-<purpose>-<account>-<region>."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for SSE-KMS on the data buckets and the DynamoDB table."
}

variable "delta_log_table_name" {
  type        = string
  description = "Name of the DynamoDB table of Delta's S3DynamoDBLogStore (spark.io.delta.storage.S3DynamoDBLogStore.ddb.tableName)."
}

variable "export_expiration_days" {
  type        = number
  description = "Days after which hourly export files (already loaded into Redshift) expire."
  default     = 30
}

variable "archive_transition_days" {
  type        = number
  description = "Days after which raw archive objects move to Glacier Instant Retrieval."
  default     = 90
}

variable "archive_expiration_days" {
  type        = number
  description = "Days after which raw archive objects expire (0 keeps them forever)."
  default     = 0
}

variable "noncurrent_version_days" {
  type        = number
  description = "Days a noncurrent object version is kept (Delta time travel needs current versions only)."
  default     = 30
}

variable "log_expiration_days" {
  type        = number
  description = "Days after which objects in the logs bucket expire."
  default     = 365
}

variable "force_destroy" {
  type        = bool
  description = "Allow terraform destroy to delete non-empty buckets (keep false in production)."
  default     = false
}

variable "deletion_protection" {
  type        = bool
  description = "Deletion protection on the DynamoDB log-store table."
  default     = true
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource."
  default     = {}
}
