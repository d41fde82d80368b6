"""
### shopstream hourly batch — one DAG per entity (`shopstream_hourly_users`, `shopstream_hourly_orders`)

Each run processes **one closed UTC hour H = `data_interval_start`** (the schedule is a
*data-interval* cron timetable: the run for [H, H+1h) starts right after H+1h):

1. `wait_hour_closed` — sensor (reschedule mode: no worker slot while waiting) until the
   streaming job's watermark says hour H is complete. It **fails** (never skips) when the hour is
   still open after `SHOPSTREAM_AIRFLOW_HOUR_CLOSED_TIMEOUT` seconds (default 3 h).
2. `submit_compact` → `wait_compact` — OPTIMIZE hour H of the bronze table (`dataChange=false`).
3. `submit_export` → `wait_export` — hour H as Parquet + a COPY manifest under this run's prefix.
4. `load` — COPY into the warehouse staging table and replace hour H in one transaction.
5. `aggregate` — upsert hour H's aggregates into the mart.
6. `reconcile` — ledger check: **fails the run on any difference** between stages.

Every step is idempotent for (entity, hour): retries, re-runs and backfills
(`airflow backfill create --dag-id shopstream_hourly_orders --from-date … --to-date …`) replace
the hour instead of adding to it. Nothing reads the clock: the hour comes from the data interval.

**Targets** (Airflow Variable `shopstream_target`, read when a task runs): `local` runs the steps
in the project's virtualenv on this machine; `aws` adds the Spark steps to the EMR cluster
(`EmrAddStepsOperator` + `EmrStepSensor`, the same `jobs/*.py` entry point and arguments) and
runs the SQL steps with credentials from the Airflow Connections `shopstream_redshift` and
`shopstream_mart`. See `airflow/README.md`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable
from shopstream_dags.common import (
    START_DATE,
    default_args,
    env_int,
    env_seconds,
    report_dag_failure,
    sensor_mode,
)

from shopstream.contract import entities
from shopstream.orchestration import SPARK_STEPS, STEPS

HOUR_CLOSED_TIMEOUT = env_seconds("SHOPSTREAM_AIRFLOW_HOUR_CLOSED_TIMEOUT", 3 * 3600)
HOUR_CLOSED_POKE = env_seconds("SHOPSTREAM_AIRFLOW_POKE_INTERVAL", 120)
EMR_STEP_POKE = env_seconds("SHOPSTREAM_AIRFLOW_EMR_POKE_INTERVAL", 30)
EMR_STEP_TIMEOUT = env_seconds("SHOPSTREAM_AIRFLOW_EMR_STEP_TIMEOUT", 2 * 3600)
# Two hours in flight at most: a backfill makes progress while the current hour runs, and the
# local machine (two cores) never runs more than two Spark drivers for this DAG.
MAX_ACTIVE_RUNS = env_int("SHOPSTREAM_AIRFLOW_MAX_ACTIVE_RUNS", 2)


def build_hourly_dag(entity: str) -> Any:
    @dag(
        dag_id=f"shopstream_hourly_{entity}",
        description=f"Closed hour of {entity}: compact → export → load → aggregate → reconcile",
        schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=MAX_ACTIVE_RUNS,
        dagrun_timeout=timedelta(hours=8),
        default_args=default_args(),
        on_failure_callback=report_dag_failure,
        tags=["shopstream", "hourly", "batch", entity],
        doc_md=__doc__,
    )
    def hourly() -> None:
        @task.sensor(
            task_id="wait_hour_closed",
            mode=sensor_mode(),
            poke_interval=HOUR_CLOSED_POKE,
            timeout=HOUR_CLOSED_TIMEOUT,
            soft_fail=False,
        )
        def wait_hour_closed(data_interval_start: datetime | None = None) -> bool:
            from shopstream_dags import targets

            assert data_interval_start is not None
            return targets.hour_closed(entity, data_interval_start)

        @task
        def run_step(
            step: str,
            data_interval_start: datetime | None = None,
            run_id: str | None = None,
            **context: Any,
        ) -> dict[str, Any]:
            from shopstream_dags import targets

            from shopstream.orchestration import batch_run_id

            assert data_interval_start is not None and run_id is not None
            return targets.run_step(step, entity, data_interval_start, batch_run_id(run_id), context)

        @task.sensor(mode=sensor_mode(), poke_interval=EMR_STEP_POKE, timeout=EMR_STEP_TIMEOUT)
        def wait_step(submitted: dict[str, Any], **context: Any) -> bool:
            from shopstream_dags import targets

            return targets.step_done(submitted, context)

        upstream: Any = wait_hour_closed()
        for step in STEPS:
            if step in SPARK_STEPS:
                submitted = run_step.override(task_id=f"submit_{step}")(step)
                done = wait_step.override(task_id=f"wait_{step}")(submitted)
                upstream >> submitted
                upstream = done
            else:
                ran = run_step.override(task_id=step)(step)
                upstream >> ran
                upstream = ran

    return hourly()


for _entity in entities():  # one DAG per entity of the contract (conf/contract.yaml, read once)
    globals()[f"shopstream_hourly_{_entity}"] = build_hourly_dag(_entity)
