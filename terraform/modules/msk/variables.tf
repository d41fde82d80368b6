variable "name" {
  type        = string
  description = "Cluster name."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the brokers."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets, one per AZ; broker_count must be a multiple of their number."
}

variable "client_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed to reach the brokers on 9098 (IAM over TLS)."
  default     = []
}


variable "kafka_version" {
  type        = string
  description = "MSK Kafka version; 3.9.x matches the local broker (kafka_2.13 3.9.1 in conf/jars/pom.xml)."
  default     = "3.9.x"
}

variable "broker_count" {
  type        = number
  description = "Number of brokers (a multiple of the number of subnets; 3 for replication factor 3)."
  default     = 3
}

variable "broker_instance_type" {
  type        = string
  description = "Broker instance type."
  default     = "kafka.m7g.large"
}

variable "broker_volume_size_gb" {
  type        = number
  description = "EBS storage per broker in GiB."
  default     = 500
}

variable "enhanced_monitoring" {
  type        = string
  description = "MSK enhanced monitoring level (consumer-lag metrics are published at every level)."
  default     = "PER_BROKER"
}

variable "server_properties" {
  type        = map(string)
  description = "Extra or overriding broker properties merged over the shopstream defaults."
  default     = {}
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for encryption at rest and the broker log group."
}

variable "logs_bucket" {
  type        = string
  description = "Bucket for broker logs (in addition to CloudWatch Logs); null disables S3 delivery."
  default     = null
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the broker log group."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource."
  default     = {}
}
