data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition     = data.aws_partition.current.partition
  region        = data.aws_region.current.name
  wheel_name    = basename(var.wheel_path)
  job_files     = toset(fileset(var.jobs_dir, "run_*.py"))
  jar_files     = toset(fileset(var.jars_dir, "*.jar"))
  artifacts_arn = "arn:${local.partition}:s3:::${var.artifacts_bucket}"
  lake_arn      = "arn:${local.partition}:s3:::${var.lake_bucket}"
  export_arn    = "arn:${local.partition}:s3:::${var.export_bucket}"
  archive_arn   = "arn:${local.partition}:s3:::${var.archive_bucket}"
  logs_arn      = "arn:${local.partition}:s3:::${var.logs_bucket}"
  prefix        = trimsuffix(var.artifacts_prefix, "/")
  artifacts_uri = "s3://${var.artifacts_bucket}/${local.prefix}"
  arn_tail      = "${local.region}:${data.aws_caller_identity.current.account_id}"

  # Every Spark command line comes from the project's one builder (python -m shopstream.submit
  # terraform writes spark_steps.json; tests/test_submit.py fails when it drifts): entry points,
  # jars and Python of the bootstrap's install, cluster mode. Nothing is resolved from Maven here.
  spark = jsondecode(file("${path.module}/spark_steps.json"))
  stream_args = concat(
    [for a in local.spark.stream_step.HadoopJarStep.Args : replace(a, local.spark.artifacts_placeholder, local.artifacts_uri)],
    var.stream_job_args,
  )

  # The environment every step's driver and executors get (conf/aws.yaml's placeholders): set once
  # in the cluster's spark-defaults, so Terraform's stream step and Airflow's steps share it.
  # tests/terraform/test_runtime_env.py renders it with placeholder inputs and loads the aws profile.
  env = {
    SHOPSTREAM_PROFILE                        = "aws"
    SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS       = var.kafka_bootstrap_servers
    SHOPSTREAM_S3__LAKE_BUCKET                = var.lake_bucket
    SHOPSTREAM_S3__EXPORT_BUCKET              = var.export_bucket
    SHOPSTREAM_S3__ARCHIVE_BUCKET             = var.archive_bucket
    SHOPSTREAM_S3__DYNAMODB_TABLE             = var.delta_log_table_name
    SHOPSTREAM_S3__REGION                     = local.region
    SHOPSTREAM_POSTGRES__HOST                 = var.postgres_host
    SHOPSTREAM_POSTGRES__PASSWORD_SECRET      = var.mart_password_secret_name
    SHOPSTREAM_OPENSEARCH__URL                = var.opensearch_url
    SHOPSTREAM_WAREHOUSE__REDSHIFT_HOST       = var.redshift_host
    SHOPSTREAM_WAREHOUSE__REDSHIFT_CLUSTER_ID = var.redshift_cluster_id
    SHOPSTREAM_WAREHOUSE__COPY_IAM_ROLE_ARN   = var.redshift_copy_role_arn
  }
  step_env = merge(local.env, var.extra_env)
  env_conf = merge(
    { for k, v in local.step_env : "spark.yarn.appMasterEnv.${k}" => v },
    { for k, v in local.step_env : "spark.executorEnv.${k}" => v },
  )
  python = "${local.spark.install_dir}/venv/bin/python"
}

# ---------------------------------------------------------------------------------------------
# Artifacts: the project's wheel, the streaming entry point and the bootstrap script.
resource "aws_s3_object" "wheel" {
  bucket      = var.artifacts_bucket
  key         = "${local.prefix}/wheels/${local.wheel_name}"
  source      = var.wheel_path
  source_hash = filemd5(var.wheel_path)
  tags        = var.tags
}

# Every Spark entry point (jobs/run_*.py; the steps run <artifacts_s3_prefix>jobs/run_<step>.py),
# the pinned runtime requirements and the jars EMR does not ship (the EMR subset of conf/jars,
# staged by `make artifacts` into jars_dir). The bootstrap installs them on every node.
resource "aws_s3_object" "jobs" {
  for_each    = local.job_files
  bucket      = var.artifacts_bucket
  key         = "${local.prefix}/jobs/${each.key}"
  source      = "${var.jobs_dir}/${each.key}"
  source_hash = filemd5("${var.jobs_dir}/${each.key}")
  tags        = var.tags
}

resource "aws_s3_object" "jars" {
  for_each    = local.jar_files
  bucket      = var.artifacts_bucket
  key         = "${local.prefix}/jars/${each.key}"
  source      = "${var.jars_dir}/${each.key}"
  source_hash = filemd5("${var.jars_dir}/${each.key}")
  tags        = var.tags
}

