output "cluster_arn" {
  description = "ARN of the MSK cluster."
  value       = aws_msk_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the MSK cluster (the 'Cluster Name' CloudWatch dimension)."
  value       = aws_msk_cluster.this.cluster_name
}

output "bootstrap_brokers_sasl_iam" {
  description = "Bootstrap servers for IAM auth over TLS (port 9098)."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_iam
}

output "security_group_id" {
  description = "Security group of the brokers."
  value       = aws_security_group.this.id
}

output "topic_arn_prefix" {
  description = "Prefix of topic ARNs for kafka-cluster IAM policies (append the topic name or *)."
  value       = "${replace(aws_msk_cluster.this.arn, ":cluster/", ":topic/")}/"
}

output "group_arn_prefix" {
  description = "Prefix of consumer-group ARNs for kafka-cluster IAM policies (append the group name or *)."
  value       = "${replace(aws_msk_cluster.this.arn, ":cluster/", ":group/")}/"
}
