variable "airflow_namespace" {
  type        = string
  description = "Namespace of the Airflow release."
  default     = "airflow"
}

variable "airflow_chart_repository" {
  type        = string
  description = "Helm repository of the official Apache Airflow chart."
  default     = "https://airflow.apache.org"
}

variable "airflow_chart_version" {
  type        = string
  description = "Version of the official Apache Airflow chart."
  default     = "1.18.0"
}

variable "airflow_values_file" {
  type        = string
  description = "Path of the Helm values file (the repository's airflow/helm/values.yaml)."
}

variable "airflow_role_arn" {
  type        = string
  description = "IRSA role annotated on Airflow's service accounts (EMR steps, S3 export, secrets)."
}

variable "logstash_namespace" {
  type        = string
  description = "Namespace of Logstash."
  default     = "logstash"
}

variable "logstash_manifests_dir" {
  type        = string
  description = "Directory of the Logstash Kubernetes manifests (the repository's logstash/k8s)."
}

variable "create_logstash_service_account" {
  type        = bool
  description = "Create the IRSA-annotated service account (set false if the manifests define it)."
  default     = true
}

variable "logstash_service_account" {
  type        = string
  description = "Service account name the Logstash Deployment uses."
  default     = "logstash"
}

variable "logstash_role_arn" {
  type        = string
  description = "IRSA role of Logstash (MSK read, OpenSearch write)."
}

variable "endpoints" {
  type        = map(string)
  description = "Non-secret endpoints published as ConfigMap shopstream-endpoints (SHOPSTREAM_* keys)."
  default     = {}
}
