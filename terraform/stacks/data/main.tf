data "terraform_remote_state" "network" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "${var.state_key_prefix}network/terraform.tfstate"
    region = var.region
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  network    = data.terraform_remote_state.network.outputs
  subnet_ids = local.network.private_subnet_ids
  # Which components' client security groups each store admits: the components whose code uses
  # it (tests/terraform/test_least_privilege.py derives the same table from the code).
  clients = local.network.client_security_group_ids
  store_clients = {
    msk        = ["emr", "airflow-workers", "logstash", "msk-connect"]
    redshift   = ["airflow-workers"]
    rds        = ["airflow-workers", "emr"]
    opensearch = ["airflow-workers", "logstash"]
  }
  # IAM principals of this account only; fine-grained access control maps them to OpenSearch roles.
  account_principal = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
}

module "data_key" {
  source      = "../../modules/kms"
  name        = "${var.name}-data"
  description = "Data at rest of ${var.name}: lake, MSK, warehouse, mart, search, logs"
  tags        = var.tags
}

module "lake" {
  source                  = "../../modules/lake"
  name                    = var.name
  kms_key_arn             = module.data_key.key_arn
  delta_log_table_name    = "${var.name}-delta-log"
  export_expiration_days  = var.export_expiration_days
  archive_transition_days = var.archive_transition_days
  force_destroy           = false
  tags                    = var.tags
}

module "msk" {
  source                    = "../../modules/msk"
  name                      = var.name
  vpc_id                    = local.network.vpc_id
  subnet_ids                = local.subnet_ids
  client_security_group_ids = [for c in local.store_clients.msk : local.clients[c]]
  kafka_version             = var.kafka_version
  broker_count              = var.msk_broker_count
  broker_instance_type      = var.msk_broker_instance_type
  broker_volume_size_gb     = var.msk_broker_volume_size_gb
  kms_key_arn               = module.data_key.key_arn
  logs_bucket               = module.lake.bucket_names["logs"]
  tags                      = var.tags
}

module "redshift" {
  source                    = "../../modules/redshift"
  name                      = var.name
  vpc_id                    = local.network.vpc_id
  subnet_ids                = local.subnet_ids
  client_security_group_ids = [for c in local.store_clients.redshift : local.clients[c]]
  node_type                 = var.redshift_node_type
  node_count                = var.redshift_node_count
  export_bucket_arn         = module.lake.bucket_arns["export"]
  logs_bucket               = module.lake.bucket_names["logs"]
  kms_key_arn               = module.data_key.key_arn
  tags                      = var.tags
}

module "rds" {
  source                    = "../../modules/rds"
  name                      = "${var.name}-mart"
  vpc_id                    = local.network.vpc_id
  subnet_ids                = local.subnet_ids
  client_security_group_ids = [for c in local.store_clients.rds : local.clients[c]]
  instance_class            = var.rds_instance_class
  multi_az                  = var.rds_multi_az
  kms_key_arn               = module.data_key.key_arn
  tags                      = var.tags
}

module "opensearch" {
  source                    = "../../modules/opensearch"
  name                      = var.name
  vpc_id                    = local.network.vpc_id
  subnet_ids                = local.subnet_ids
  client_security_group_ids = [for c in local.store_clients.opensearch : local.clients[c]]
  instance_type             = var.opensearch_instance_type
  instance_count            = var.opensearch_instance_count
  dedicated_master_enabled  = var.opensearch_dedicated_master_enabled
  master_user_arn           = var.opensearch_master_user_arn
  access_principal_arns     = [local.account_principal]
  kms_key_arn               = module.data_key.key_arn
  tags                      = var.tags
}
