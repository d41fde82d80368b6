# Remote-state home of every other stack: a versioned, KMS-encrypted, TLS-only S3 bucket and a
# DynamoDB lock table. This stack itself keeps local state (see README.md).
data "aws_caller_identity" "current" {}

locals {
  state_bucket = "${var.name}-tfstate-${data.aws_caller_identity.current.account_id}-${var.region}"
}

module "state_key" {
  source      = "../../modules/kms"
  name        = "${var.name}-tfstate"
  description = "Terraform state of ${var.name}"
  tags        = var.tags
}

resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_18:State access is audited through CloudTrail data events; an access-log bucket for it would need its own state.
  #checkov:skip=CKV_AWS_144:State is versioned; cross-region replication is a DR choice left to the deployer.
  #checkov:skip=CKV2_AWS_62:Nothing consumes event notifications of state objects.
  bucket = local.state_bucket
  tags   = merge(var.tags, { Name = local.state_bucket })

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = module.state_key.key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    id     = "old-state-versions"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_state_days
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.state]
}

resource "aws_dynamodb_table" "lock" {
  name                        = "${var.name}-tfstate-lock"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "LockID"
  deletion_protection_enabled = true

  attribute {
    name = "LockID"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = module.state_key.key_arn
  }

  tags = merge(var.tags, { Name = "${var.name}-tfstate-lock" })
}
