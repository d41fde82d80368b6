output "endpoint" {
  description = "HTTPS endpoint of the domain (SHOPSTREAM_OPENSEARCH__URL is https://<endpoint>)."
  value       = aws_opensearch_domain.this.endpoint
}

output "dashboards_endpoint" {
  description = "OpenSearch Dashboards endpoint."
  value       = aws_opensearch_domain.this.dashboard_endpoint
}

output "domain_arn" {
  description = "ARN of the domain."
  value       = aws_opensearch_domain.this.arn
}

output "security_group_id" {
  description = "Security group of the domain."
  value       = aws_security_group.this.id
}
