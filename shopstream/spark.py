"""One way to build a SparkSession for every job and test, local or on EMR.

Locally, jars come from the Maven-resolved cache on the driver's class path (local paths;
nothing is downloaded at run time, and nothing is copied: ``spark.jars`` would copy all ~300 MB
of them into every session's scratch directory, and a killed session leaves that copy behind).
Spark's scratch space and the JVM's temporary files (RocksDB's and the codecs' native
libraries) live in ``<state_dir>/tmp``, never in the machine's ``/tmp``. Delta's SQL extension
and catalog are on; the session time zone is UTC so hour partitions are UTC hours. On AWS (EMR)
the cluster already ships Delta, Kafka and S3 support, so no jars are set there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from shopstream.aws import client_kwargs
from shopstream.config import Settings
from shopstream.jars import spark_jars
from shopstream.kafka_admin import MSK_IAM_JAVA_CLIENT
from shopstream.resources import conf_path

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def local_tmp_dir(settings: Settings) -> Path:
    """Scratch space of local Spark sessions (Spark's local dir and the JVM's ``java.io.tmpdir``)."""
    return settings.state_path / "tmp"


def spark_conf(settings: Settings, app_name: str) -> dict[str, str]:
    """The Spark configuration for this profile (pure: easy to test and to render as EMR args)."""
    conf: dict[str, str] = {
        "spark.app.name": app_name,
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.spark.shuffle_partitions),
        # Delta rebuilds a table's state (a Spark job) for every write carrying txnAppId; its
        # default of 50 partitions is most of that cost on a small cluster
        "spark.databricks.delta.snapshotPartitions": str(settings.spark.delta_snapshot_partitions),
        "spark.ui.enabled": str(settings.spark.ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        "spark.sql.streaming.stopGracefullyOnShutdown": "true",
    }
    if settings.profile == "local":
        conf.update(
            {
                "spark.master": settings.spark.master,
                "spark.driver.memory": settings.spark.driver_memory,
                # local mode runs executors in the driver's JVM: its class path is enough
                "spark.driver.extraClassPath": os.pathsep.join(spark_jars(settings)),
                "spark.driver.bindAddress": "127.0.0.1",
                "spark.driver.host": "127.0.0.1",
                "spark.sql.warehouse.dir": str(settings.state_path / "spark-warehouse"),
                "spark.driver.extraJavaOptions": (
                    f"-Dderby.system.home={settings.state_path / 'derby'}"
                    # also Spark's scratch root (spark.local.dir defaults to it; setting that
                    # key itself makes Spark log a warning in every session)
                    f" -Djava.io.tmpdir={local_tmp_dir(settings)}"
                    f" -Dlog4j2.configurationFile={conf_path('spark-log4j2.properties')}"
                    # the stream's classification compiles to methods over the JIT's 8,000-byte
                    # limit; without this they stay interpreted (~2x the CPU per record)
                    " -XX:-DontCompileHugeMethods"
                ),
            }
        )
    s3 = settings.s3
    if s3.endpoint_url:
        kw = client_kwargs(settings)
        conf.update(
            {
                "spark.hadoop.fs.s3a.endpoint": s3.endpoint_url,
                "spark.hadoop.fs.s3a.endpoint.region": s3.region,
                "spark.hadoop.fs.s3a.path.style.access": "true",
                "spark.hadoop.fs.s3a.connection.ssl.enabled": str(
                    s3.endpoint_url.startswith("https")
                ).lower(),
                "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
            }
        )
        if "aws_access_key_id" in kw:
            conf.update(
                {
                    "spark.hadoop.fs.s3a.aws.credentials.provider": (
                        "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
                    ),
                    "spark.hadoop.fs.s3a.access.key": kw["aws_access_key_id"],
                    "spark.hadoop.fs.s3a.secret.key": kw["aws_secret_access_key"],
                }
            )
    if settings.lake.log_store == "s3-dynamodb":
        conf.update(
            {
                "spark.delta.logStore.s3a.impl": "io.delta.storage.S3DynamoDBLogStore",
                "spark.delta.logStore.s3.impl": "io.delta.storage.S3DynamoDBLogStore",
                "spark.io.delta.storage.S3DynamoDBLogStore.ddb.tableName": s3.dynamodb_table,
                "spark.io.delta.storage.S3DynamoDBLogStore.ddb.region": s3.region,
            }
        )
    return conf


def session(settings: Settings, app_name: str, extra: dict[str, str] | None = None) -> SparkSession:
    """Build (or return the running) SparkSession for this profile."""
    from pyspark.sql import SparkSession

    if settings.profile == "local":
        # The driver, block manager and UI bind to loopback only (never the host's interfaces).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        local_tmp_dir(settings).mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder
    for key, value in {**spark_conf(settings, app_name), **(extra or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def kafka_source_options(settings: Settings) -> dict[str, str]:
    """Options for Spark's Kafka source (stream and batch) for this profile.

    Locally: plaintext on loopback. On AWS: MSK over TLS with IAM authentication (the
    aws-msk-iam-auth library ships with EMR 7.x).
    """
    opts = {
        "kafka.bootstrap.servers": settings.kafka.bootstrap_servers,
        "kafka.fetch.max.wait.ms": "10",
    }
    if settings.kafka.security_protocol == "SASL_SSL":
        opts.update({f"kafka.{key}": value for key, value in MSK_IAM_JAVA_CLIENT.items()})
    elif settings.kafka.security_protocol == "SSL":
        opts["kafka.security.protocol"] = "SSL"
    return opts
