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
  description = "Namespace of Airflow (its service accounts airflow-* get the Airflow IRSA role)."
  default     = "airflow"
}

variable "logstash_namespace" {
  type        = string
  description = "Namespace of Logstash."
  default     = "logstash"
}
