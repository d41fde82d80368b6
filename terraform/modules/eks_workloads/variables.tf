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

variable "airflow_worker_role_arn" {
  type        = string
  description = "IRSA role of the Airflow workers' service account (EMR steps, watermarks, warehouse login, own connections)."
}

variable "airflow_control_plane_role_arn" {
  type        = string
  description = "IRSA role of the API server, scheduler, DAG processor and triggerer (task logs, own configuration secrets)."
}

variable "airflow_service_accounts" {
  type        = map(string)
  description = "Service account per Airflow component: worker, api_server, scheduler, dag_processor, triggerer (platform stack output)."
}

variable "airflow_external_secrets_file" {
  type        = string
  description = "SecretStore + ExternalSecrets of the control plane (the repository's airflow/helm/external-secrets.yaml)."
}

variable "client_security_group_ids" {
  type        = map(string)
  description = "Client security groups by component (network stack); Logstash and the Airflow workers get theirs per pod."
}

variable "cluster_security_group_id" {
  type        = string
  description = "EKS cluster security group, kept on every pod with its own group (DNS, kubelet probes)."
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
  description = "Service account name the Logstash StatefulSet uses."
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

variable "storage_class_name" {
  type        = string
  description = "StorageClass of Logstash's queue volumes (logstash/k8s/statefulset.yaml storageClassName)."
  default     = "gp3"
}
