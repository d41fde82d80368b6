output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Private API endpoint."
  value       = module.eks.cluster_endpoint
}

output "cluster_ca_data" {
  description = "Certificate authority data of the API."
  value       = module.eks.cluster_ca_data
}

output "oidc_provider_arn" {
  description = "IRSA OIDC provider."
  value       = module.eks.oidc_provider_arn
}

output "airflow_worker_role_arn" {
  description = "IRSA role of the Airflow workers (task pods)."
  value       = module.eks.irsa_role_arns["airflow-workers"]
}

output "airflow_control_plane_role_arn" {
  description = "IRSA role of the Airflow control plane (API server, scheduler, DAG processor, triggerer)."
  value       = module.eks.irsa_role_arns["airflow-control-plane"]
}

output "airflow_service_accounts" {
  description = "Service account per Airflow component (the IRSA trust names exactly these)."
  value       = var.airflow_service_accounts
}

output "logstash_role_arn" {
  description = "IRSA role of Logstash."
  value       = module.eks.irsa_role_arns["logstash"]
}

output "airflow_namespace" {
  description = "Namespace of Airflow."
  value       = var.airflow_namespace
}

output "logstash_namespace" {
  description = "Namespace of Logstash."
  value       = var.logstash_namespace
}

output "node_security_group_id" {
  description = "Security group of the nodes."
  value       = module.eks.node_security_group_id
}
