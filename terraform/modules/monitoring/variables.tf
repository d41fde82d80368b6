variable "name" {
  type        = string
  description = "Name prefix of the topic, rule and alarms."
}

variable "msk_cluster_name" {
  type        = string
  description = "MSK cluster name (the 'Cluster Name' dimension)."
}

variable "consumer_group_topics" {
  type        = map(list(string))
  description = "Consumer group => topics whose lag is alarmed (e.g. logstash and connect-<connector> groups)."
  default     = {}
}

variable "max_offset_lag_threshold" {
  type        = number
  description = "Alarm when the largest partition lag of a group on a topic exceeds this many messages."
  default     = 10000
}

variable "sum_offset_lag_threshold" {
  type        = number
  description = "Alarm when the total lag of a group on a topic exceeds this many messages."
  default     = 50000
}

variable "emr_cluster_id" {
  type        = string
  description = "EMR cluster whose failed steps and failed YARN applications raise alarms."
}

variable "alert_emails" {
  type        = list(string)
  description = "E-mail addresses subscribed to the alert topic (each must confirm)."
  default     = []
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource."
  default     = {}
}
