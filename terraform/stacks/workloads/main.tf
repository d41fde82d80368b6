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

data "terraform_remote_state" "platform" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "${var.state_key_prefix}platform/terraform.tfstate"
    region = var.region
  }
}

locals {
  network   = data.terraform_remote_state.network.outputs
  data      = data.terraform_remote_state.data.outputs
  compute   = data.terraform_remote_state.compute.outputs
  platform  = data.terraform_remote_state.platform.outputs
  repo_root = abspath("${path.root}/${var.repo_root}")
}

module "workloads" {
  source                          = "../../modules/eks_workloads"
  airflow_namespace               = local.platform.airflow_namespace
  airflow_chart_version           = var.airflow_chart_version
  airflow_values_file             = "${local.repo_root}/${var.airflow_values_file}"
  airflow_worker_role_arn         = local.platform.airflow_worker_role_arn
  airflow_control_plane_role_arn  = local.platform.airflow_control_plane_role_arn
  airflow_service_accounts        = local.platform.airflow_service_accounts
  airflow_external_secrets_file   = "${local.repo_root}/${var.airflow_external_secrets_file}"
  client_security_group_ids       = local.network.client_security_group_ids
  cluster_security_group_id       = local.platform.node_security_group_id
  logstash_namespace              = local.platform.logstash_namespace
  logstash_manifests_dir          = "${local.repo_root}/${var.logstash_manifests_dir}"
  logstash_role_arn               = local.platform.logstash_role_arn
  create_logstash_service_account = var.create_logstash_service_account
  # Environment of every shopstream pod: keys are shopstream configuration keys
  # (SHOPSTREAM_<SECTION>__<KEY>, conf/aws.yaml); tests/test_deploy_config.py loads them.
  # Credentials are not here: Airflow Connections (warehouse: IAM auth; mart) and IRSA.
  endpoints = {
    SHOPSTREAM_PROFILE                        = "aws"
    SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS       = local.data.msk_bootstrap_brokers
    SHOPSTREAM_KAFKA__CONSUMER_GROUP          = local.compute.logstash_consumer_group
    SHOPSTREAM_OPENSEARCH__URL                = "https://${local.data.opensearch_endpoint}"
    SHOPSTREAM_POSTGRES__HOST                 = local.data.rds_address
    SHOPSTREAM_WAREHOUSE__REDSHIFT_HOST       = local.data.redshift_address
    SHOPSTREAM_WAREHOUSE__REDSHIFT_DATABASE   = local.data.redshift_database
    SHOPSTREAM_WAREHOUSE__REDSHIFT_CLUSTER_ID = local.data.redshift_cluster_identifier
    SHOPSTREAM_WAREHOUSE__COPY_IAM_ROLE_ARN   = local.data.redshift_copy_role_arn
    SHOPSTREAM_S3__LAKE_BUCKET                = local.data.bucket_names["lake"]
    SHOPSTREAM_S3__EXPORT_BUCKET              = local.data.bucket_names["export"]
    SHOPSTREAM_S3__ARCHIVE_BUCKET             = local.data.bucket_names["archive"]
    SHOPSTREAM_S3__REGION                     = var.region
    SHOPSTREAM_EMR__CLUSTER_ID                = local.compute.emr_cluster_id
    SHOPSTREAM_EMR__ARTIFACTS                 = local.compute.emr_artifacts_s3_prefix
  }
}
