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

variable "repo_root" {
  type        = string
  description = "Path of the repository root relative to this stack (artifacts and conf/ are read from it)."
  default     = "../../.."
}

variable "source_topics" {
  type        = list(string)
  description = "Event topics (conf/contract.yaml): read by the stream, Logstash and the archive."
  default     = ["shopstream.users", "shopstream.orders"]
}

variable "archive_connectors" {
  type        = list(string)
  description = "Connector files in conf/connect/ (without .json) rendered into MSK Connect connectors."
  default     = ["users", "orders"]
}

variable "connector_property_overrides" {
  type        = map(string)
  description = "Properties merged last into every connector (e.g. a longer offset.flush.interval.ms)."
  default     = {}
}

variable "emr_release_label" {
  type        = string
  description = "EMR release label."
  default     = "emr-7.9.0"
}

variable "emr_core_instance_type" {
  type        = string
  description = "EMR core node type."
  default     = "m7g.xlarge"
}

variable "emr_core_instance_count" {
  type        = number
  description = "EMR core nodes."
  default     = 2
}

variable "wheel_path" {
  type        = string
  description = "Project wheel relative to the repository root (build: make artifacts, which also stages dist/emr/)."
}

variable "stream_job_args" {
  type        = list(string)
  description = "Extra arguments of jobs/run_stream.py on EMR (after the builder's --profile aws)."
  default     = []
}

variable "logstash_consumer_group" {
  type        = string
  description = "Kafka consumer group of Logstash (its kafka input group_id), for lag alarms."
  default     = "shopstream-logstash"
}

variable "max_offset_lag_threshold" {
  type        = number
  description = "Messages of partition lag that raise a lag alarm."
  default     = 10000
}

variable "alert_emails" {
  type        = list(string)
  description = "E-mail subscribers of the alert topic."
  default     = []
}
