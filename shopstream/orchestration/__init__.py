"""What the orchestrator runs for one (step, entity, hour): one argument builder for both targets.

Airflow's DAGs (``airflow/dags``) never build a command line themselves; they ask this module:

* :func:`spark_submit_argv` — ``spark-submit [options] <root>/jobs/<step>.py --profile … --entity …
  --hour … --run-id …``. The whole command line comes from :mod:`shopstream.submit` (the one
  builder of every Spark entry point), so the local runner and the EMR step run exactly the same
  entry point with exactly the same arguments; only the Spark options (from the profile) and the script's root
  (the repository here, the artifacts prefix on S3 there) differ.
* :func:`emr_step` — the EMR step definition (``command-runner.jar`` + that argv) for
  ``EmrAddStepsOperator``.
* :func:`runner_argv` — the command an Airflow task runs for a step on the machine it runs on:
  ``python -m shopstream.orchestration run …`` → ``shopstream.batch.run_step``. With
  ``--via spark-submit`` (or ``SHOPSTREAM_LOCAL_SPARK_VIA=spark-submit``) compact/export run as
  the very spark-submit command line the EMR step runs; ``--dry-run`` prints that command.
* :func:`connection_env` — the ``SHOPSTREAM_*`` variables that hand an Airflow Connection's
  host/user/password to that command (credentials live in Airflow Connections, never in code).

At import time the package needs only the standard library, PyYAML and pydantic (both among
Airflow's own dependencies; through ``contract``, ``hours`` and ``hourly.args``): the Airflow
environment (which installs this package without its heavy dependencies) imports it to render
EMR steps. The commands (``__main__.py``: ``run`` / ``hour-closed`` / ``vacuum`` /
``ledger-summary`` run in the project's own environment; ``dag-test`` runs in Airflow's):

    python -m shopstream.orchestration run --step compact --entity orders --hour 2026-11-24T10 --run-id r1
    python -m shopstream.orchestration hour-closed --entity orders --hour 2026-11-24T10
    python -m shopstream.orchestration ledger-summary --day 2026-11-23
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shopstream import submit
from shopstream.contract import check_entity
from shopstream.hourly.args import SPARK_STEPS, STEPS
from shopstream.hours import check_hour, format_hour

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGETS = ("local", "aws")
VACUUM_MIN_RETENTION_HOURS = 168
_RUN_ID_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")

# Exit codes of ``hour-closed`` (the sensor's probe): 0 closed, 3 not closed yet, anything else failed.
CLOSED, NOT_CLOSED = 0, 3


def batch_run_id(airflow_run_id: str) -> str:
    """A run id safe for object keys and SQL literals, stable for one DAG run (all its tries)."""
    safe = _RUN_ID_SAFE.sub("_", airflow_run_id).strip("_")
    if not safe:
        raise ValueError(f"run id {airflow_run_id!r} has no usable characters")
    return safe[:120]


def _check(step: str, entity: str, steps: Sequence[str] = STEPS) -> None:
    if step not in steps:
        raise ValueError(f"unknown step {step!r}; allowed: {', '.join(steps)}")
    check_entity(entity)


# --- spark-submit (the one builder: shopstream.submit) -------------------------------------------
submit_options = submit.submit_options


def app_args(step: str, *, profile: str, entity: str, hour: datetime, run_id: str) -> list[str]:
    """``jobs/run_<step>.py --profile … --entity … --hour … --run-id …`` (:mod:`shopstream.submit`)."""
    _check(step, entity, SPARK_STEPS)
    args = submit.app_args(step, profile=profile, entity=entity, hour=check_hour(hour), run_id=run_id)
    return [submit.ENTRY_POINTS[step], *args]


def spark_submit_argv(
    step: str,
    *,
    profile: str,
    entity: str,
    hour: datetime,
    run_id: str,
    script_root: str,
    conf: Mapping[str, str],
    deploy_mode: str | None = None,
) -> list[str]:
    """The whole ``spark-submit`` command line of a Spark step (local or EMR)."""
    _script, *args = app_args(step, profile=profile, entity=entity, hour=hour, run_id=run_id)
    return submit.spark_submit(step, args, script_root=script_root, conf=conf, deploy_mode=deploy_mode)


def local_spark_submit_argv(settings: Any, step: str, entity: str, hour: datetime, run_id: str) -> list[str]:
    """What the local target runs: the profile's Spark configuration (jars from the cache)."""
    # here, not at the top: DAG parsing imports this package and loads no settings machinery
    # (shopstream.spark -> config; tests/test_airflow.py::test_dag_files_import_nothing_heavy)
    from shopstream.spark import spark_conf

    return spark_submit_argv(
        step,
        profile=settings.profile,
        entity=entity,
        hour=hour,
        run_id=run_id,
        script_root=str(REPO_ROOT),
        conf=spark_conf(settings, f"shopstream-{step}-{entity}"),
    )


def emr_step(
    step: str,
    *,
    entity: str,
    hour: datetime,
    run_id: str,
    artifacts_s3_prefix: str,
    action_on_failure: str = "CONTINUE",
) -> dict[str, Any]:
    """An EMR step (for ``EmrAddStepsOperator``) that runs the same entry point with ``--profile aws``
    (:func:`shopstream.submit.hourly_emr_step`; the environment is the cluster's spark-defaults,
    rendered by Terraform)."""
    _check(step, entity, SPARK_STEPS)
    out = submit.hourly_emr_step(
        step, entity=entity, hour=check_hour(hour), run_id=run_id, artifacts_s3_prefix=artifacts_s3_prefix
    )
    out["ActionOnFailure"] = action_on_failure
    return out


