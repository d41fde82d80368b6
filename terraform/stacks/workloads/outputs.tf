output "airflow_release" {
  description = "Airflow Helm release."
  value       = module.workloads.airflow_release
}

output "logstash_documents" {
  description = "Logstash manifests applied (file#document)."
  value       = module.workloads.logstash_documents
}
