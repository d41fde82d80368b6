output "state_bucket" {
  description = "Bucket for every other stack's backend.hcl and the state_bucket variable."
  value       = aws_s3_bucket.state.id
}

output "lock_table" {
  description = "DynamoDB lock table for backend.hcl (dynamodb_table)."
  value       = aws_dynamodb_table.lock.name
}

output "state_kms_key_alias" {
  description = "KMS key alias for backend.hcl (kms_key_id)."
  value       = module.state_key.alias_name
}
