"""One command builder for every Spark entry point: local ``spark-submit`` and EMR step alike.

Every Spark job of the project (the stream, each hourly Spark step, reconcile, the late-hour
corrections, vacuum) is a thin file under ``jobs/`` (:data:`ENTRY_POINTS`) run by ``spark-submit``
with the same application arguments everywhere (:func:`app_args`). Only the Spark options and
the script's root differ:

* locally: the profile's Spark configuration (jars from the Maven cache) and the repository;
* on EMR: :func:`emr_conf` (the project's jars and virtualenv, installed on every node by the
  bootstrap action under :data:`EMR_INSTALL_DIR`; nothing is resolved from Maven at run time) and
  the artifacts prefix Terraform uploads to.

Terraform does not write a command line of its own: ``python -m shopstream.submit terraform``
renders :func:`terraform_spec` into ``terraform/modules/emr/spark_steps.json`` (checked in;
``tests/test_submit.py`` fails when it drifts) and the EMR module reads it. Airflow's aws target
builds its steps with :func:`emr_step` at parse time.

    python -m shopstream.submit terraform --check     # exit 1 when the checked-in JSON drifted
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from shopstream.hourly.args import SPARK_STEPS
from shopstream.hours import format_hour

ENTRY_POINTS: dict[str, str] = {
    "stream": "jobs/run_stream.py",
    "compact": "jobs/run_compact.py",
    "export": "jobs/run_export.py",
    "reconcile": "jobs/run_reconcile.py",
    "corrections": "jobs/run_corrections.py",
    "vacuum": "jobs/run_vacuum.py",
}
HOURLY_SPARK_STEPS = SPARK_STEPS  # the hourly steps that are Spark entry points (shopstream.hourly.args)
# what an hourly run submits to EMR: its Spark steps, then the late-hour corrections (which re-run
# every step, load and aggregate included, for each late-changed hour before it)
HOURLY_EMR_STEPS = (*SPARK_STEPS, "corrections")
EMR_JAR = "command-runner.jar"
EMR_INSTALL_DIR = "/opt/shopstream"  # the bootstrap's virtualenv (venv/) and jars (jars/) on every node
STREAM_STEP_NAME = "stream-ingest"
ARTIFACTS = "{artifacts}"  # the artifacts s3:// prefix, filled in by Terraform (spark_steps.json)
# The jars of the conf/jars/spark resolution that EMR 7 does not ship (the Kafka source and its
# closure); Delta, hadoop-aws and the AWS SDK are the cluster's own (delta-defaults).
EMR_JAR_PREFIXES = (
    "spark-sql-kafka-0-10_",
    "spark-token-provider-kafka-0-10_",
    "kafka-clients-",
    "commons-pool2-",
)
SPEC_PATH = Path("terraform") / "modules" / "emr" / "spark_steps.json"


class SubmitError(ValueError):
    """An entry point or its arguments are not valid (one line)."""


def app_args(
    step: str,
    *,
    profile: str,
    entity: str | None = None,
    hour: datetime | str | None = None,
    run_id: str | None = None,
    retention_hours: int | str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The application arguments of an entry point (after the script), identical on every target.

    ``hour`` is a UTC datetime, or text used as is (Airflow renders a template such as
    ``{{ data_interval_start.strftime('%Y-%m-%dT%H') }}`` when the task runs)."""
    if step not in ENTRY_POINTS:
        raise SubmitError(f"unknown entry point {step!r}; allowed: {', '.join(ENTRY_POINTS)}")
    args = ["--profile", profile]
    if step == "stream":
        return [*args, *extra]
    if entity is None or run_id is None:
        raise SubmitError(f"{step} needs an entity and a run id")
    if step == "vacuum":
        if retention_hours is None:
            raise SubmitError("vacuum needs retention_hours")
        return [
            *args,
            "--entity",
            entity,
            "--retention-hours",
            str(retention_hours),
            "--run-id",
            run_id,
            *extra,
        ]
    if hour is None:
        raise SubmitError(f"{step} needs an hour")
    hour_text = hour if isinstance(hour, str) else format_hour(hour)
    return [*args, "--entity", entity, "--hour", hour_text, "--run-id", run_id, *extra]


def submit_options(conf: Mapping[str, str], deploy_mode: str | None = None) -> list[str]:
    """spark-submit options: ``--deploy-mode`` (EMR: cluster) then ``--conf k=v`` sorted by key."""
    out: list[str] = ["--deploy-mode", deploy_mode] if deploy_mode else []
    for key in sorted(conf):
        out += ["--conf", f"{key}={conf[key]}"]
    return out


def spark_submit(
    step: str,
    args: Sequence[str],
    *,
    script_root: str,
    conf: Mapping[str, str],
    deploy_mode: str | None = None,
) -> list[str]:
    """The whole ``spark-submit`` command line of an entry point."""
    if step not in ENTRY_POINTS:
        raise SubmitError(f"unknown entry point {step!r}; allowed: {', '.join(ENTRY_POINTS)}")
    return [
        "spark-submit",
        *submit_options(conf, deploy_mode),
        f"{script_root.rstrip('/')}/{ENTRY_POINTS[step]}",
        *args,
    ]


