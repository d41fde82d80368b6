"""The aws target's EMR tasks, built when the DAG file is parsed: provider operators, not code
that calls them.

The target is chosen at parse time from the environment (``AIRFLOW_VAR_SHOPSTREAM_TARGET``, the
env form of the Variable ``shopstream_target``, then ``SHOPSTREAM_TARGET``; default ``local``), so
a DAG run never changes shape while it runs. The cluster and the artifacts prefix come from the
``shopstream-endpoints`` ConfigMap Terraform renders (``SHOPSTREAM_EMR__CLUSTER_ID``,
``SHOPSTREAM_EMR__ARTIFACTS``); without them, from the Variable ``shopstream_aws`` when the task
runs (a template). Each step definition is :func:`shopstream.submit.hourly_emr_step` with the
hour and run id left as templates Airflow renders per run.

* hourly: ``submit_<step>`` → ``wait_<step>`` per Spark step (:func:`spark_step_tasks`);
* maintenance: ``submit_vacuum_<entity>`` → ``wait_vacuum_<entity>`` (:func:`vacuum_tasks`);
* stream keeper: ``check_stream`` (a short-circuit task: ListSteps) → ``restart_stream`` →
  ``wait_stream_running`` (:func:`stream_keeper_tasks`).
"""

from __future__ import annotations

import os
from typing import Any

TARGETS = ("local", "aws")
HOUR = "{{ data_interval_start.strftime('%Y-%m-%dT%H') }}"
RUN_ID = "{{ batch_run_id(run_id) }}"
RETENTION = "{{ params.retention_hours }}"  # the maintenance DAG's Param (minimum 168)
# EMR step states: the stream step must reach RUNNING; these end a restart as failed
STREAM_FAILED_STATES = ["CANCELLED", "FAILED", "INTERRUPTED", "COMPLETED"]


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
    """``submit_<step>`` (EmrAddStepsOperator) → ``wait_<step>`` (EmrStepSensor, deferrable)."""
    steps = step_definitions(step, entity, settings()["artifacts"])
    return _add_and_wait(
        f"submit_{step}", f"wait_{step}", steps, poke_interval=poke_interval, timeout=timeout, mode=mode
    )


def _add_and_wait(
    submit_id: str, wait_id: str, steps: Any, *, poke_interval: float, timeout: float, mode: str, **wait: Any
) -> tuple[Any, Any]:
    from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator
    from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor

    cfg = settings()
    add = EmrAddStepsOperator(
        task_id=submit_id,
        job_flow_id=cfg["cluster_id"],
        aws_conn_id=cfg["aws_conn_id"],
        steps=steps,
        wait_for_completion=False,
    )
    sensor = EmrStepSensor(
        task_id=wait_id,
        job_flow_id=cfg["cluster_id"],
        step_id=f"{{{{ ti.xcom_pull(task_ids='{submit_id}')[0] }}}}",
        aws_conn_id=cfg["aws_conn_id"],
        poke_interval=poke_interval,
        timeout=timeout,
        mode=mode,
        **({"deferrable": cfg["deferrable"]} | wait),
    )
    add >> sensor
    return add, sensor


def vacuum_tasks(entity: str, *, poke_interval: float, timeout: float, mode: str) -> tuple[Any, Any]:
    """``submit_vacuum_<entity>`` → ``wait_vacuum_<entity>`` (deferrable): ``jobs/run_vacuum.py``
    with the run's ``retention_hours`` Param (the entry point refuses less than 7 days too)."""
    from shopstream.submit import vacuum_emr_step

    cfg = settings()
    step = vacuum_emr_step(entity=entity, retention_hours=RETENTION, run_id=RUN_ID,
                           artifacts_s3_prefix=cfg["artifacts"])  # fmt: skip
    return _add_and_wait(
        f"submit_vacuum_{entity}", f"wait_vacuum_{entity}", [step],
        poke_interval=poke_interval, timeout=timeout, mode=mode,
    )  # fmt: skip


def stream_keeper_tasks(*, poke_interval: float, timeout: float, mode: str) -> tuple[Any, Any, Any]:
    """``check_stream`` → ``restart_stream`` → ``wait_stream_running``.

    ``check_stream`` (ListSteps) short-circuits the rest while a ``stream-ingest`` step is PENDING
    or RUNNING; otherwise it returns the step to add (XCom, rendered into the operator's
    ``steps``): the newest definition the cluster ran (Terraform's, with its extra arguments), or
    the builder's (:func:`shopstream.submit.stream_emr_step`) when none ever ran. The sensor waits
    for RUNNING, not completion: the provider's trigger only waits for terminal states, so this
    one sensor is not deferrable (reschedule mode holds no slot while waiting)."""
    from airflow.sdk import task

    cfg = settings()

    @task.short_circuit(task_id="check_stream")
    def check_stream(job_flow_id: str) -> list[dict[str, Any]]:
        from shopstream_dags import targets

        return targets.stream_restart_steps(job_flow_id, cfg["aws_conn_id"], cfg["artifacts"])

    check = check_stream(cfg["cluster_id"])
    add, wait = _add_and_wait(
        "restart_stream", "wait_stream_running", "{{ ti.xcom_pull(task_ids='check_stream') }}",
        poke_interval=poke_interval, timeout=timeout, mode=mode,
        deferrable=False, target_states=["RUNNING"], failed_states=STREAM_FAILED_STATES,
    )  # fmt: skip
    check >> add
    return check, add, wait
