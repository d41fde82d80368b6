output "emr_cluster_id" {
  description = "EMR cluster for Airflow's EmrAddStepsOperator."
  value       = module.emr.cluster_id
}

output "emr_artifacts_s3_prefix" {
  description = "s3:// prefix of the wheel and job entry points."
  value       = module.emr.artifacts_s3_prefix
}

output "emr_security_group_ids" {
  description = "Security groups of the EMR nodes."
  value       = [module.emr.primary_security_group_id, module.emr.core_security_group_id]
}

output "connector_arns" {
  description = "MSK Connect connectors by name."
  value       = module.msk_connect.connector_arns
}

output "alerts_topic_arn" {
  description = "SNS topic of all alarms."
  value       = module.monitoring.alerts_topic_arn
}

output "source_topics" {
  description = "Event topics."
  value       = var.source_topics
}

output "logstash_consumer_group" {
  description = "Consumer group Logstash must use (its lag is alarmed)."
  value       = var.logstash_consumer_group
}