resource "aws_s3_object" "requirements" {
  bucket      = var.artifacts_bucket
  key         = "${local.prefix}/wheels/requirements.txt"
  source      = var.requirements_path
  source_hash = filemd5(var.requirements_path)
  tags        = var.tags
}

# The RDS CA bundle the steps verify the mart's certificate with (verify-full): staged by
# `make artifacts` (dist/emr/certs/), checked by the bootstrap against this file's sha256.
resource "aws_s3_object" "rds_ca_bundle" {
  bucket      = var.artifacts_bucket
  key         = "${local.prefix}/certs/rds-global-bundle.pem"
  source      = var.rds_ca_bundle_path
  source_hash = filemd5(var.rds_ca_bundle_path)
  tags        = var.tags
}

resource "aws_s3_object" "bootstrap" {
  bucket  = var.artifacts_bucket
  key     = "${local.prefix}/bootstrap/install-shopstream.sh"
  content = templatefile("${path.module}/templates/bootstrap.sh.tftpl", local.bootstrap_vars)
  tags    = var.tags
}

locals {
  # The bootstrap's inputs (the rehearsal renders the same template with the same names).
  bootstrap_vars = {
    artifacts_uri = local.artifacts_uri
    wheel_name    = local.wheel_name
    wheel_sha256  = filesha256(var.wheel_path)
    rds_ca_sha256 = filesha256(var.rds_ca_bundle_path)
    python_bin    = var.python_bin
    install_dir   = local.spark.install_dir
  }
}

# ---------------------------------------------------------------------------------------------
# In-transit encryption needs PEM certificates in S3. A self-signed certificate for the
# cluster's private DNS names is generated here (the private key lives only in the encrypted
# Terraform state and the encrypted artifacts bucket); bring your own with certificate_zip_s3_uri.
resource "tls_private_key" "transit" {
  count     = var.certificate_zip_s3_uri == null ? 1 : 0
  algorithm = "RSA"
  rsa_bits  = 2048
}

resource "tls_self_signed_cert" "transit" {
  count                 = var.certificate_zip_s3_uri == null ? 1 : 0
  private_key_pem       = tls_private_key.transit[0].private_key_pem
  validity_period_hours = 24 * 365
  early_renewal_hours   = 24 * 30
  dns_names             = ["*.${local.region}.compute.internal", "*.ec2.internal"]
  allowed_uses          = ["key_encipherment", "digital_signature", "server_auth", "client_auth"]

  subject {
    common_name = "*.${local.region}.compute.internal"
  }
}

data "archive_file" "transit" {
  count       = var.certificate_zip_s3_uri == null ? 1 : 0
  type        = "zip"
  output_path = "${path.root}/.terraform/emr-transit-certs.zip"

  source {
    content  = tls_private_key.transit[0].private_key_pem
    filename = "privateKey.pem"
  }

  source {
    content  = tls_self_signed_cert.transit[0].cert_pem
    filename = "certificateChain.pem"
  }

  source {
    content  = tls_self_signed_cert.transit[0].cert_pem
    filename = "trustedCertificates.pem"
  }
}

resource "aws_s3_object" "transit_certs" {
  count       = var.certificate_zip_s3_uri == null ? 1 : 0
  bucket      = var.artifacts_bucket
  key         = "${local.prefix}/security/emr-transit-certs.zip"
  source      = data.archive_file.transit[0].output_path
  source_hash = data.archive_file.transit[0].output_md5
  tags        = var.tags
}

locals {
  certificate_zip_s3_uri = coalesce(
    var.certificate_zip_s3_uri,
    try("s3://${var.artifacts_bucket}/${aws_s3_object.transit_certs[0].key}", null),
  )
}

resource "aws_emr_security_configuration" "this" {
  name_prefix = "${var.name}-"
  configuration = jsonencode({
    EncryptionConfiguration = {
      EnableAtRestEncryption    = true
      EnableInTransitEncryption = true
      AtRestEncryptionConfiguration = {
        S3EncryptionConfiguration = {
          EncryptionMode = "SSE-KMS"
          AwsKmsKey      = var.kms_key_arn
        }
        LocalDiskEncryptionConfiguration = {
          EncryptionKeyProviderType = "AwsKms"
          AwsKmsKey                 = var.kms_key_arn
          EnableEbsEncryption       = true
        }
      }
      InTransitEncryptionConfiguration = {
        TLSCertificateConfiguration = {
          CertificateProviderType = "PEM"
          S3Object                = local.certificate_zip_s3_uri
        }
      }
    }
    InstanceMetadataServiceConfiguration = {
      MinimumInstanceMetadataServiceVersion = 2
      HttpPutResponseHopLimit               = 1
    }
  })
}

