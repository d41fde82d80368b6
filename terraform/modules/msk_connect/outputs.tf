output "connector_arns" {
  description = "Connector name => ARN."
  value       = { for k, c in aws_mskconnect_connector.this : k => c.arn }
}

output "consumer_groups" {
  description = "Consumer groups of the connectors (Kafka Connect uses connect-<name>), for lag alarms."
  value       = [for k in keys(var.connectors) : "connect-${k}"]
}

output "custom_plugin_arn" {
  description = "ARN of the custom plugin."
  value       = aws_mskconnect_custom_plugin.this.arn
}

output "role_arn" {
  description = "Service execution role of the connectors."
  value       = aws_iam_role.this.arn
}
