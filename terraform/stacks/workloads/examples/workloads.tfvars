region       = "ap-northeast-2"
name         = "shopstream"
state_bucket = "shopstream-tfstate-123456789012-ap-northeast-2"

airflow_chart_version  = "1.18.0"
airflow_values_file    = "airflow/helm/values.yaml"
logstash_manifests_dir = "logstash/k8s"

tags = {
  Project     = "shopstream"
  Environment = "prod"
  ManagedBy   = "terraform"
}