# ---------------------------------------------------------------------------------------------
# Security groups: EMR manages the rules of its groups itself; none are opened here.
resource "aws_security_group" "primary" {
  #checkov:skip=CKV2_AWS_5:Attached by EMR as emr_managed_master_security_group.
  name_prefix            = "${var.name}-emr-primary-"
  description            = "EMR primary node (rules managed by EMR)"
  vpc_id                 = var.vpc_id
  revoke_rules_on_delete = true
  tags                   = merge(var.tags, { Name = "${var.name}-emr-primary", "for-use-with-amazon-emr-managed-policies" = "true" })

  lifecycle {
    ignore_changes = [ingress, egress]
  }
}

resource "aws_security_group" "core" {
  #checkov:skip=CKV2_AWS_5:Attached by EMR as emr_managed_slave_security_group.
  name_prefix            = "${var.name}-emr-core-"
  description            = "EMR core/task nodes (rules managed by EMR)"
  vpc_id                 = var.vpc_id
  revoke_rules_on_delete = true
  tags                   = merge(var.tags, { Name = "${var.name}-emr-core", "for-use-with-amazon-emr-managed-policies" = "true" })

  lifecycle {
    ignore_changes = [ingress, egress]
  }
}

resource "aws_security_group" "service" {
  #checkov:skip=CKV2_AWS_5:Attached by EMR as service_access_security_group.
  name_prefix            = "${var.name}-emr-service-"
  description            = "EMR service access for private subnets (rules managed by EMR)"
  vpc_id                 = var.vpc_id
  revoke_rules_on_delete = true
  tags                   = merge(var.tags, { Name = "${var.name}-emr-service", "for-use-with-amazon-emr-managed-policies" = "true" })

  lifecycle {
    ignore_changes = [ingress, egress]
  }
}

# ---------------------------------------------------------------------------------------------
# Roles: the AWS-managed EMR service policy (v2, scoped by the managed-policy tag) and a
# least-privilege instance profile for the Spark jobs.
data "aws_iam_policy_document" "service_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["elasticmapreduce.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "service" {
  name_prefix        = "${var.name}-emr-service-"
  assume_role_policy = data.aws_iam_policy_document.service_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "service" {
  role       = aws_iam_role.service.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"
}

data "aws_iam_policy_document" "service_passrole" {
  statement {
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.instance.arn]
  }
}

resource "aws_iam_role_policy" "service_passrole" {
  name   = "pass-instance-role"
  role   = aws_iam_role.service.id
  policy = data.aws_iam_policy_document.service_passrole.json
}

