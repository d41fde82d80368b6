"""The aws target's EMR tasks, built when the DAG file is parsed: provider operators, not code
that calls them.

The target is chosen at parse time from the environment (``AIRFLOW_VAR_SHOPSTREAM_TARGET``, the
env form of the Variable ``shopstream_target``, then ``SHOPSTREAM_TARGET``; default ``local``), so
a DAG run never changes shape while it runs. The cluster and the artifacts prefix come from the
``shopstream-endpoints`` ConfigMap Terraform renders (``SHOPSTREAM_EMR__CLUSTER_ID``,
``SHOPSTREAM_EMR__ARTIFACTS``); without them, from the Variable ``shopstream_aws`` when the task
runs (a template). Each step definition is :func:`shopstream.submit.hourly_emr_step` with the
hour and run id left as templates Airflow renders per run.
"""

from __future__ import annotations

import os
from typing import Any

TARGETS = ("local", "aws")
HOUR = "{{ data_interval_start.strftime('%Y-%m-%dT%H') }}"
RUN_ID = "{{ batch_run_id(run_id) }}"


def parse_target() -> str:
    value = os.environ.get("AIRFLOW_VAR_SHOPSTREAM_TARGET") or os.environ.get("SHOPSTREAM_TARGET") or "local"
    value = value.strip().lower()
    if value not in TARGETS:
        raise ValueError(f"shopstream_target must be one of {', '.join(TARGETS)}, got {value!r}")
    return value


def settings() -> dict[str, Any]:
    """Where the aws target submits (parse time; templates fall back to the Variable)."""
    return {
        "cluster_id": os.environ.get("SHOPSTREAM_EMR__CLUSTER_ID")
        or "{{ var.json.shopstream_aws.emr_cluster_id }}",
        "artifacts": os.environ.get("SHOPSTREAM_EMR__ARTIFACTS")
        or "{{ var.json.shopstream_aws.artifacts_s3_prefix }}",
        "aws_conn_id": os.environ.get("SHOPSTREAM_AWS_CONN_ID", "aws_default"),
        # the triggerer waits instead of a worker slot; dag.test() runs the trigger in-process
        "deferrable": os.environ.get("SHOPSTREAM_AIRFLOW_DEFERRABLE", "true").lower() in ("1", "true", "yes"),
    }


def step_definitions(step: str, entity: str, artifacts: str) -> list[dict[str, Any]]:
    from shopstream.submit import hourly_emr_step

    return [hourly_emr_step(step, entity=entity, hour=HOUR, run_id=RUN_ID, artifacts_s3_prefix=artifacts)]


def spark_step_tasks(
    step: str, entity: str, *, poke_interval: float, timeout: float, mode: str
) -> tuple[Any, Any]:
    """``submit_<step>`` (EmrAddStepsOperator) → ``wait_<step>`` (EmrStepSensor)."""
    from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator
    from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor

    cfg = settings()
    add = EmrAddStepsOperator(
        task_id=f"submit_{step}",
        job_flow_id=cfg["cluster_id"],
        aws_conn_id=cfg["aws_conn_id"],
        steps=step_definitions(step, entity, cfg["artifacts"]),
        wait_for_completion=False,
    )
    wait = EmrStepSensor(
        task_id=f"wait_{step}",
        job_flow_id=cfg["cluster_id"],
        step_id=f"{{{{ ti.xcom_pull(task_ids='submit_{step}')[0] }}}}",
        aws_conn_id=cfg["aws_conn_id"],
        deferrable=cfg["deferrable"],
        poke_interval=poke_interval,
        timeout=timeout,
        mode=mode,
    )
    add >> wait
    return add, wait
