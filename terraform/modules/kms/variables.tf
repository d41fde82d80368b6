variable "name" {
  type        = string
  description = "Alias name of the key (without the alias/ prefix)."
}

variable "description" {
  type        = string
  description = "What the key encrypts."
}

variable "allow_cloudwatch_logs" {
  type        = bool
  description = "Allow CloudWatch Logs of this account and region to use the key for log groups."
  default     = true
}

variable "service_principals" {
  type        = list(string)
  description = "Extra AWS service principals (same account only) allowed to encrypt with the key, e.g. sns.amazonaws.com."
  default     = []
}

variable "deletion_window_in_days" {
  type        = number
  description = "Waiting period before the key is deleted."
  default     = 30
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource."
  default     = {}
}
