output "airflow_release" {
  description = "Name, namespace and chart version of the Airflow release."
  value = {
    name      = helm_release.airflow.name
    namespace = helm_release.airflow.namespace
    version   = helm_release.airflow.version
  }
}

output "logstash_documents" {
  description = "Keys (file#index) of the Logstash manifests applied."
  value       = keys(local.logstash_documents)
}
