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

locals {
  network   = data.terraform_remote_state.network.outputs
  data      = data.terraform_remote_state.data.outputs
  repo_root = abspath("${path.root}/${var.repo_root}")

  # Connector configuration is rendered, not copied: the same conf/connect/*.json files the local
  # Connect worker uses, minus local.json, plus the AWS-specific keys (conf/connect/README.md).
  connect_dir = "${local.repo_root}/conf/connect"
  # The archive sink judges created_at by the contract's rule: its event-time range comes from
  # conf/contract.yaml itself (the keys its timestamp type defines), as for the local worker.
  contract_timestamp = yamldecode(file("${local.repo_root}/conf/contract.yaml")).logical_types.timestamp
  event_time_properties = merge(
    try({ "event.time.earliest" = tostring(local.contract_timestamp.earliest) }, {}),
    try({ "event.time.max.future.skew.seconds" = tostring(local.contract_timestamp.max_future_skew_seconds) }, {}),
  )
  connector_properties = {
    for c in var.archive_connectors : c => merge(
      jsondecode(file("${local.connect_dir}/sink-common.json")),
      jsondecode(file("${local.connect_dir}/${c}.json")),
      local.event_time_properties,
      {
        "aws.s3.bucket.name"                              = local.data.bucket_names["archive"]
        "aws.s3.region"                                   = var.region
        "errors.deadletterqueue.topic.replication.factor" = "3"
      },
      var.connector_property_overrides,
    )
  }
  # MSK Connect names the connector after the "name" property; Kafka Connect's sink group is connect-<name>.
  connectors     = { for c, props in local.connector_properties : props["name"] => props }
  archive_topics = distinct(flatten([for props in values(local.connectors) : split(",", props["topics"])]))
  dlq_topics     = [for props in values(local.connectors) : props["errors.deadletterqueue.topic.name"] if can(props["errors.deadletterqueue.topic.name"])]

  # The archive sink plugin is the project's own Maven module (connect/): `shopstream jars` builds
  # it into the local worker's plugin directory and zips that very directory (shopstream/connect_plugin.py).
  plugin_sources = sort(concat(["pom.xml"], tolist(fileset("${local.repo_root}/connect", "src/main/**"))))
  plugin_hash    = sha256(join("", [for f in local.plugin_sources : filesha256("${local.repo_root}/connect/${f}")]))
  plugin_zip     = "${local.repo_root}/.shopstream/jars/msk-connect/shopstream-archive-sink.zip"
}

# MSK Connect workers: egress to the brokers and HTTPS (S3 through the gateway endpoint, STS).
resource "aws_security_group" "connect" {
  name_prefix = "${var.name}-connect-"
  description = "MSK Connect workers of ${var.name} (egress only)"
  vpc_id      = local.network.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-connect" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "connect_kafka" {
  security_group_id = aws_security_group.connect.id
  description       = "Kafka IAM over TLS to the brokers"
  cidr_ipv4         = local.network.vpc_cidr
  ip_protocol       = "tcp"
  from_port         = 9098
  to_port           = 9098
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "connect_https" {
  security_group_id = aws_security_group.connect.id
  description       = "HTTPS to S3 (gateway endpoint) and AWS APIs"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  tags              = var.tags
}

module "emr" {
  source                  = "../../modules/emr"
  name                    = var.name
  release_label           = var.emr_release_label
  vpc_id                  = local.network.vpc_id
  subnet_id               = local.network.private_subnet_ids[0]
  core_instance_type      = var.emr_core_instance_type
  core_instance_count     = var.emr_core_instance_count
  artifacts_bucket        = local.data.bucket_names["artifacts"]
  lake_bucket             = local.data.bucket_names["lake"]
  logs_bucket             = local.data.bucket_names["logs"]
  delta_log_table_name    = local.data.delta_log_table_name
  delta_log_table_arn     = local.data.delta_log_table_arn
  kms_key_arn             = local.data.kms_key_arn
  msk_cluster_arn         = local.data.msk_cluster_arn
  msk_topic_arn_prefix    = local.data.msk_topic_arn_prefix
  msk_group_arn_prefix    = local.data.msk_group_arn_prefix
  source_topics           = var.source_topics
  kafka_bootstrap_servers = local.data.msk_bootstrap_brokers
  wheel_path              = "${local.repo_root}/${var.wheel_path}"
  requirements_path       = "${local.repo_root}/dist/emr/requirements.txt"
  jars_dir                = "${local.repo_root}/dist/emr/jars"
  rds_ca_bundle_path      = "${local.repo_root}/dist/emr/certs/rds-global-bundle.pem"
  jobs_dir                = "${local.repo_root}/jobs"
  stream_job_args         = var.stream_job_args
  export_bucket           = local.data.bucket_names["export"]
  archive_bucket          = local.data.bucket_names["archive"]
  postgres_host           = local.data.rds_address
  opensearch_url          = "https://${local.data.opensearch_endpoint}"
  opensearch_domain_arn   = local.data.opensearch_domain_arn
  redshift_host           = local.data.redshift_address
  redshift_cluster_id     = local.data.redshift_cluster_identifier
  redshift_database       = local.data.redshift_database
  redshift_copy_role_arn  = local.data.redshift_copy_role_arn
  tags                    = var.tags

  # The client group the data stores admit (MSK for the stream, RDS for the export's ledger rows).
  additional_security_group_ids = [local.network.client_security_group_ids["emr"]]
}

module "msk_connect" {
  source                   = "../../modules/msk_connect"
  name                     = "${var.name}-archive"
  connectors               = local.connectors
  source_topics            = local.archive_topics
  dlq_topics               = local.dlq_topics
  plugin_build_command     = "SHOPSTREAM_JARS_DIR=$PWD/.shopstream/jars make jars"
  plugin_build_working_dir = local.repo_root
  plugin_zip_path          = local.plugin_zip
  plugin_source_hash       = local.plugin_hash
  artifacts_bucket         = local.data.bucket_names["artifacts"]
  archive_bucket_arn       = local.data.bucket_arns["archive"]
  kms_key_arn              = local.data.kms_key_arn
  msk_cluster_arn          = local.data.msk_cluster_arn
  msk_topic_arn_prefix     = local.data.msk_topic_arn_prefix
  msk_group_arn_prefix     = local.data.msk_group_arn_prefix
  bootstrap_servers        = local.data.msk_bootstrap_brokers
  subnet_ids               = local.network.private_subnet_ids
  security_group_ids       = [aws_security_group.connect.id, local.network.client_security_group_ids["msk-connect"]]
  tags                     = var.tags
}

module "monitoring" {
  source           = "../../modules/monitoring"
  name             = var.name
  msk_cluster_name = local.data.msk_cluster_name
  emr_cluster_id   = module.emr.cluster_id
  consumer_group_topics = merge(
    { for g in module.msk_connect.consumer_groups : g => local.archive_topics },
    { (var.logstash_consumer_group) = var.source_topics },
  )
  max_offset_lag_threshold = var.max_offset_lag_threshold
  alert_emails             = var.alert_emails
  tags                     = var.tags
}
