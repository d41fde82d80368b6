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

data "terraform_remote_state" "compute" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "${var.state_key_prefix}compute/terraform.tfstate"
    region = var.region
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  network   = data.terraform_remote_state.network.outputs
  data      = data.terraform_remote_state.data.outputs
  compute   = data.terraform_remote_state.compute.outputs
  partition = data.aws_partition.current.partition
  arn_tail  = "${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"

  # Exactly the resources the code names (tests/terraform/test_least_privilege.py derives them
  # from conf/aws.yaml, conf/contract.yaml, airflow/helm/values.yaml and the DAGs' defaults).
  emr_cluster_arn  = "arn:${local.partition}:elasticmapreduce:${local.arn_tail}:cluster/${local.compute.emr_cluster_id}"
  redshift_cluster = local.data.redshift_cluster_identifier
  secret_arn       = "arn:${local.partition}:secretsmanager:${local.arn_tail}:secret"
  lake_arn         = local.data.bucket_arns["lake"]
  logs_arn         = local.data.bucket_arns["logs"]
}

# ---------------------------------------------------------------------------------------------
# Airflow workers (the KubernetesExecutor's task pods): submit and watch EMR steps on the one
# cluster, read the stream's watermarks (hour-closed), sign in to Redshift as the loader user
# (IAM, no password), read their own connections/variables, write task logs. Reconcile (the
# Kafka, OpenSearch and archive counts) is an EMR step: those grants are the EMR role's. No master secret, no lake write, no export read
# (Redshift COPY reads the export with its own role).
data "aws_iam_policy_document" "airflow_workers" {
  statement {
    sid       = "EmrSteps"
    actions   = ["elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:DescribeCluster", "elasticmapreduce:DescribeStep", "elasticmapreduce:ListSteps"]
    resources = [local.emr_cluster_arn]
  }

  statement {
    sid       = "ListWatermarks"
    actions   = ["s3:ListBucket"]
    resources = [local.lake_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.lake_prefix}/_watermarks/*"]
    }
  }

  statement {
    sid       = "ReadWatermarks"
    actions   = ["s3:GetObject"]
    resources = ["${local.lake_arn}/${var.lake_prefix}/_watermarks/*"]
  }

  statement {
    sid       = "DecryptLake"
    actions   = ["kms:Decrypt"]
    resources = [local.data.kms_key_arn]
  }

  statement {
    sid     = "RedshiftLoaderCredentials"
    actions = ["redshift:GetClusterCredentials"]
    resources = [
      "arn:${local.partition}:redshift:${local.arn_tail}:dbuser:${local.redshift_cluster}/${var.redshift_db_user}",
      "arn:${local.partition}:redshift:${local.arn_tail}:dbname:${local.redshift_cluster}/${local.data.redshift_database}",
    ]
  }

  # Their own Connections and Variables only (the 6 characters: Secrets Manager's ARN suffix).
  statement {
    sid       = "OwnConnections"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for c in var.airflow_worker_connections : "${local.secret_arn}:${var.airflow_connections_prefix}/${c}-??????"]
  }

  statement {
    sid       = "OwnVariables"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for v in var.airflow_worker_variables : "${local.secret_arn}:${var.airflow_variables_prefix}/${v}-??????"]
  }

  statement {
    sid       = "WriteTaskLogs"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.logs_arn}/${var.airflow_logs_prefix}/*"]
  }
}

# The Airflow control plane (API server, scheduler, DAG processor, triggerer): task logs, and its
# own configuration secrets (metadata DB, fernet, API and JWT keys, OIDC client), which the
# External Secrets SecretStore reads with the API server's service account. No EMR, no data.
data "aws_iam_policy_document" "airflow_control_plane" {
  statement {
    sid       = "ListTaskLogs"
    actions   = ["s3:ListBucket"]
    resources = [local.logs_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.airflow_logs_prefix}/*"]
    }
  }

  statement {
    sid       = "ReadWriteTaskLogs"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.logs_arn}/${var.airflow_logs_prefix}/*"]
  }

  statement {
    sid       = "OwnConfigurationSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for s in var.airflow_config_secrets : "${local.secret_arn}:${var.airflow_config_prefix}/${s}-??????"]
  }
}

# Logstash: read its two topics as its consumer group, write to the OpenSearch domain.
data "aws_iam_policy_document" "logstash" {
  statement {
    sid       = "MskConnect"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
    resources = [local.data.msk_cluster_arn]
  }

  statement {
    sid       = "MskReadTopics"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
    resources = [for t in var.source_topics : "${local.data.msk_topic_arn_prefix}${t}"]
  }

  statement {
    sid       = "MskConsumerGroup"
    actions   = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
    resources = ["${local.data.msk_group_arn_prefix}${var.logstash_consumer_group}"]
  }

  statement {
    sid       = "OpenSearchWrite"
    actions   = ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut"]
    resources = ["${local.data.opensearch_domain_arn}/*"]
  }
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
    airflow-workers = {
      namespace        = var.airflow_namespace
      service_accounts = [var.airflow_service_accounts.worker]
      policy_json      = data.aws_iam_policy_document.airflow_workers.json
    }
    airflow-control-plane = {
      namespace        = var.airflow_namespace
      service_accounts = [for k, sa in var.airflow_service_accounts : sa if k != "worker"]
      policy_json      = data.aws_iam_policy_document.airflow_control_plane.json
    }
    logstash = {
      namespace        = var.logstash_namespace
      service_accounts = [var.logstash_service_account]
      policy_json      = data.aws_iam_policy_document.logstash.json
    }
  }
  tags = var.tags
}
