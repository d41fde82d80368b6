"""The two targets behind the same DAGs, chosen at task run time (never while parsing).

``target()`` reads the Airflow Variable ``shopstream_target`` (``AIRFLOW_VAR_SHOPSTREAM_TARGET``
works too), defaulting to ``$SHOPSTREAM_TARGET`` and then ``local``.

* **local** — every step runs on this machine in the project's own virtualenv
  (``$SHOPSTREAM_PYTHON``, default ``<repo>/.venv/bin/python``) as a subprocess:
  ``python -m shopstream.orchestration run …`` (``shopstream.batch.run_step``; with
  ``SHOPSTREAM_LOCAL_SPARK_VIA=spark-submit`` the Spark steps run as the EMR step's spark-submit
  command line). Airflow's own environment stays light and a non-zero exit fails the task.
* **aws** — the Spark steps are EMR steps (``EmrAddStepsOperator`` + ``EmrStepSensor``) with the
  same entry point and arguments (``shopstream.orchestration.emr_step``); load, aggregate and
  reconcile run in the worker (the image holds this package) with the warehouse and mart
  credentials taken from Airflow Connections through the Redshift / Postgres hooks.

AWS settings come from the Airflow Variable ``shopstream_aws`` (JSON)::

    {"emr_cluster_id": "j-…", "artifacts_s3_prefix": "s3://…/emr/",
     "spark_conf": {"spark.yarn.appMasterEnv.SHOPSTREAM_PROFILE": "aws", …},
     "aws_conn_id": "aws_default", "redshift_conn_id": "shopstream_redshift",
     "mart_conn_id": "shopstream_mart", "stream_step_name": "stream-ingest"}
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("shopstream.airflow")

TARGETS = ("local", "aws")
AWS_DEFAULTS = {
    "aws_conn_id": "aws_default",
    "redshift_conn_id": "shopstream_redshift",
    "mart_conn_id": "shopstream_mart",
    "stream_step_name": "stream-ingest",
    "spark_conf": {},
}


class StepFailed(RuntimeError):
    """A step's command exited non-zero (the message carries the command's last lines)."""


# --- configuration, read at run time ---------------------------------------------------------------
def target() -> str:
    """The target the DAG files were parsed for (:func:`shopstream_dags.emr.parse_target`)."""
    from shopstream_dags.emr import parse_target

    return parse_target()


def aws_config() -> dict[str, Any]:
    """The Variable ``shopstream_aws``; cluster and artifacts default to the ``shopstream-endpoints``
    ConfigMap's ``SHOPSTREAM_EMR__CLUSTER_ID`` / ``SHOPSTREAM_EMR__ARTIFACTS`` (Terraform)."""
    from airflow.sdk import Variable

    cfg = Variable.get("shopstream_aws", default={}, deserialize_json=True) or {}
    fallback = {
        "emr_cluster_id": os.environ.get("SHOPSTREAM_EMR__CLUSTER_ID"),
        "artifacts_s3_prefix": os.environ.get("SHOPSTREAM_EMR__ARTIFACTS"),
    }
    merged = {**AWS_DEFAULTS, **{k: v for k, v in fallback.items() if v}, **cfg}
    missing = [k for k in ("emr_cluster_id", "artifacts_s3_prefix") if not merged.get(k)]
    if missing:
        raise ValueError(f"Airflow Variable shopstream_aws lacks {', '.join(missing)}")
    return merged


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
    from shopstream import orchestration as orch

    tgt = target()
    env = _worker_env(tgt, steps=("hour-closed",))
    argv = orch.probe_argv(project_python(tgt), profile=profile_for(tgt), entity=entity, hour=hour)
    code = run_command(argv, env=env, ok=(orch.CLOSED, orch.NOT_CLOSED))
    return code == orch.CLOSED


def run_step(step: str, entity: str, hour: datetime, run_id: str, context: Any) -> dict[str, Any]:
    """Run (local, worker) or submit (EMR) one step; returns what :func:`step_done` needs."""
    from shopstream import orchestration as orch

    tgt = target()
    if tgt == "aws" and step in orch.SPARK_STEPS:
        return _submit_emr_step(step, entity, hour, run_id, context)
    argv = orch.runner_argv(
        project_python(tgt), step, profile=profile_for(tgt), entity=entity, hour=hour, run_id=run_id
    )
    run_command(argv, env=_worker_env(tgt, steps=(step,)))
    return {"target": tgt, "step": step, "entity": entity, "run_id": run_id, "emr_step_id": None}


def corrections(entity: str, hour: datetime, run_id: str) -> list[str]:
    """Late-event corrections before ``hour`` (local target): ``shopstream.orchestration corrections``."""
    from shopstream import orchestration as orch

    tgt = target()
    argv = orch.corrections_argv(
        project_python(tgt), profile=profile_for(tgt), entity=entity, hour=hour, run_id=run_id
    )
    import json

    out: list[str] = []
    run_command(argv, env=_worker_env(tgt, steps=orch.STEPS), on_line=out.append)
    result = json.loads(next(line for line in reversed(out) if line.startswith("{")))
    return list(result["corrected"])


def step_done(submitted: Mapping[str, Any], context: Any) -> bool:
    """True when the step finished; raises if the EMR step failed or was cancelled."""
    step_id = submitted.get("emr_step_id")
    if not step_id:
        return True  # ran synchronously (local target, or a worker step)
    from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor

    cfg = aws_config()
    sensor = EmrStepSensor(
        task_id=f"{context['ti'].task_id}__emr_step",
        job_flow_id=cfg["emr_cluster_id"],
        step_id=step_id,
        aws_conn_id=cfg["aws_conn_id"],
    )
    return bool(sensor.poke(context))


