resource "aws_security_group" "this" {
  name_prefix = "${var.name}-redshift-"
  description = "Redshift ${var.name}: 5439 from listed private clients only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-redshift" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "clients_sg" {
  for_each                     = toset(var.client_security_group_ids)
  security_group_id            = aws_security_group.this.id
  description                  = "Redshift from client security group"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 5439
  to_port                      = 5439
  tags                         = var.tags
}


resource "aws_redshift_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_redshift_parameter_group" "this" {
  name   = "${var.name}-tls"
  family = "redshift-2.0"

  parameter {
    name  = "require_ssl"
    value = "true"
  }

  parameter {
    name  = "enable_user_activity_logging"
    value = "true"
  }

  tags = var.tags
}

# COPY role: read-only on the export bucket (files + manifests), decrypt with the data key.
data "aws_iam_policy_document" "copy_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["redshift.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "copy" {
  statement {
    sid       = "ListExportBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.export_bucket_arn]
  }

  statement {
    sid       = "ReadExports"
    actions   = ["s3:GetObject"]
    resources = ["${var.export_bucket_arn}/${var.export_prefix}/*"]
  }

  statement {
    sid       = "DecryptExports"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role" "copy" {
  name_prefix        = "${var.name}-copy-"
  assume_role_policy = data.aws_iam_policy_document.copy_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "copy" {
  name   = "copy-from-export-bucket"
  role   = aws_iam_role.copy.id
  policy = data.aws_iam_policy_document.copy.json
}

resource "aws_redshift_cluster" "this" {
  #checkov:skip=CKV_AWS_71:Audit logging is enabled by the separate aws_redshift_logging resource below (the inline logging block is deprecated).
  cluster_identifier                  = var.name
  database_name                       = var.database_name
  master_username                     = var.master_username
  manage_master_password              = true
  master_password_secret_kms_key_id   = var.kms_key_arn
  node_type                           = var.node_type
  cluster_type                        = var.node_count > 1 ? "multi-node" : "single-node"
  number_of_nodes                     = var.node_count
  cluster_subnet_group_name           = aws_redshift_subnet_group.this.name
  cluster_parameter_group_name        = aws_redshift_parameter_group.this.name
  vpc_security_group_ids              = [aws_security_group.this.id]
  publicly_accessible                 = false
  encrypted                           = true
  kms_key_id                          = var.kms_key_arn
  enhanced_vpc_routing                = true
  allow_version_upgrade               = true
  automated_snapshot_retention_period = var.snapshot_retention_days
  iam_roles                           = [aws_iam_role.copy.arn]
  default_iam_role_arn                = aws_iam_role.copy.arn
  skip_final_snapshot                 = false
  final_snapshot_identifier           = "${var.name}-final"
  tags                                = merge(var.tags, { Name = var.name })
}

resource "aws_redshift_logging" "this" {
  cluster_identifier   = aws_redshift_cluster.this.id
  log_destination_type = "s3"
  bucket_name          = var.logs_bucket
  s3_key_prefix        = "redshift/${var.name}/"
}
