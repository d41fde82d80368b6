variable "name" {
  type        = string
  description = "Cluster name and name prefix."
}

variable "release_label" {
  type        = string
  description = "EMR release (7.x ships Spark 3.5 and Delta 3.x, matching the local pins)."
  default     = "emr-7.9.0"

  validation {
    condition     = startswith(var.release_label, "emr-7.")
    error_message = "Use an EMR 7.x release (Spark 3.5, Scala 2.12)."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the cluster."
}

variable "subnet_id" {
  type        = string
  description = "Private subnet of the cluster."
}

variable "additional_security_group_ids" {
  type        = list(string)
  description = "Extra security groups for all nodes (e.g. the MSK client group)."
  default     = []
}

variable "primary_instance_type" {
  type        = string
  description = "Primary node instance type."
  default     = "m7g.xlarge"
}

variable "core_instance_type" {
  type        = string
  description = "Core node instance type."
  default     = "m7g.xlarge"
}

variable "core_instance_count" {
  type        = number
  description = "Number of core nodes."
  default     = 2
}

variable "core_volume_size_gb" {
  type        = number
  description = "EBS volume size per core node in GiB."
  default     = 64
}

variable "termination_protection" {
  type        = bool
  description = "Protect the long-running cluster from accidental termination."
  default     = true
}

variable "artifacts_bucket" {
  type        = string
  description = "Bucket (name) for the wheel, entry points, bootstrap and certificates."
}

variable "artifacts_prefix" {
  type        = string
  description = "Key prefix for this cluster's artifacts."
  default     = "emr/"
}

variable "lake_bucket" {
  type        = string
  description = "Bucket (name) of the Delta lake."
}

variable "lake_prefix" {
  type        = string
  description = "Key prefix of the lake in its bucket (conf/aws.yaml lake.root after the bucket); the jobs read and write only there."
  default     = "bronze"
}

variable "logs_bucket" {
  type        = string
  description = "Bucket (name) for EMR logs (written under emr/)."
}

variable "delta_log_table_name" {
  type        = string
  description = "DynamoDB table of Delta's S3DynamoDBLogStore."
}

variable "delta_log_table_arn" {
  type        = string
  description = "ARN of that table."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for S3 and local-disk encryption."
}

variable "msk_cluster_arn" {
  type        = string
  description = "ARN of the MSK cluster the stream reads."
}

variable "msk_topic_arn_prefix" {
  type        = string
  description = "Topic ARN prefix of the cluster (msk module output)."
}

variable "msk_group_arn_prefix" {
  type        = string
  description = "Consumer-group ARN prefix of the cluster (msk module output)."
}

variable "source_topics" {
  type        = list(string)
  description = "Topics the streaming job reads."
}

variable "kafka_bootstrap_servers" {
  type        = string
  description = "IAM/TLS bootstrap servers, passed as SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS."
}

variable "wheel_path" {
  type        = string
  description = "Local path of the project wheel (python -m pip wheel --no-deps -w dist .)."
}

variable "jobs_dir" {
  type        = string
  description = "Local path of the repository's jobs/ directory (every run_*.py entry point is uploaded)."
}

variable "stream_job_args" {
  type        = list(string)
  description = "Extra arguments after the stream entry point's own (spark_steps.json already passes --profile aws)."
  default     = []
}

variable "jars_dir" {
  type        = string
  description = "Local folder of the jars EMR does not ship (`make artifacts` stages the EMR subset of conf/jars there)."
}

variable "requirements_path" {
  type        = string
  description = "Pinned runtime requirements of the wheel (`make artifacts`), installed by the bootstrap."
}

variable "export_bucket" {
  type        = string
  description = "Bucket (name) of the hourly exports (the steps write <bucket>/export/...)."
}

variable "archive_bucket" {
  type        = string
  description = "Bucket (name) of the raw archive (SHOPSTREAM_S3__ARCHIVE_BUCKET)."
}

variable "postgres_host" {
  type        = string
  description = "RDS PostgreSQL address of the mart and ledger (SHOPSTREAM_POSTGRES__HOST)."
}

variable "opensearch_url" {
  type        = string
  description = "https:// URL of the OpenSearch domain (SHOPSTREAM_OPENSEARCH__URL)."
}

variable "opensearch_domain_arn" {
  type        = string
  description = "ARN of the OpenSearch domain (reconcile counts the real-time path's documents)."
}

variable "redshift_host" {
  type        = string
  description = "Redshift address (SHOPSTREAM_WAREHOUSE__REDSHIFT_HOST)."
}

variable "redshift_cluster_id" {
  type        = string
  description = "Redshift cluster identifier, for IAM authentication (SHOPSTREAM_WAREHOUSE__REDSHIFT_CLUSTER_ID)."
}

variable "rds_ca_bundle_path" {
  type        = string
  description = "Local path of the AWS RDS CA bundle (make artifacts stages dist/emr/certs/rds-global-bundle.pem); the bootstrap installs it where conf/aws.yaml postgres.ca_bundle points."
}

variable "redshift_db_user" {
  type        = string
  description = "Redshift user the corrections step signs in as with IAM (conf/aws.yaml warehouse.redshift_db_user)."
  default     = "shopstream_loader"
}

variable "redshift_database" {
  type        = string
  description = "Redshift database of the warehouse (conf/aws.yaml warehouse.redshift_database)."
  default     = "shopstream"
}

variable "mart_password_secret_name" {
  type        = string
  description = "Secrets Manager secret holding the mart application user's password (SHOPSTREAM_POSTGRES__PASSWORD_SECRET; plain or JSON with a password key). Never the RDS master secret."
  default     = "shopstream/emr/mart-password"
}

variable "redshift_copy_role_arn" {
  type        = string
  description = "Role Redshift assumes for COPY (SHOPSTREAM_WAREHOUSE__COPY_IAM_ROLE_ARN)."
}

variable "python_bin" {
  type        = string
  description = "Python the bootstrap installs (dnf package name and /usr/bin binary) and Spark uses; the project needs 3.11."
  default     = "python3.11"
}

variable "extra_spark_conf" {
  type        = map(string)
  description = "Extra spark-defaults of the cluster (every step)."
  default     = {}
}

variable "extra_env" {
  type        = map(string)
  description = "Extra SHOPSTREAM_* environment variables for the driver and executors."
  default     = {}
}

variable "certificate_zip_s3_uri" {
  type        = string
  description = "s3:// URI of your own PEM ZIP for in-transit encryption; null generates a self-signed one."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource."
  default     = {}
}
