"""
### shopstream hourly batch — one DAG per entity (`shopstream_hourly_users`, `shopstream_hourly_orders`)

Each run processes **one closed UTC hour H = `data_interval_start`** (the schedule is a
*data-interval* cron timetable: the run for [H, H+1h) starts right after H+1h):

1. `wait_hour_closed` — sensor (reschedule mode: no worker slot while waiting) until the
   streaming job's watermark says hour H is complete. It **fails** (never skips) when the hour is
   still open after `SHOPSTREAM_AIRFLOW_HOUR_CLOSED_TIMEOUT` seconds (default 3 h).
2. `compact` — OPTIMIZE hour H of the bronze table (`dataChange=false`).
3. `export` — hour H as Parquet + a COPY manifest under this run's prefix.
4. `load` — COPY into the warehouse staging table and replace hour H in one transaction.
5. `aggregate` — upsert hour H's aggregates into the mart.
6. `reconcile` — recount from Kafka, ledger check: **fails the run on any difference**.
7. `corrections` — hours before H whose bronze changed after they were processed (late events)
   are re-run through every step, as `shopstream batch run` does (`shopstream.hourly.corrections`;
   on the aws target the `jobs/run_corrections.py` EMR step `submit_corrections` → `wait_corrections`).

Every step is idempotent for (entity, hour): retries, re-runs and backfills
(`airflow backfill create --dag-id shopstream_hourly_orders --from-date … --to-date …`) replace
the hour instead of adding to it. Nothing reads the clock: the hour comes from the data interval.

**Targets**, chosen when the file is parsed (`AIRFLOW_VAR_SHOPSTREAM_TARGET`, i.e. the Variable
`shopstream_target` from the environment): `local` runs every step as a task in the project's
virtualenv on this machine; `aws` makes each Spark entry point (compact, export, reconcile,
corrections) a
`submit_<step>` `EmrAddStepsOperator` → `wait_<step>` `EmrStepSensor` (deferrable) pair running
the `jobs/run_<step>.py` entry point the one builder (`shopstream.submit`) renders, and runs load
and aggregate in the worker with credentials from the Airflow Connections `shopstream_redshift`
and `shopstream_mart`. See `airflow/README.md`.
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
from shopstream_dags.emr import parse_target, spark_step_tasks

from shopstream.contract import entities
from shopstream.orchestration import SPARK_STEPS, STEPS, batch_run_id

HOUR_CLOSED_TIMEOUT = env_seconds("SHOPSTREAM_AIRFLOW_HOUR_CLOSED_TIMEOUT", 3 * 3600)
HOUR_CLOSED_POKE = env_seconds("SHOPSTREAM_AIRFLOW_POKE_INTERVAL", 120)
EMR_STEP_POKE = env_seconds("SHOPSTREAM_AIRFLOW_EMR_POKE_INTERVAL", 30)
EMR_STEP_TIMEOUT = env_seconds("SHOPSTREAM_AIRFLOW_EMR_STEP_TIMEOUT", 2 * 3600)
# Two hours in flight at most: a backfill makes progress while the current hour runs, and the
# local machine (two cores) never runs more than two Spark drivers for this DAG.
MAX_ACTIVE_RUNS = env_int("SHOPSTREAM_AIRFLOW_MAX_ACTIVE_RUNS", 2)


def build_hourly_dag(entity: str, target: str) -> Any:
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
        user_defined_macros={"batch_run_id": batch_run_id},
        tags=["shopstream", "hourly", "batch", entity, target],
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

            assert data_interval_start is not None and run_id is not None
            return targets.run_step(step, entity, data_interval_start, batch_run_id(run_id), context)

        @task
        def corrections(data_interval_start: datetime | None = None, run_id: str | None = None) -> list[str]:
            """Re-run every hour whose bronze changed after it was processed (late events), as
            ``shopstream batch run`` does; the hours corrected are returned (XCom)."""
            from shopstream_dags import targets

            assert data_interval_start is not None and run_id is not None
            return targets.corrections(entity, data_interval_start, batch_run_id(run_id))

        upstream: Any = wait_hour_closed()
        for step in STEPS:
            if target == "aws" and step in SPARK_STEPS:
                submit, done = spark_step_tasks(
                    step, entity, poke_interval=EMR_STEP_POKE, timeout=EMR_STEP_TIMEOUT, mode=sensor_mode()
                )
                upstream >> submit
                upstream = done
            else:
                ran = run_step.override(task_id=step)(step)
                upstream >> ran
                upstream = ran
        # late-changed hours before H, re-run through every step (on AWS where Spark is: EMR)
        if target == "aws":
            fix, _ = spark_step_tasks(
                "corrections",
                entity,
                poke_interval=EMR_STEP_POKE,
                timeout=EMR_STEP_TIMEOUT,
                mode=sensor_mode(),
            )
            upstream >> fix
        else:
            upstream >> corrections()

    return hourly()


for _entity in entities():  # one DAG per entity of the contract (conf/contract.yaml, read once)
    globals()[f"shopstream_hourly_{_entity}"] = build_hourly_dag(_entity, parse_target())
