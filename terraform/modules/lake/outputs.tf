output "bucket_names" {
  description = "Bucket names by purpose: lake, export, archive, artifacts, logs."
  value       = merge({ for k, b in aws_s3_bucket.data : k => b.id }, { logs = aws_s3_bucket.logs.id })
}

output "bucket_arns" {
  description = "Bucket ARNs by purpose: lake, export, archive, artifacts, logs."
  value       = merge({ for k, b in aws_s3_bucket.data : k => b.arn }, { logs = aws_s3_bucket.logs.arn })
}

output "delta_log_table_name" {
  description = "Name of the Delta S3DynamoDBLogStore table."
  value       = aws_dynamodb_table.delta_log.name
}

output "delta_log_table_arn" {
  description = "ARN of the Delta S3DynamoDBLogStore table."
  value       = aws_dynamodb_table.delta_log.arn
}
