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

variable "noncurrent_state_days" {
  type        = number
  description = "Days an overwritten state version is kept."
  default     = 90
}
