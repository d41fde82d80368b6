output "endpoint" {
  description = "host:port of the cluster."
  value       = aws_redshift_cluster.this.endpoint
}

output "address" {
  description = "DNS name of the cluster."
  value       = aws_redshift_cluster.this.dns_name
}

output "database_name" {
  description = "Warehouse database."
  value       = aws_redshift_cluster.this.database_name
}

output "master_password_secret_arn" {
  description = "Secrets Manager secret holding the admin credentials."
  value       = aws_redshift_cluster.this.master_password_secret_arn
}

output "copy_role_arn" {
  description = "IAM role for COPY (IAM_ROLE default works too)."
  value       = aws_iam_role.copy.arn
}

output "security_group_id" {
  description = "Security group of the cluster."
  value       = aws_security_group.this.id
}

output "cluster_identifier" {
  description = "Cluster identifier (for IAM authentication: GetClusterCredentials)."
  value       = aws_redshift_cluster.this.cluster_identifier
}
