output "kms_key_arn" {
  description = "Data key (lake, MSK, warehouse, mart, search)."
  value       = module.data_key.key_arn
}

output "bucket_names" {
  description = "Bucket names: lake, export, archive, artifacts, logs."
  value       = module.lake.bucket_names
}

output "bucket_arns" {
  description = "Bucket ARNs: lake, export, archive, artifacts, logs."
  value       = module.lake.bucket_arns
}

output "delta_log_table_name" {
  description = "DynamoDB table of the Delta S3DynamoDBLogStore."
  value       = module.lake.delta_log_table_name
}

output "delta_log_table_arn" {
  description = "ARN of that table."
  value       = module.lake.delta_log_table_arn
}

output "msk_cluster_arn" {
  description = "ARN of the MSK cluster."
  value       = module.msk.cluster_arn
}

output "msk_cluster_name" {
  description = "Name of the MSK cluster."
  value       = module.msk.cluster_name
}

output "msk_bootstrap_brokers" {
  description = "IAM/TLS bootstrap servers (SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS)."
  value       = module.msk.bootstrap_brokers_sasl_iam
}

output "msk_security_group_id" {
  description = "Security group of the brokers."
  value       = module.msk.security_group_id
}

output "msk_topic_arn_prefix" {
  description = "Topic ARN prefix for kafka-cluster IAM policies."
  value       = module.msk.topic_arn_prefix
}

output "msk_group_arn_prefix" {
  description = "Consumer-group ARN prefix for kafka-cluster IAM policies."
  value       = module.msk.group_arn_prefix
}

output "redshift_address" {
  description = "Redshift host."
  value       = module.redshift.address
}

output "redshift_cluster_identifier" {
  description = "Redshift cluster identifier (the batch loader authenticates with IAM)."
  value       = module.redshift.cluster_identifier
}

output "redshift_database" {
  description = "Warehouse database."
  value       = module.redshift.database_name
}

output "redshift_secret_arn" {
  description = "Secrets Manager secret of the Redshift admin."
  value       = module.redshift.master_password_secret_arn
}

output "redshift_copy_role_arn" {
  description = "IAM role for COPY from the export bucket."
  value       = module.redshift.copy_role_arn
}

output "rds_address" {
  description = "PostgreSQL mart host."
  value       = module.rds.address
}

output "rds_database" {
  description = "Mart database."
  value       = module.rds.database_name
}

output "rds_secret_arn" {
  description = "Secrets Manager secret of the mart admin."
  value       = module.rds.master_user_secret_arn
}

output "opensearch_endpoint" {
  description = "OpenSearch HTTPS endpoint (SHOPSTREAM_OPENSEARCH__URL = https://<this>)."
  value       = module.opensearch.endpoint
}

output "opensearch_domain_arn" {
  description = "ARN of the OpenSearch domain."
  value       = module.opensearch.domain_arn
}

output "opensearch_dashboards_endpoint" {
  description = "OpenSearch Dashboards endpoint."
  value       = module.opensearch.dashboards_endpoint
}
