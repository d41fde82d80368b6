"""What the DAGs' ordinary tasks run, on either target (chosen when the DAG files are parsed:
:func:`shopstream_dags.emr.parse_target`).

* **local** — every step runs on this machine in the project's own virtualenv
  (``$SHOPSTREAM_PYTHON``, default ``<repo>/.venv/bin/python``) as a subprocess:
  ``python -m shopstream.orchestration run …`` (``shopstream.batch.run_step``; with
  ``SHOPSTREAM_LOCAL_SPARK_VIA=spark-submit`` the Spark steps run as the EMR step's spark-submit
  command line). Airflow's own environment stays light and a non-zero exit fails the task.
* **aws** — the Spark entry points are EMR steps, i.e. provider operators built at parse time
  (:mod:`shopstream_dags.emr`); this module runs only the worker steps (hour closed?, load,
  aggregate, the ledger summary) and the stream keeper's ListSteps check, with the warehouse
  and mart credentials taken from Airflow Connections through the Redshift / Postgres hooks.

The Airflow Variable ``shopstream_aws`` (JSON) overrides the connection ids::

    {"redshift_conn_id": "shopstream_redshift", "mart_conn_id": "shopstream_mart"}
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import shopstream.orchestration as orch
from shopstream.submit import STREAM_STEP_NAME, stream_emr_step
from shopstream_dags.emr import parse_target

log = logging.getLogger("shopstream.airflow")

TARGETS = ("local", "aws")
AWS_DEFAULTS = {
    "aws_conn_id": "aws_default",
    "redshift_conn_id": "shopstream_redshift",
    "mart_conn_id": "shopstream_mart",
}


class StepFailed(RuntimeError):
    """A step's command exited non-zero (the message carries the command's last lines)."""


# --- configuration, read at run time ---------------------------------------------------------------
def target() -> str:
    """The target the DAG files were parsed for (:func:`shopstream_dags.emr.parse_target`)."""
    return parse_target()


def aws_config() -> dict[str, Any]:
    """The connection ids of the worker steps: :data:`AWS_DEFAULTS` under the Variable
    ``shopstream_aws`` (the EMR cluster and artifacts prefix are the parse-time operators')."""
    # local: Airflow is installed only in the Airflow venv, and the IAM least-privilege test
    # imports this module in the project's venv to read AWS_DEFAULTS
    from airflow.sdk import Variable

    cfg = Variable.get("shopstream_aws", default={}, deserialize_json=True) or {}
    return {**AWS_DEFAULTS, **cfg}


def repo_root() -> Path:
    env = os.environ.get("SHOPSTREAM_REPO")
    return Path(env) if env else Path(__file__).resolve().parents[3]


def project_python(tgt: str) -> str:
    """The interpreter that has shopstream and its engines (local: the repo's .venv)."""
    env = os.environ.get("SHOPSTREAM_PYTHON")
    if env:
        return env
    if tgt == "aws":
        return sys.executable  # the Airflow image installs the shopstream wheel next to Airflow
    return str(repo_root() / ".venv" / "bin" / "python")


def profile_for(tgt: str) -> str:
    return "aws" if tgt == "aws" else os.environ.get("SHOPSTREAM_PROFILE", "local")


# --- running a command --------------------------------------------------------------------------------
def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    ok: Sequence[int] = (0,),
    on_line: Any = None,
) -> int:
    """Run ``argv``, stream its output into the task log, return its exit code.

    An exit code outside ``ok`` raises :class:`StepFailed` (so the task fails and retries).
    Secrets passed in ``env`` are never logged.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    log.info("running: %s", " ".join(argv))
    tail: list[str] = []
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=full_env,
        cwd=str(repo_root()) if repo_root().is_dir() else None,
        text=True,
        errors="replace",
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip("\n")
        log.info("| %s", line)
        tail = [*tail[-19:], line]
        if on_line is not None:
            on_line(line)
    code = proc.wait()
    if code not in ok:
        last = "\n".join(tail[-10:])
        raise StepFailed(f"command exited {code}: {' '.join(argv[:6])} …\n{last}")
    return code


# --- the hourly steps ---------------------------------------------------------------------------------
def hour_closed(entity: str, hour: datetime) -> bool:
    """Has the stream's watermark passed hour + 1h? (both targets ask the lake through the library)."""
    tgt = target()
    env = _worker_env(tgt, steps=("hour-closed",))
    argv = orch.probe_argv(project_python(tgt), profile=profile_for(tgt), entity=entity, hour=hour)
    code = run_command(argv, env=env, ok=(orch.CLOSED, orch.NOT_CLOSED))
    return code == orch.CLOSED


def run_step(step: str, entity: str, hour: datetime, run_id: str, context: Any) -> dict[str, Any]:
    """Run one step on this machine (local: every step; aws: the worker steps — the Spark steps
    are provider operators there, :mod:`shopstream_dags.emr`)."""
    tgt = target()
    if tgt == "aws" and step in orch.SPARK_STEPS:
        raise ValueError(f"{step} is an EMR step on the aws target (shopstream_dags.emr)")
    argv = orch.runner_argv(
        project_python(tgt), step, profile=profile_for(tgt), entity=entity, hour=hour, run_id=run_id
    )
    run_command(argv, env=_worker_env(tgt, steps=(step,)))
    return {"target": tgt, "step": step, "entity": entity, "run_id": run_id, "emr_step_id": None}


