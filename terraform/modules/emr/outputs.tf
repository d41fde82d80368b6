output "cluster_id" {
  description = "ID of the EMR cluster (for Airflow's EmrAddStepsOperator and alarms)."
  value       = aws_emr_cluster.this.id
}

output "cluster_name" {
  description = "Name of the EMR cluster."
  value       = aws_emr_cluster.this.name
}

output "instance_role_arn" {
  description = "Role of the cluster's EC2 instances."
  value       = aws_iam_role.instance.arn
}

output "service_role_arn" {
  description = "EMR service role."
  value       = aws_iam_role.service.arn
}

output "core_security_group_id" {
  description = "Security group of core nodes (allow it on MSK)."
  value       = aws_security_group.core.id
}

output "primary_security_group_id" {
  description = "Security group of the primary node (allow it on MSK)."
  value       = aws_security_group.primary.id
}

output "artifacts_s3_prefix" {
  description = "s3:// prefix of the cluster's artifacts (wheel, jobs)."
  value       = "s3://${var.artifacts_bucket}/${local.prefix}/"
}