def emr_vacuum_step(
    *, entity: str, retention_hours: int, run_id: str, artifacts_s3_prefix: str
) -> dict[str, Any]:
    """The maintenance VACUUM as an EMR step (``jobs/run_vacuum.py``; same arguments as locally)."""
    vacuum_args(profile="aws", entity=entity, retention_hours=retention_hours, run_id=run_id)  # checks
    return submit.vacuum_emr_step(
        entity=entity, retention_hours=retention_hours, run_id=run_id, artifacts_s3_prefix=artifacts_s3_prefix
    )


def vacuum_args(*, profile: str, entity: str, retention_hours: int, run_id: str) -> list[str]:
    """``jobs/run_vacuum.py``'s arguments (:func:`shopstream.submit.app_args`), within retention."""
    check_entity(entity)
    if retention_hours < VACUUM_MIN_RETENTION_HOURS:
        raise ValueError(
            f"vacuum retention {retention_hours}h is below the minimum {VACUUM_MIN_RETENTION_HOURS}h"
        )
    return submit.app_args(
        "vacuum", profile=profile, entity=entity, retention_hours=retention_hours, run_id=run_id
    )


# --- what an Airflow task runs ---------------------------------------------------------------------
def runner_argv(
    python: str, step: str, *, profile: str, entity: str, hour: datetime, run_id: str
) -> list[str]:
    """``<python> -m shopstream.orchestration run …``: one step on the machine the task runs on."""
    _check(step, entity)
    return [
        python,
        "-m",
        "shopstream.orchestration",
        "run",
        "--profile",
        profile,
        "--step",
        step,
        "--entity",
        entity,
        "--hour",
        format_hour(hour),
        "--run-id",
        run_id,
    ]


def corrections_argv(python: str, *, profile: str, entity: str, hour: datetime, run_id: str) -> list[str]:
    """``<python> -m shopstream.orchestration corrections …``: late-changed hours before ``hour``."""
    check_entity(entity)
    return [python, "-m", "shopstream.orchestration", "corrections", "--profile", profile, "--entity", entity,
            "--hour", format_hour(hour), "--run-id", run_id]  # fmt: skip


def vacuum_argv(python: str, *, profile: str, entity: str, retention_hours: int, run_id: str) -> list[str]:
    """``<python> -m shopstream.orchestration vacuum …`` (:func:`vacuum_args`): the local target's
    VACUUM of one bronze table; on EMR the same arguments follow ``jobs/run_vacuum.py``."""
    args = vacuum_args(profile=profile, entity=entity, retention_hours=retention_hours, run_id=run_id)
    return [python, "-m", "shopstream.orchestration", "vacuum", *args]


def ledger_summary_argv(python: str, *, profile: str, day_start: datetime) -> list[str]:
    """``<python> -m shopstream.orchestration ledger-summary …``: the ledger of the UTC day that
    starts at ``day_start`` (exit 1 when an hour differs)."""
    return [python, "-m", "shopstream.orchestration", "ledger-summary", "--profile", profile,
            "--day", f"{day_start:%Y-%m-%d}"]  # fmt: skip


def probe_argv(python: str, *, profile: str, entity: str, hour: datetime) -> list[str]:
    """``<python> -m shopstream.orchestration hour-closed …`` (exit 0 closed, 3 not yet)."""
    check_entity(entity)
    return [
        python,
        "-m",
        "shopstream.orchestration",
        "hour-closed",
        "--profile",
        profile,
        "--entity",
        entity,
        "--hour",
        format_hour(hour),
    ]


def connection_env(
    warehouse: Mapping[str, Any] | None = None, mart: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """``SHOPSTREAM_*`` overrides from two Airflow Connections (as plain dicts).

    * ``warehouse`` (Redshift, IAM authentication): host, port, schema (database), login (db
      user) and ``extra.cluster_identifier`` — no password exists.
    * ``mart`` (RDS PostgreSQL): host, port, login, schema (database) and the password, handed
      over as ``SHOPSTREAM_PG_PASSWORD`` (the variable the profile names).
    """
    env: dict[str, str] = {}
    if warehouse:
        extra = warehouse.get("extra") or {}
        pairs = {
            "SHOPSTREAM_WAREHOUSE__REDSHIFT_HOST": warehouse.get("host"),
            "SHOPSTREAM_WAREHOUSE__REDSHIFT_PORT": warehouse.get("port"),
            "SHOPSTREAM_WAREHOUSE__REDSHIFT_DATABASE": warehouse.get("schema"),
            "SHOPSTREAM_WAREHOUSE__REDSHIFT_DB_USER": warehouse.get("login"),
            "SHOPSTREAM_WAREHOUSE__REDSHIFT_CLUSTER_ID": extra.get("cluster_identifier"),
        }
        env.update({k: str(v) for k, v in pairs.items() if v not in (None, "")})
    if mart:
        pairs = {
            "SHOPSTREAM_POSTGRES__HOST": mart.get("host"),
            "SHOPSTREAM_POSTGRES__PORT": mart.get("port"),
            "SHOPSTREAM_POSTGRES__USER": mart.get("login"),
            "SHOPSTREAM_POSTGRES__MART_DB": mart.get("schema"),
            "SHOPSTREAM_PG_PASSWORD": mart.get("password"),
        }
        env.update({k: str(v) for k, v in pairs.items() if v not in (None, "")})
    return env


def previous_day_hours(day_start: datetime) -> list[datetime]:
    """The 24 UTC hours of the day that starts at ``day_start`` (the maintenance DAG's interval)."""
    start = check_hour(day_start)
    if start.hour:
        raise ValueError(f"{start.isoformat()} is not midnight UTC")
    return [start + timedelta(hours=i) for i in range(24)]