def corrections(entity: str, hour: datetime, run_id: str) -> list[str]:
    """Late-event corrections before ``hour`` (local target): ``shopstream.orchestration corrections``."""
    tgt = target()
    argv = orch.corrections_argv(
        project_python(tgt), profile=profile_for(tgt), entity=entity, hour=hour, run_id=run_id
    )
    out: list[str] = []
    run_command(argv, env=_worker_env(tgt, steps=orch.STEPS), on_line=out.append)
    result = json.loads(next(line for line in reversed(out) if line.startswith("{")))
    return list(result["corrected"])


def _worker_env(tgt: str, steps: Sequence[str]) -> dict[str, str]:
    """On AWS: the warehouse and mart credentials from Airflow Connections, as SHOPSTREAM_* env."""
    if tgt != "aws":
        return {}
    cfg = aws_config()
    needs_warehouse = any(s in ("load", "aggregate", "reconcile") for s in steps)
    needs_mart = any(s in ("export", "load", "aggregate", "reconcile", "ledger-summary") for s in steps)
    warehouse = mart = None
    # the providers' hooks: the aws target's only (the local target's workers may lack them)
    if needs_warehouse:
        from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

        warehouse = _conn_dict(RedshiftSQLHook.get_connection(cfg["redshift_conn_id"]))
    if needs_mart:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        mart = _conn_dict(PostgresHook.get_connection(cfg["mart_conn_id"]))
    return {"SHOPSTREAM_PROFILE": "aws", **orch.connection_env(warehouse=warehouse, mart=mart)}


def _conn_dict(conn: Any) -> dict[str, Any]:
    return {
        "host": conn.host,
        "port": conn.port,
        "login": conn.login,
        "password": conn.password,
        "schema": conn.schema,
        "extra": conn.extra_dejson,
    }


# --- stream keeper ------------------------------------------------------------------------------------
def ensure_stream(context: Any) -> dict[str, Any]:
    """Local target: is the stream-ingest job alive? Start it again (from its checkpoint) if not."""
    tgt = target()
    python = project_python(tgt)
    status = run_command([python, "-m", "shopstream", "stream", "status"], ok=(0, 1))
    if status == 0:
        return {"target": tgt, "alive": True, "restarted": False}
    log.warning("the stream-ingest job is not running; starting it")
    run_command([python, "-m", "shopstream", "stream", "start"])
    run_command([python, "-m", "shopstream", "stream", "status"])
    return {"target": tgt, "alive": False, "restarted": True}


def stream_restart_steps(cluster: str, aws_conn_id: str, artifacts: str) -> list[dict[str, Any]]:
    """The aws target's check: [] while a ``stream-ingest`` step is PENDING or RUNNING (the keeper
    short-circuits), else the step to add — the newest definition of that step the cluster ran
    (Terraform's, with its extra arguments), or the builder's when none ever ran."""
    # the Amazon provider: the aws target's only (the local target's workers may lack it)
    from airflow.providers.amazon.aws.hooks.emr import EmrHook

    emr = EmrHook(aws_conn_id=aws_conn_id).conn
    live = emr.list_steps(ClusterId=cluster, StepStates=["PENDING", "RUNNING"]).get("Steps", [])
    if any(s["Name"] == STREAM_STEP_NAME for s in live):
        return []
    last = None  # ListSteps returns the newest first
    for page in emr.get_paginator("list_steps").paginate(ClusterId=cluster):
        last = next((s for s in page.get("Steps", []) if s["Name"] == STREAM_STEP_NAME), None)
        if last:
            break
    if last is None:
        log.warning("no %s step ever ran on %s; adding the builder's", STREAM_STEP_NAME, cluster)
        return [stream_emr_step(artifacts)]
    log.warning("stream step %s is %s; adding it again", last["Id"], last["Status"]["State"])
    config = last["Config"]
    return [
        {
            "Name": STREAM_STEP_NAME,
            "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {"Jar": config["Jar"], "Args": list(config.get("Args", []))},
        }
    ]


# --- maintenance --------------------------------------------------------------------------------------
def vacuum(entity: str, retention_hours: int, run_id: str) -> None:
    """VACUUM one bronze table here (local target; never below 7 days). On the aws target it is
    the ``jobs/run_vacuum.py`` EMR step (:func:`shopstream_dags.emr.vacuum_tasks`)."""
    tgt = target()
    argv = orch.vacuum_argv(
        project_python(tgt), profile=profile_for(tgt), entity=entity, retention_hours=retention_hours,
        run_id=run_id,
    )  # fmt: skip
    run_command(argv)


def ledger_summary(day_start: datetime) -> None:
    """Print the ledger of the day that starts at ``day_start``; fail when an hour differs."""
    tgt = target()
    argv = orch.ledger_summary_argv(project_python(tgt), profile=profile_for(tgt), day_start=day_start)
    run_command(argv, env=_worker_env(tgt, steps=("ledger-summary",)))
