data "terraform_remote_state" "network" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "${var.state_key_prefix}network/terraform.tfstate"
    region = var.region
  }
}

data "terraform_remote_state" "data" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "${var.state_key_prefix}data/terraform.tfstate"
    region = var.region
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  network   = data.terraform_remote_state.network.outputs
  data      = data.terraform_remote_state.data.outputs
  partition = data.aws_partition.current.partition
  # The EMR cluster is created after this stack can be planned; steps are scoped to this
  # account's clusters tagged for shopstream instead of one cluster ID.
  emr_clusters = "arn:${local.partition}:elasticmapreduce:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:cluster/*"

  logstash_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "MskConnect"
        Effect   = "Allow"
        Action   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
        Resource = local.data.msk_cluster_arn
      },
      {
        Sid      = "MskReadTopics"
        Effect   = "Allow"
        Action   = ["kafka-cluster:ReadData", "kafka-cluster:DescribeTopic"]
        Resource = [for t in var.source_topics : "${local.data.msk_topic_arn_prefix}${t}"]
      },
      {
        Sid      = "MskConsumerGroup"
        Effect   = "Allow"
        Action   = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
        Resource = "${local.data.msk_group_arn_prefix}${var.logstash_consumer_group}"
      },
      {
        Sid      = "OpenSearchWrite"
        Effect   = "Allow"
        Action   = ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut"]
        Resource = "${local.data.opensearch_domain_arn}/*"
      },
    ]
  })

  airflow_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "EmrSteps"
        Effect   = "Allow"
        Action   = ["elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:DescribeStep", "elasticmapreduce:ListSteps", "elasticmapreduce:CancelSteps", "elasticmapreduce:DescribeCluster"]
        Resource = local.emr_clusters
        Condition = {
          StringEquals = { "aws:ResourceTag/Project" = lookup(var.tags, "Project", var.name) }
        }
      },
      {
        Sid      = "DatabaseSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = [local.data.redshift_secret_arn, local.data.rds_secret_arn]
      },
      {
        Sid      = "ReadExportManifests"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:ListBucket"]
        Resource = [local.data.bucket_arns["export"], "${local.data.bucket_arns["export"]}/*"]
      },
      {
        Sid      = "DecryptDataKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:DescribeKey"]
        Resource = local.data.kms_key_arn
      },
    ]
  })
}

module "eks" {
  source                  = "../../modules/eks"
  name                    = var.name
  kubernetes_version      = var.kubernetes_version
  vpc_id                  = local.network.vpc_id
  subnet_ids              = local.network.private_subnet_ids
  api_allowed_cidr_blocks = var.api_allowed_cidr_blocks
  node_groups             = var.node_groups
  irsa_roles = {
    airflow = {
      namespace       = var.airflow_namespace
      service_account = "airflow-*"
      policy_json     = local.airflow_policy
    }
    logstash = {
      namespace       = var.logstash_namespace
      service_account = "logstash"
      policy_json     = local.logstash_policy
    }
  }
  tags = var.tags
}