def _submit_emr_step(step: str, entity: str, hour: datetime, run_id: str, context: Any) -> dict[str, Any]:
    from shopstream import orchestration as orch

    cfg = aws_config()
    definition = orch.emr_step(
        step,
        entity=entity,
        hour=hour,
        run_id=run_id,
        artifacts_s3_prefix=cfg["artifacts_s3_prefix"],
    )
    return {
        "target": "aws",
        "step": step,
        "entity": entity,
        "run_id": run_id,
        "emr_step_id": _add_emr_steps(cfg, [definition], context)[0],
    }


def _add_emr_steps(cfg: Mapping[str, Any], steps: list[dict[str, Any]], context: Any) -> list[str]:
    from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator

    op = EmrAddStepsOperator(
        task_id=f"{context['ti'].task_id}__emr_add_steps",
        job_flow_id=cfg["emr_cluster_id"],
        steps=steps,
        aws_conn_id=cfg["aws_conn_id"],
        wait_for_completion=False,
        do_xcom_push=False,
    )
    step_ids = list(op.execute(context))
    log.info("added EMR steps %s to %s", step_ids, cfg["emr_cluster_id"])
    return step_ids


def _worker_env(tgt: str, steps: Sequence[str]) -> dict[str, str]:
    """On AWS: the warehouse and mart credentials from Airflow Connections, as SHOPSTREAM_* env."""
    if tgt != "aws":
        return {}
    from shopstream import orchestration as orch

    cfg = aws_config()
    needs_warehouse = any(s in ("load", "aggregate", "reconcile") for s in steps)
    needs_mart = any(s in ("export", "load", "aggregate", "reconcile", "ledger-summary") for s in steps)
    warehouse = mart = None
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
    """Check that the long-running stream-ingest job is alive; start it again if it is not."""
    tgt = target()
    if tgt == "aws":
        return _ensure_emr_stream(context)
    python = project_python(tgt)
    status = run_command([python, "-m", "shopstream", "stream", "status"], ok=(0, 1))
    if status == 0:
        return {"target": tgt, "alive": True, "restarted": False}
    log.warning("the stream-ingest job is not running; starting it")
    run_command([python, "-m", "shopstream", "stream", "start"])
    run_command([python, "-m", "shopstream", "stream", "status"])
    return {"target": tgt, "alive": False, "restarted": True}


def _ensure_emr_stream(context: Any) -> dict[str, Any]:
    from airflow.providers.amazon.aws.hooks.emr import EmrHook

    cfg = aws_config()
    name = cfg["stream_step_name"]
    emr = EmrHook(aws_conn_id=cfg["aws_conn_id"]).conn
    cluster = cfg["emr_cluster_id"]
    live = emr.list_steps(ClusterId=cluster, StepStates=["PENDING", "RUNNING"]).get("Steps", [])
    if any(s["Name"] == name for s in live):
        return {"target": "aws", "alive": True, "restarted": False}
    # ListSteps returns the newest first: re-submit the last definition Terraform (or we) gave it.
    last = None
    for page in emr.get_paginator("list_steps").paginate(ClusterId=cluster):
        last = next((s for s in page.get("Steps", []) if s["Name"] == name), None)
        if last:
            break
    if last is None:
        raise RuntimeError(f"no step named {name!r} was ever run on {cluster}; nothing to restart")
    cfg_step = last["Config"]
    state = last["Status"]["State"]
    log.warning("stream step %s is %s; re-submitting it", last["Id"], state)
    definition = {
        "Name": name,
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": cfg_step["Jar"], "Args": list(cfg_step.get("Args", []))},
    }
    step_ids = _add_emr_steps(cfg, [definition], context)
    return {
        "target": "aws",
        "alive": False,
        "restarted": True,
        "previous_state": state,
        "step_id": step_ids[0],
    }


# --- maintenance --------------------------------------------------------------------------------------
def vacuum(entity: str, retention_hours: int, run_id: str, context: Any) -> dict[str, Any]:
    """VACUUM one bronze table (never below 7 days): locally through the library, on EMR as the
    ``jobs/run_vacuum.py`` entry point."""
    from shopstream import orchestration as orch

    tgt = target()
    if tgt == "aws":
        cfg = aws_config()
        definition = orch.emr_vacuum_step(
            entity=entity,
            retention_hours=retention_hours,
            run_id=run_id,
            artifacts_s3_prefix=cfg["artifacts_s3_prefix"],
        )
        return {"target": tgt, "emr_step_id": _add_emr_steps(cfg, [definition], context)[0]}
    orch.vacuum_args(profile="local", entity=entity, retention_hours=retention_hours, run_id=run_id)
    argv = [
        project_python(tgt),
        "-m",
        "shopstream.orchestration",
        "vacuum",
        "--profile",
        profile_for(tgt),
        "--entity",
        entity,
        "--retention-hours",
        str(retention_hours),
        "--run-id",
        run_id,
    ]
    run_command(argv)
    return {"target": tgt, "emr_step_id": None}


def ledger_summary(day_start: datetime) -> None:
    """Print the ledger of the day that starts at ``day_start``; fail when an hour differs."""
    tgt = target()
    argv = [
        project_python(tgt),
        "-m",
        "shopstream.orchestration",
        "ledger-summary",
        "--profile",
        profile_for(tgt),
        "--day",
        f"{day_start:%Y-%m-%d}",
    ]
    run_command(argv, env=_worker_env(tgt, steps=("ledger-summary",)))
