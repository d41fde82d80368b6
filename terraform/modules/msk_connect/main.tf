data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  plugin_key = "${var.plugin_s3_prefix}${basename(var.plugin_zip_path)}"
}

# The connector plugin (the project's own S3 sink, connect/, with its dependencies) is built by
# Maven and zipped on the machine that runs terraform apply, from the same directory the local
# Connect worker loads: no manual download. It is rebuilt whenever its sources change
# (plugin_source_hash).
resource "terraform_data" "plugin_build" {
  triggers_replace = [var.plugin_source_hash, var.plugin_build_command]

  provisioner "local-exec" {
    command     = var.plugin_build_command
    working_dir = var.plugin_build_working_dir
  }
}

resource "aws_s3_object" "plugin" {
  bucket      = var.artifacts_bucket
  key         = local.plugin_key
  source      = var.plugin_zip_path
  source_hash = var.plugin_source_hash
  tags        = var.tags

  depends_on = [terraform_data.plugin_build]
}

resource "aws_mskconnect_custom_plugin" "this" {
  name         = "${var.name}-${substr(var.plugin_source_hash, 0, 8)}"
  description  = "shopstream archive S3 sink (connect/), built by Maven"
  content_type = "ZIP"

  location {
    s3 {
      bucket_arn     = "arn:${data.aws_partition.current.partition}:s3:::${var.artifacts_bucket}"
      file_key       = aws_s3_object.plugin.key
      object_version = aws_s3_object.plugin.version_id
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["kafkaconnect.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# Least privilege: read the archived topics, run the connect-<connector> consumer groups, use MSK
# Connect's own internal topics, write the dead-letter topics, and write (never read or delete)
# objects under the archived topics' prefixes of the archive bucket
# (tests/terraform/test_least_privilege.py derives all of it from conf/connect/*.json).
data "aws_iam_policy_document" "connector" {
  statement {
    sid       = "ConnectToCluster"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
    resources = [var.msk_cluster_arn]
  }

  statement {
    sid       = "ReadArchivedTopics"
    actions   = ["kafka-cluster:ReadData", "kafka-cluster:DescribeTopic"]
    resources = [for t in var.source_topics : "${var.msk_topic_arn_prefix}${t}"]
  }

  dynamic "statement" {
    for_each = length(var.dlq_topics) > 0 ? [1] : []
    content {
      sid       = "WriteDeadLetterTopics"
      actions   = ["kafka-cluster:WriteData", "kafka-cluster:DescribeTopic"]
      resources = [for t in var.dlq_topics : "${var.msk_topic_arn_prefix}${t}"]
    }
  }

  statement {
    sid = "ConnectInternalTopics"
    actions = [
      "kafka-cluster:CreateTopic",
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:ReadData",
      "kafka-cluster:WriteData",
    ]
    resources = ["${var.msk_topic_arn_prefix}__amazon_msk_connect_*"]
  }

  statement {
    sid       = "ConsumerGroups"
    actions   = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
    resources = [for c in keys(var.connectors) : "${var.msk_group_arn_prefix}connect-${c}"]
  }

  statement {
    sid       = "InternalConsumerGroups"
    actions   = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
    resources = ["${var.msk_group_arn_prefix}__amazon_msk_connect_*"]
  }

  statement {
    sid       = "ListArchiveBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
    resources = [var.archive_bucket_arn]
  }

  # Object keys start with the topic (file.name.template "{{topic}}/dt=.../hh=.../...").
  statement {
    sid       = "WriteArchiveObjects"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = [for t in var.source_topics : "${var.archive_bucket_arn}/${t}/*"]
  }

  statement {
    sid       = "EncryptArchiveObjects"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = "${var.name}-connect-"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "archive-sink"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.connector.json
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/mskconnect/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_mskconnect_worker_configuration" "this" {
  name                    = "${var.name}-${substr(sha256(jsonencode(var.worker_properties)), 0, 8)}"
  description             = "Worker settings of the ${var.name} connectors"
  properties_file_content = join("\n", [for k, v in var.worker_properties : "${k}=${v}"])
  tags                    = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_mskconnect_connector" "this" {
  for_each = var.connectors

  name                       = each.key
  kafkaconnect_version       = var.kafkaconnect_version
  connector_configuration    = each.value
  service_execution_role_arn = aws_iam_role.this.arn

  capacity {
    autoscaling {
      mcu_count        = var.mcu_count
      min_worker_count = var.min_workers
      max_worker_count = var.max_workers
      scale_in_policy {
        cpu_utilization_percentage = 20
      }
      scale_out_policy {
        cpu_utilization_percentage = 80
      }
    }
  }

  kafka_cluster {
    apache_kafka_cluster {
      bootstrap_servers = var.bootstrap_servers
      vpc {
        security_groups = var.security_group_ids
        subnets         = var.subnet_ids
      }
    }
  }

  kafka_cluster_client_authentication {
    authentication_type = "IAM"
  }

  kafka_cluster_encryption_in_transit {
    encryption_type = "TLS"
  }

  plugin {
    custom_plugin {
      arn      = aws_mskconnect_custom_plugin.this.arn
      revision = aws_mskconnect_custom_plugin.this.latest_revision
    }
  }

  worker_configuration {
    arn      = aws_mskconnect_worker_configuration.this.arn
    revision = aws_mskconnect_worker_configuration.this.latest_revision
  }

  log_delivery {
    worker_log_delivery {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.this.name
      }
    }
  }

  tags = merge(var.tags, { Name = each.key })

  depends_on = [aws_iam_role_policy.this]
}