def emr_conf(install_dir: str = EMR_INSTALL_DIR) -> dict[str, str]:
    """Spark options of every EMR step: the project's jars and Python from the bootstrap's install
    (``spark.jars`` globs are resolved on the primary node and shipped through YARN)."""
    python = f"{install_dir}/venv/bin/python"
    return {
        "spark.jars": f"file://{install_dir}/jars/*.jar",
        "spark.pyspark.python": python,
        "spark.pyspark.driver.python": python,
        "spark.sql.session.timeZone": "UTC",
    }


def emr_step(
    step: str,
    args: Sequence[str],
    *,
    artifacts_s3_prefix: str,
    name: str,
    conf: Mapping[str, str] | None = None,
    action_on_failure: str = "CONTINUE",
) -> dict[str, Any]:
    """An EMR step (``EmrAddStepsOperator``, Terraform's ``step`` block): ``command-runner.jar``
    running the entry point in cluster mode. ``CONTINUE``: a failed step never ends the cluster
    that hosts the stream."""
    templated = artifacts_s3_prefix == ARTIFACTS or artifacts_s3_prefix.startswith(
        "{{"
    )  # Terraform / Airflow
    if not templated and not artifacts_s3_prefix.startswith("s3://"):
        raise SubmitError(f"artifacts_s3_prefix must be an s3:// URI, got {artifacts_s3_prefix!r}")
    return {
        "Name": name[:256],
        "ActionOnFailure": action_on_failure,
        "HadoopJarStep": {
            "Jar": EMR_JAR,
            "Args": spark_submit(
                step,
                args,
                script_root=artifacts_s3_prefix,
                conf=emr_conf() if conf is None else conf,
                deploy_mode="cluster",
            ),
        },
    }


def hourly_emr_step(
    step: str, *, entity: str, hour: datetime | str, run_id: str, artifacts_s3_prefix: str
) -> dict[str, Any]:
    """The EMR step of one hourly Spark step (what the DAG's aws target submits; ``hour`` and
    ``run_id`` may be Airflow templates, rendered when the task runs)."""
    if step not in HOURLY_EMR_STEPS:
        raise SubmitError(f"{step!r} is not an hourly EMR step; allowed: {', '.join(HOURLY_EMR_STEPS)}")
    return emr_step(
        step,
        app_args(step, profile="aws", entity=entity, hour=hour, run_id=run_id),
        artifacts_s3_prefix=artifacts_s3_prefix,
        name=f"shopstream-{step}-{entity}-{hour if isinstance(hour, str) else format_hour(hour)}-{run_id}",
    )


def stream_emr_step(artifacts_s3_prefix: str = ARTIFACTS, extra: Sequence[str] = ()) -> dict[str, Any]:
    """The long-running stream step (Terraform's cluster step; the keeper DAG re-adds it)."""
    return emr_step(
        "stream",
        app_args("stream", profile="aws", extra=extra),
        artifacts_s3_prefix=artifacts_s3_prefix,
        name=STREAM_STEP_NAME,
    )


def vacuum_emr_step(
    *, entity: str, retention_hours: int | str, run_id: str, artifacts_s3_prefix: str
) -> dict[str, Any]:
    """The maintenance VACUUM as an EMR step (``retention_hours`` may be an Airflow template; the
    entry point refuses less than 7 days)."""
    return emr_step(
        "vacuum",
        app_args("vacuum", profile="aws", entity=entity, run_id=run_id, retention_hours=retention_hours),
        artifacts_s3_prefix=artifacts_s3_prefix,
        name=f"shopstream-vacuum-{entity}-{run_id}",
    )


def emr_jars(jars_dir: Path) -> list[Path]:
    """The jars the bootstrap installs on every node: the EMR subset of the Spark resolution."""
    jars = sorted(p for p in (jars_dir / "spark").glob("*.jar") if p.name.startswith(EMR_JAR_PREFIXES))
    missing = [p for p in EMR_JAR_PREFIXES if not any(j.name.startswith(p) for j in jars)]
    if missing:
        raise SubmitError(
            f"{jars_dir / 'spark'} lacks {', '.join(missing)}*.jar; run `shopstream jars` first"
        )
    return jars


def terraform_spec() -> dict[str, Any]:
    """What Terraform's EMR module reads (``spark_steps.json``)."""
    return {
        "_generated_by": "python -m shopstream.submit terraform (tests/test_submit.py checks it)",
        "artifacts_placeholder": ARTIFACTS,
        "entry_points": dict(ENTRY_POINTS),
        "install_dir": EMR_INSTALL_DIR,
        "jar_prefixes": list(EMR_JAR_PREFIXES),
        "stream_step": stream_emr_step(),
    }


def render_spec() -> str:
    return json.dumps(terraform_spec(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m shopstream.submit", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    tf = sub.add_parser("terraform", help=f"write {SPEC_PATH} (from the repository root)")
    tf.add_argument("--check", action="store_true", help="exit 1 when the file differs from the builder")
    tf.add_argument("--path", type=Path, default=SPEC_PATH)
    args = p.parse_args(argv)
    text = render_spec()
    if args.check:
        current = args.path.read_text() if args.path.exists() else ""
        if current != text:
            print(f"{args.path} drifted from shopstream.submit; run: python -m shopstream.submit terraform")
            return 1
        return 0
    args.path.write_text(text)
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
