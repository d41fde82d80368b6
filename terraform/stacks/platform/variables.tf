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

variable "kubernetes_version" {
  type        = string
  description = "EKS Kubernetes version."
  default     = "1.33"
}

variable "api_allowed_cidr_blocks" {
  type        = list(string)
  description = "Private CIDRs (VPN, bastion, in-VPC CI runner) allowed to the private API endpoint."
  default     = []
}

variable "node_groups" {
  type = map(object({
    instance_types = list(string)
    capacity_type  = optional(string, "ON_DEMAND")
    min_size       = number
    max_size       = number
    desired_size   = number
    labels         = optional(map(string), {})
  }))
  description = "Managed node groups."
  default = {
    general = {
      instance_types = ["m7i.large"]
      min_size       = 2
      max_size       = 4
      desired_size   = 2
    }
  }
}

variable "source_topics" {
  type        = list(string)
  description = "Topics Logstash reads."
  default     = ["shopstream.users", "shopstream.orders"]
}

variable "logstash_consumer_group" {
  type        = string
  description = "Logstash's consumer group (must match the compute stack's, which alarms on its lag)."
  default     = "shopstream-logstash"
}

variable "airflow_namespace" {
  type        = string
  description = "Namespace of Airflow."
  default     = "airflow"
}

variable "airflow_service_accounts" {
  type        = map(string)
  description = "Service account per Airflow component (airflow/helm/values.yaml <component>.serviceAccount.name); \"worker\" gets the workers' role, the others the control plane's."
  default = {
    worker        = "airflow-worker"
    api_server    = "airflow-api-server"
    scheduler     = "airflow-scheduler"
    dag_processor = "airflow-dag-processor"
    triggerer     = "airflow-triggerer"
  }

  validation {
    condition     = contains(keys(var.airflow_service_accounts), "worker")
    error_message = "airflow_service_accounts needs a \"worker\" entry."
  }
}

variable "logstash_service_account" {
  type        = string
  description = "Service account of the Logstash StatefulSet (logstash/k8s)."
  default     = "logstash"
}

variable "lake_prefix" {
  type        = string
  description = "Key prefix of the lake in its bucket (conf/aws.yaml lake.root after the bucket)."
  default     = "bronze"
}

variable "redshift_db_user" {
  type        = string
  description = "Redshift user the workers sign in as with IAM (conf/aws.yaml warehouse.redshift_db_user)."
  default     = "shopstream_loader"
}

variable "airflow_connections_prefix" {
  type        = string
  description = "Secrets Manager prefix of Airflow Connections (values.yaml secrets backend_kwargs)."
  default     = "shopstream/airflow/connections"
}

variable "airflow_variables_prefix" {
  type        = string
  description = "Secrets Manager prefix of Airflow Variables (values.yaml secrets backend_kwargs)."
  default     = "shopstream/airflow/variables"
}

variable "airflow_worker_connections" {
  type        = list(string)
  description = "Connections the tasks look up (airflow/dags/shopstream_dags/targets.py AWS_DEFAULTS)."
  default     = ["aws_default", "shopstream_mart", "shopstream_redshift"]
}

variable "airflow_worker_variables" {
  type        = list(string)
  description = "Variables the tasks read (targets.py: shopstream_aws; the target is parse-time env)."
  default     = ["shopstream_aws"]
}

variable "airflow_logs_prefix" {
  type        = string
  description = "Key prefix of remote task logs in the logs bucket (values.yaml remote_base_log_folder)."
  default     = "airflow/logs"
}

variable "airflow_config_prefix" {
  type        = string
  description = "Secrets Manager prefix of the control plane's own secrets (airflow/helm/external-secrets.yaml)."
  default     = "shopstream/airflow/config"
}

variable "airflow_config_secrets" {
  type        = list(string)
  description = "The control plane's secrets under airflow_config_prefix (airflow/helm/external-secrets.yaml)."
  default     = ["api-secret-key", "fernet-key", "jwt-secret", "metadata-connection", "oidc-client"]
}

variable "logstash_namespace" {
  type        = string
  description = "Namespace of Logstash."
  default     = "logstash"
}
