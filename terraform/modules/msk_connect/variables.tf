variable "name" {
  type        = string
  description = "Name prefix of the plugin, role and log group."
}

variable "connectors" {
  type        = map(map(string))
  description = "Connector name => rendered connector properties (the stack renders them from conf/connect/*.json)."
}

variable "source_topics" {
  type        = list(string)
  description = "Topics the connectors read (IAM ReadData is limited to these)."
}

variable "dlq_topics" {
  type        = list(string)
  description = "Dead-letter topics the connectors write malformed records to (errors.deadletterqueue.topic.name)."
  default     = []
}

variable "plugin_build_command" {
  type        = string
  description = "Shell command that builds the connector plugin with Maven and writes plugin_zip_path."
}

variable "plugin_build_working_dir" {
  type        = string
  description = "Working directory of plugin_build_command (the repository root)."
}

variable "plugin_zip_path" {
  type        = string
  description = "Path of the ZIP written by plugin_build_command."
}

variable "plugin_source_hash" {
  type        = string
  description = "Hash of the build inputs (connect/pom.xml and connect/src/main); a change rebuilds and re-uploads the plugin."
}

variable "plugin_s3_prefix" {
  type        = string
  description = "Key prefix of the plugin ZIP in the artifacts bucket."
  default     = "connect-plugins/"
}

variable "artifacts_bucket" {
  type        = string
  description = "Bucket (name) for the plugin ZIP; must be versioned."
}

variable "archive_bucket_arn" {
  type        = string
  description = "ARN of the raw archive bucket the S3 sink writes to."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key of the archive bucket and the worker log group."
}

variable "msk_cluster_arn" {
  type        = string
  description = "ARN of the MSK cluster."
}

variable "msk_topic_arn_prefix" {
  type        = string
  description = "Topic ARN prefix of the cluster (msk module output)."
}

variable "msk_group_arn_prefix" {
  type        = string
  description = "Consumer-group ARN prefix of the cluster (msk module output)."
}

variable "bootstrap_servers" {
  type        = string
  description = "IAM/TLS bootstrap servers of the cluster."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the workers."
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the workers (must be allowed by the MSK security group)."
}

variable "worker_properties" {
  type        = map(string)
  description = "Worker properties; offset.flush.interval.ms sets how often each partition's buffered records become one S3 object."
  default = {
    "key.converter"            = "org.apache.kafka.connect.converters.ByteArrayConverter"
    "value.converter"          = "org.apache.kafka.connect.converters.ByteArrayConverter"
    "offset.flush.interval.ms" = "120000"
  }
}

variable "kafkaconnect_version" {
  type        = string
  description = "MSK Connect (Apache Kafka Connect) version."
  default     = "3.7.x"
}

variable "mcu_count" {
  type        = number
  description = "MSK Connect units per worker."
  default     = 1
}

variable "min_workers" {
  type        = number
  description = "Minimum workers per connector."
  default     = 1
}

variable "max_workers" {
  type        = number
  description = "Maximum workers per connector."
  default     = 2
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the worker log group."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource."
  default     = {}
}