data "aws_iam_policy_document" "instance_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "instance" {
  statement {
    sid       = "ReadArtifacts"
    actions   = ["s3:GetObject"]
    resources = ["${local.artifacts_arn}/${local.prefix}/*"]
  }

  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.artifacts_arn, local.lake_arn, local.export_arn, local.logs_arn]
  }

  statement {
    sid       = "ReadWriteLake"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${local.lake_arn}/${var.lake_prefix}/*"]
  }

  statement {
    sid       = "WriteExports"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${local.export_arn}/export/*"]
  }

  # reconcile (an EMR step) compares the real-time path's count of the hour (ledger.opensearch)
  statement {
    sid       = "CountOpenSearch"
    actions   = ["es:ESHttpGet", "es:ESHttpPost"]
    resources = ["${var.opensearch_domain_arn}/*"]
  }

  # ... and the raw archive's (ledger.archive): the hour's objects per topic
  statement {
    sid       = "ListArchive"
    actions   = ["s3:ListBucket"]
    resources = [local.archive_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [for t in var.source_topics : "${t}/*"]
    }
  }

  statement {
    sid       = "ReadArchive"
    actions   = ["s3:GetObject"]
    resources = [for t in var.source_topics : "${local.archive_arn}/${t}/*"]
  }

  # the mart (ledger rows of every step, the corrections' aggregates): the application user's
  # password, read by the steps from Secrets Manager (shopstream.credentials), never from the env
  statement {
    sid       = "MartPassword"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:${local.partition}:secretsmanager:${local.arn_tail}:secret:${var.mart_password_secret_name}-??????"]
  }

  # the late-hour corrections (an EMR step) re-run load: Redshift IAM sign-in as the loader
  statement {
    sid     = "RedshiftLoaderCredentials"
    actions = ["redshift:GetClusterCredentials"]
    resources = [
      "arn:${local.partition}:redshift:${local.arn_tail}:dbuser:${var.redshift_cluster_id}/${var.redshift_db_user}",
      "arn:${local.partition}:redshift:${local.arn_tail}:dbname:${var.redshift_cluster_id}/${var.redshift_database}",
    ]
  }

  statement {
    sid       = "WriteEmrLogs"
    actions   = ["s3:PutObject"]
    resources = ["${local.logs_arn}/emr/*"]
  }

  statement {
    sid = "DeltaLogStore"
    actions = [
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
    ]
    resources = [var.delta_log_table_arn]
  }

  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "MskConnect"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
    resources = [var.msk_cluster_arn]
  }

  statement {
    sid       = "MskReadTopics"
    actions   = ["kafka-cluster:ReadData", "kafka-cluster:DescribeTopic"]
    resources = [for t in var.source_topics : "${var.msk_topic_arn_prefix}${t}"]
  }

  statement {
    sid     = "MskSparkConsumerGroups"
    actions = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
    # Structured Streaming's generated group ids (groupIdPrefix default); nothing else.
    resources = ["${var.msk_group_arn_prefix}spark-kafka-source-*"]
  }
}

resource "aws_iam_role" "instance" {
  name_prefix        = "${var.name}-emr-ec2-"
  assume_role_policy = data.aws_iam_policy_document.instance_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "instance" {
  name   = "shopstream-jobs"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.instance.json
}

resource "aws_iam_instance_profile" "instance" {
  name_prefix = "${var.name}-emr-ec2-"
  role        = aws_iam_role.instance.name
  tags        = var.tags
}

# ---------------------------------------------------------------------------------------------
resource "aws_emr_cluster" "this" {
  name                              = var.name
  release_label                     = var.release_label
  applications                      = ["Hadoop", "Spark"]
  service_role                      = aws_iam_role.service.arn
  security_configuration            = aws_emr_security_configuration.this.name
  log_uri                           = "s3://${var.logs_bucket}/emr/"
  termination_protection            = var.termination_protection
  keep_job_flow_alive_when_no_steps = true
  ebs_root_volume_size              = 32

  ec2_attributes {
    subnet_id                         = var.subnet_id
    instance_profile                  = aws_iam_instance_profile.instance.arn
    emr_managed_master_security_group = aws_security_group.primary.id
    emr_managed_slave_security_group  = aws_security_group.core.id
    service_access_security_group     = aws_security_group.service.id
    additional_master_security_groups = length(var.additional_security_group_ids) > 0 ? join(",", var.additional_security_group_ids) : null
    additional_slave_security_groups  = length(var.additional_security_group_ids) > 0 ? join(",", var.additional_security_group_ids) : null
  }

  master_instance_group {
    instance_type = var.primary_instance_type
  }

  core_instance_group {
    instance_type  = var.core_instance_type
    instance_count = var.core_instance_count
    ebs_config {
      size                 = var.core_volume_size_gb
      type                 = "gp3"
      volumes_per_instance = 1
    }
  }

  bootstrap_action {
    name = "install-shopstream-wheel"
    path = "s3://${var.artifacts_bucket}/${aws_s3_object.bootstrap.key}"
  }

  configurations_json = jsonencode([
    { Classification = "delta-defaults", Properties = { "delta.enabled" = "true" } },
    {
      # The project needs Python 3.11 (EMR 7's default python3 is 3.9); the bootstrap installs it.
      Classification = "spark-env"
      Configurations = [{
        Classification = "export"
        Properties     = { PYSPARK_PYTHON = local.python, PYSPARK_DRIVER_PYTHON = local.python }
      }]
      Properties = {}
    },
    {
      Classification = "spark-defaults"
      Properties = merge(local.env_conf, var.extra_spark_conf, {
        "spark.yarn.appMasterEnv.PYSPARK_PYTHON" = local.python
        "spark.sql.session.timeZone"             = "UTC"
        "spark.dynamicAllocation.enabled"        = "false"
      })
    },
  ])

  # The long-running Structured Streaming job. CONTINUE: if the stream stops, the cluster stays up
  # for diagnosis and Airflow's batch steps; the failed-step alarm pages someone.
  step {
    name              = local.spark.stream_step.Name
    action_on_failure = local.spark.stream_step.ActionOnFailure
    hadoop_jar_step {
      jar  = local.spark.stream_step.HadoopJarStep.Jar
      args = local.stream_args
    }
  }

  tags = merge(var.tags, { Name = var.name, "for-use-with-amazon-emr-managed-policies" = "true" })

  lifecycle {
    # Steps added later by Airflow (EmrAddStepsOperator) must not force a replacement.
    ignore_changes = [step]
  }

  depends_on = [aws_iam_role_policy.instance, aws_iam_role_policy_attachment.service, aws_s3_object.jobs, aws_s3_object.jars, aws_s3_object.requirements, aws_s3_object.wheel, aws_s3_object.rds_ca_bundle]
}
