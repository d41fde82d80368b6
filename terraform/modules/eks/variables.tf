variable "name" {
  type        = string
  description = "Cluster name and name prefix."
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes version of the control plane."
  default     = "1.33"
}

variable "vpc_id" {
  type        = string
  description = "VPC of the cluster."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the control-plane ENIs and the nodes."
}

variable "api_allowed_cidr_blocks" {
  type        = list(string)
  description = "Private CIDR blocks allowed to reach the private API endpoint (where terraform/kubectl run)."
  default     = []

  validation {
    condition     = !contains(var.api_allowed_cidr_blocks, "0.0.0.0/0")
    error_message = "The Kubernetes API must not be reachable from 0.0.0.0/0."
  }
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
  description = "Managed node groups by name."
  default = {
    general = {
      instance_types = ["m7i.large"]
      min_size       = 2
      max_size       = 4
      desired_size   = 2
    }
  }
}

variable "node_volume_size_gb" {
  type        = number
  description = "Root volume of the nodes in GiB."
  default     = 50
}

variable "irsa_roles" {
  type = map(object({
    namespace        = string
    service_accounts = list(string)
    policy_json      = string
  }))
  description = "IAM roles for service accounts: name => namespace, the exact service accounts that may assume it (StringEquals) and its inline policy."
  default     = {}

  validation {
    condition = alltrue([
      for r in values(var.irsa_roles) : length(r.service_accounts) > 0 && alltrue([for sa in r.service_accounts : can(regex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", sa))])
    ])
    error_message = "Each IRSA role names at least one exact service account (no wildcards such as airflow-*)."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the control-plane log group."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource."
  default     = {}
}
