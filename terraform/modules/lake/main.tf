data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  suffix = "${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
  # Data buckets, all SSE-KMS with the data key. The logs bucket is separate (see below).
  data_buckets = {
    lake = {
      purpose          = "Delta bronze tables, quarantine and checkpoints"
      expire_days      = 0
      transition_days  = 0
      noncurrent_days  = var.noncurrent_version_days
      transition_class = "STANDARD_IA"
    }
    export = {
      purpose          = "hourly export files + manifests for Redshift COPY"
      expire_days      = var.export_expiration_days
      transition_days  = 0
      noncurrent_days  = 7
      transition_class = "STANDARD_IA"
    }
    archive = {
      purpose          = "raw JSON archive written by the Kafka Connect S3 sink"
      expire_days      = var.archive_expiration_days
      transition_days  = var.archive_transition_days
      noncurrent_days  = var.noncurrent_version_days
      transition_class = "GLACIER_IR"
    }
    artifacts = {
      purpose          = "deployment artifacts: project wheel, Spark entry points, bootstrap, connector plugin"
      expire_days      = 0
      transition_days  = 0
      noncurrent_days  = var.noncurrent_version_days
      transition_class = "STANDARD_IA"
    }
  }
}

resource "aws_s3_bucket" "data" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a DR choice left to the deployer (cost x2); versioning + lifecycle are on.
  #checkov:skip=CKV2_AWS_62:No consumer of S3 event notifications; readers are driven by Airflow and Delta logs.
  for_each      = local.data_buckets
  bucket        = "${var.name}-${each.key}-${local.suffix}"
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Name = "${var.name}-${each.key}", Purpose = each.value.purpose })
}

resource "aws_s3_bucket_ownership_controls" "data" {
  for_each = local.data_buckets
  bucket   = aws_s3_bucket.data[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "data" {
  for_each                = local.data_buckets
  bucket                  = aws_s3_bucket.data[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "data" {
  for_each = local.data_buckets
  bucket   = aws_s3_bucket.data[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  for_each = local.data_buckets
  bucket   = aws_s3_bucket.data[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "data" {
  for_each      = local.data_buckets
  bucket        = aws_s3_bucket.data[each.key].id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3-access/${each.key}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "data" {
  for_each = local.data_buckets
  bucket   = aws_s3_bucket.data[each.key].id

  rule {
    id     = "abort-incomplete-uploads-and-old-versions"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = each.value.noncurrent_days
    }
  }

  dynamic "rule" {
    for_each = each.value.transition_days > 0 ? [1] : []
    content {
      id     = "transition"
      status = "Enabled"
      filter {}
      transition {
        days          = each.value.transition_days
        storage_class = each.value.transition_class
      }
    }
  }

  dynamic "rule" {
    for_each = each.value.expire_days > 0 ? [1] : []
    content {
      id     = "expire"
      status = "Enabled"
      filter {}
      expiration {
        days = each.value.expire_days
      }
    }
  }
}

# TLS-only: deny every request that does not arrive over TLS (custom policy CKV2_SHOP_1).
resource "aws_s3_bucket_policy" "data" {
  for_each = local.data_buckets
  bucket   = aws_s3_bucket.data[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.data[each.key].arn, "${aws_s3_bucket.data[each.key].arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.data]
}

# ---------------------------------------------------------------------------------------------
# Logs bucket: S3 server access logs, MSK broker logs, Redshift audit logs, EMR logs.
# S3 server access logging and Redshift audit logging can only deliver to buckets encrypted with
# SSE-S3, so this one bucket uses AES256 instead of the KMS key.
resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_145:S3 access-log and Redshift audit-log delivery require SSE-S3 (AES256) on the target bucket.
  #checkov:skip=CKV_AWS_18:This is the access-log target bucket itself; logging it to itself would loop.
  #checkov:skip=CKV_AWS_144:Logs are not replicated cross-region (cost); versioning + lifecycle are on.
  #checkov:skip=CKV2_AWS_62:No consumer of S3 event notifications for log files.
  bucket        = "${var.name}-logs-${local.suffix}"
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Name = "${var.name}-logs", Purpose = "service and access logs" })
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire-logs"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    expiration {
      days = var.log_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  logs_arn   = aws_s3_bucket.logs.arn
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.logs_arn, "${local.logs_arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "S3ServerAccessLogs"
        Effect    = "Allow"
        Principal = { Service = "logging.s3.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${local.logs_arn}/s3-access/*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
      {
        Sid       = "ServiceLogDelivery"
        Effect    = "Allow"
        Principal = { Service = ["delivery.logs.amazonaws.com", "redshift.amazonaws.com"] }
        Action    = ["s3:PutObject", "s3:GetBucketAcl"]
        Resource  = [local.logs_arn, "${local.logs_arn}/*"]
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })
  depends_on = [aws_s3_bucket_public_access_block.logs]
}

# ---------------------------------------------------------------------------------------------
# Delta Lake S3DynamoDBLogStore table (delta-storage-s3-dynamodb): the commit log that lets the
# streaming job and the compaction job write the same tables concurrently on S3.
resource "aws_dynamodb_table" "delta_log" {
  name                        = var.delta_log_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "tablePath"
  range_key                   = "fileName"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "tablePath"
    type = "S"
  }

  attribute {
    name = "fileName"
    type = "S"
  }

  # Delta sets expireTime on committed entries; DynamoDB TTL removes them once they are safe.
  ttl {
    attribute_name = "expireTime"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = merge(var.tags, { Name = var.delta_log_table_name })
}
