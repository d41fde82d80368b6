"""Defaults, knobs and the failure callback shared by every shopstream DAG.

Parse-time knobs are environment variables only (no Variable/DB/network access while the DAG
file is parsed); everything else — above all the target (local | aws) — is read at task run
time by :mod:`shopstream_dags.targets`.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger("shopstream.airflow")

# A fixed UTC start date: the first hour these DAGs may ever be scheduled for. Runs before the
# deployment exist only when someone backfills on purpose (catchup is off).
START_DATE = datetime(2026, 11, 1, tzinfo=UTC)
OWNER = "shopstream"


def env_seconds(name: str, default: float) -> float:
    """A duration knob from the environment (seconds); a bad value fails parsing loudly."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = float(raw)
    if value <= 0:
        raise ValueError(f"{name} must be > 0 seconds, got {raw!r}")
    return value


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def sensor_mode() -> str:
    """``reschedule`` (default: no worker slot while waiting). ``poke`` exists for ``dag.test()``
    runs only: Airflow 3.1.2's in-process test supervisor hands the first reschedule date back as a
    string, so a rescheduled sensor cannot reach its timeout there."""
    mode = os.environ.get("SHOPSTREAM_AIRFLOW_SENSOR_MODE", "reschedule")
    if mode not in ("reschedule", "poke"):
        raise ValueError(f"SHOPSTREAM_AIRFLOW_SENSOR_MODE must be reschedule or poke, got {mode!r}")
    return mode


def default_args() -> dict[str, Any]:
    """Retries with exponential backoff, a hard time limit per task, the failure report."""
    return {
        "owner": OWNER,
        "retries": env_int("SHOPSTREAM_AIRFLOW_RETRIES", 3),
        "retry_delay": timedelta(seconds=env_seconds("SHOPSTREAM_AIRFLOW_RETRY_DELAY", 60)),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(seconds=env_seconds("SHOPSTREAM_AIRFLOW_TASK_TIMEOUT", 3600)),
        "depends_on_past": False,
        "on_failure_callback": report_failure,
    }


def failure_message(context: Any) -> str:
    """One line that says what failed: DAG, task, hour (data interval), run, try and the error."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    interval = f"{start:%Y-%m-%dT%H:%M}Z..{end:%Y-%m-%dT%H:%M}Z" if start and end else "?"
    exc = context.get("exception")
    error = f"{type(exc).__name__}: {exc}" if exc is not None else context.get("reason") or "see the task log"
    error = " ".join(str(error).split())[:500]
    return (
        f"shopstream FAILED dag={dag_id} task={task_id} interval={interval} "
        f"run={context.get('run_id', '?')} try={getattr(ti, 'try_number', '?')} error={error}"
    )


def report_failure(context: Any) -> None:
    """on_failure_callback: log the failure line; publish it to SNS when a topic is configured.

    Never raises (a broken alert must not hide the original failure).
    """
    message = failure_message(context)
    log.error(message)
    topic = os.environ.get("SHOPSTREAM_ALERT_SNS_TOPIC_ARN")
    if not topic:
        return
    try:
        from airflow.providers.amazon.aws.hooks.sns import SnsHook

        SnsHook().publish_to_target(target_arn=topic, message=message, subject="shopstream task failed")
    except Exception:  # reporting is best effort; the task is already failed
        log.exception("could not publish the failure to %s", topic)


def report_dag_failure(context: Any) -> None:
    """DAG-level on_failure_callback: which tasks of the run failed."""
    dag_run = context.get("dag_run")
    failed: list[str] = []
    if dag_run is not None:
        try:
            failed = [
                ti.task_id
                for ti in dag_run.get_task_instances()
                if str(ti.state) in ("failed", "upstream_failed")
            ]
        except Exception:  # the list is a nicety; the run is failed either way
            log.debug("could not list the run's task instances", exc_info=True)
    log.error(
        "shopstream RUN FAILED dag=%s run=%s interval_start=%s failed_tasks=%s",
        getattr(dag_run, "dag_id", "?"),
        context.get("run_id", "?"),
        context.get("data_interval_start"),
        ",".join(failed) or "?",
    )
