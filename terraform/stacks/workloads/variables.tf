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
  description = "Path of the repository root relative to this stack."
  default     = "../../.."
}

variable "airflow_values_file" {
  type        = string
  description = "Helm values of the Airflow chart, relative to the repository root."
  default     = "airflow/helm/values.yaml"
}

variable "airflow_external_secrets_file" {
  type        = string
  description = "External Secrets manifests of the Airflow control plane, relative to the repository root."
  default     = "airflow/helm/external-secrets.yaml"
}

variable "airflow_chart_version" {
  type        = string
  description = "Version of the official Apache Airflow Helm chart."
  default     = "1.18.0"
}

variable "logstash_manifests_dir" {
  type        = string
  description = "Directory of the Logstash manifests (*.yaml), relative to the repository root."
  default     = "logstash/k8s"
}

variable "create_logstash_service_account" {
  type        = bool
  description = "Create the IRSA-annotated logstash service account (false if logstash/k8s defines it)."
  default     = true
}
