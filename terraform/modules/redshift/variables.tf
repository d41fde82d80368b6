variable "name" {
  type        = string
  description = "Cluster identifier and name prefix."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the cluster."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the cluster subnet group."
}

variable "client_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed on 5439 (Airflow workers, EMR)."
  default     = []
}


variable "database_name" {
  type        = string
  description = "Warehouse database (conf/aws.yaml postgres.warehouse_db)."
  default     = "dev"
}

variable "master_username" {
  type        = string
  description = "Admin user name; its password is generated and rotated by Secrets Manager."
  default     = "shopstream_admin"
}

variable "node_type" {
  type        = string
  description = "Node type."
  default     = "ra3.large"
}

variable "node_count" {
  type        = number
  description = "Number of nodes."
  default     = 2
}

variable "snapshot_retention_days" {
  type        = number
  description = "Automated snapshot retention."
  default     = 7
}

variable "export_bucket_arn" {
  type        = string
  description = "ARN of the export bucket COPY reads from."
}

variable "export_prefix" {
  type        = string
  description = "Key prefix of the exports (manifests and Parquet) in the export bucket: Settings.export_root."
  default     = "export"
}

variable "logs_bucket" {
  type        = string
  description = "Bucket (name, SSE-S3) for audit logs."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for the cluster, the master secret and exported files."
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource."
  default     = {}
}
