"""
### shopstream maintenance — daily, for the UTC day that just ended (`data_interval_start`)

* `VACUUM` of each bronze Delta table with `shopstream.hourly.compact.vacuum`, with a retention
  (`retention_hours` param, default 168) that can never go below 7 days — time travel and the
  stream's recovery need those files. Target chosen when the file is parsed
  (`AIRFLOW_VAR_SHOPSTREAM_TARGET`): `local` — `vacuum_users`, `vacuum_orders` tasks in the
  project's virtualenv; `aws` — `submit_vacuum_<entity>` (`EmrAddStepsOperator`, the
  `jobs/run_vacuum.py` entry point) → `wait_vacuum_<entity>` (`EmrStepSensor`, deferrable).
* `ledger_summary`: the reconciliation ledger of every hour of that day, per entity and stage;
  **fails** when any hour does not reconcile (hours the batch has not run yet are listed).

Runs at 00:00 UTC for the previous day (data-interval timetable); `catchup=False`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable
from shopstream_dags.common import START_DATE, default_args, env_seconds, report_dag_failure, sensor_mode
from shopstream_dags.emr import parse_target, vacuum_tasks

from shopstream.contract import entities
from shopstream.orchestration import VACUUM_MIN_RETENTION_HOURS, batch_run_id

EMR_STEP_POKE = env_seconds("SHOPSTREAM_AIRFLOW_EMR_POKE_INTERVAL", 60)
VACUUM_TIMEOUT = env_seconds("SHOPSTREAM_AIRFLOW_VACUUM_TIMEOUT", 4 * 3600)


@dag(
    dag_id="shopstream_maintenance",
    description="Daily VACUUM of the bronze tables (≥ 7 days retention) and the ledger summary",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    default_args=default_args(),
    on_failure_callback=report_dag_failure,
    user_defined_macros={"batch_run_id": batch_run_id},  # the aws target's step definitions use it
    params={
        "retention_hours": Param(
            VACUUM_MIN_RETENTION_HOURS,
            type="integer",
            minimum=VACUUM_MIN_RETENTION_HOURS,
            description="VACUUM retention in hours (never below 168 = 7 days)",
        )
    },
    tags=["shopstream", "maintenance", "daily"],
    doc_md=__doc__,
)
def shopstream_maintenance() -> None:
    @task
    def vacuum(entity: str, run_id: str | None = None, **context: Any) -> None:
        from shopstream_dags import targets

        assert run_id is not None
        targets.vacuum(entity, int(context["params"]["retention_hours"]), batch_run_id(run_id))

    @task
    def ledger_summary(data_interval_start: datetime | None = None) -> None:
        from shopstream_dags import targets

        assert data_interval_start is not None
        targets.ledger_summary(data_interval_start)

    aws = parse_target() == "aws"
    for entity in entities():
        if aws:
            vacuum_tasks(entity, poke_interval=EMR_STEP_POKE, timeout=VACUUM_TIMEOUT, mode=sensor_mode())
        else:
            vacuum.override(task_id=f"vacuum_{entity}")(entity)
    ledger_summary()


shopstream_maintenance()
