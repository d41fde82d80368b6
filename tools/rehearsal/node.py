"""An EMR step run here: Terraform's step environment with the local stack's endpoints, the step's
Args made local (see ``tools/rehearse_aws.py``'s docstring for each replacement), and what EMR's
own spark-defaults provide."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from shopstream.credentials import postgres_password
from shopstream.orchestration import connection_env
from shopstream.submit import EMR_INSTALL_DIR
from tools import tfrender
from tools.rehearsal.workspace import RehearsalError, Workspace

# the jars EMR's spark-defaults put on the classpath (taken here from the local jar cache)
EMR_PLATFORM_JARS = (
    "delta-spark_",
    "delta-storage-",
    "hadoop-aws-",
    "aws-java-sdk-bundle-",
    "wildfly-openssl-",
)


def step_env(ws: Workspace) -> dict[str, str]:
    """Terraform's rendered step environment (terraform/modules/emr local.env), endpoints
    replaced by the local stack's. No password: the steps read the secret it names from
    Secrets Manager (the local S3 API's, :func:`tools.rehearsal.deploy.publish` stores it)."""
    s = ws.settings
    env = tfrender.emr_step_env(
        {
            "mart_password_secret_name": ws.mart_secret,
            "kafka_bootstrap_servers": s.kafka.bootstrap_servers,
            "lake_bucket": ws.bucket["lake"],
            "export_bucket": ws.bucket["export"],
            "archive_bucket": ws.bucket["archive"],
            "region": s.s3.region,
            "postgres_host": s.postgres.host,
            "opensearch_url": s.opensearch.url,
        }
    )
    env.update(
        {
            "SHOPSTREAM_KAFKA__SECURITY_PROTOCOL": "PLAINTEXT",
            "SHOPSTREAM_S3__ENDPOINT_URL": ws.endpoint,
            "SHOPSTREAM_POSTGRES__PORT": str(s.postgres.port),
            "SHOPSTREAM_POSTGRES__WAREHOUSE_DB": s.postgres.warehouse_db,
            "SHOPSTREAM_POSTGRES__MART_DB": s.postgres.mart_db,
            "SHOPSTREAM_WAREHOUSE__ENGINE": "postgres",
            "SHOPSTREAM_LEDGER__OPENSEARCH": "false",
            "SHOPSTREAM_LEDGER__ARCHIVE": "false",  # no Kafka Connect worker in the rehearsal
            "SHOPSTREAM_LAKE__LOG_STORE": "local",
            "SHOPSTREAM_SPARK__UI_ENABLED": "false",
            "SHOPSTREAM_STATE_DIR": str(ws.work / "state"),
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
    )
    return env


def worker_env(ws: Workspace, env: Mapping[str, str]) -> dict[str, str]:
    """An Airflow worker's step: the mart's Connection handed over as the profile's variable
    (shopstream.orchestration.connection_env), as the worker does; no Secrets Manager read."""
    return {**env, **connection_env(mart={"password": postgres_password(ws.settings)})}


def emr_argv(ws: Workspace, args: Sequence[str], node: Path) -> list[str]:
    """An EMR step's Args as run here: the bootstrap's spark-submit in local mode, the install
    dir relocated, the ``s3://`` script fetched first."""
    if args[0] != "spark-submit":
        raise RehearsalError(f"not a spark-submit step: {args[:3]}")
    out = [str(ws.install_dir / "venv" / "bin" / "spark-submit"), "--master", "local[2]"]
    rest = list(args[1:])
    if rest[:2] == ["--deploy-mode", "cluster"]:
        rest = rest[2:]
    for a in rest:
        a = a.replace(EMR_INSTALL_DIR, str(ws.install_dir))
        if a.startswith(f"{ws.artifacts_uri}/"):
            local = node / a.removeprefix(f"{ws.artifacts_uri}/")
            local.parent.mkdir(parents=True, exist_ok=True)
            ws.s3().download_file(
                ws.bucket["artifacts"], "emr/" + a.removeprefix(f"{ws.artifacts_uri}/"), str(local)
            )
            a = str(local)
        out.append(a)
    return out


def spark_env(ws: Workspace, node: Path) -> dict[str, str]:
    """The step environment plus what EMR's own spark-defaults provide (its Delta/S3 jars)."""
    conf_dir = node / "spark-conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    platform = sorted(
        str(p) for p in (ws.settings.jars_dir / "spark").glob("*.jar") if p.name.startswith(EMR_PLATFORM_JARS)
    )
    cp = ":".join(platform)
    (conf_dir / "spark-defaults.conf").write_text(
        f"spark.driver.extraClassPath {cp}\nspark.executor.extraClassPath {cp}\n"
        "spark.driver.memory 1g\nspark.sql.shuffle.partitions 4\n"
    )
    env = ws.clean_env()
    env.update(ws.aws_env())
    env.update(step_env(ws))
    env["SPARK_CONF_DIR"] = str(conf_dir)
    env["PYSPARK_PYTHON"] = str(ws.install_dir / "venv" / "bin" / "python")
    return env
