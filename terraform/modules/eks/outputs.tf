output "cluster_name" {
  description = "Name of the cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "Private API endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_ca_data" {
  description = "Base64 certificate authority data of the API."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "oidc_provider_arn" {
  description = "ARN of the IRSA OIDC provider."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "irsa_role_arns" {
  description = "IRSA role name => ARN (annotate service accounts with eks.amazonaws.com/role-arn)."
  value       = { for k, r in aws_iam_role.irsa : k => r.arn }
}

output "node_security_group_id" {
  description = "Cluster security group EKS attaches to managed nodes (allow it on MSK, OpenSearch, Redshift, RDS)."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}
