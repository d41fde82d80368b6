"""
### shopstream maintenance — daily, for the UTC day that just ended (`data_interval_start`)

* `vacuum_users`, `vacuum_orders` (→ `wait_vacuum_*` on EMR): `VACUUM` of each bronze Delta table
  with `shopstream.hourly.compact.vacuum` (locally in the project's virtualenv; on EMR as the
  `jobs/run_vacuum.py` spark-submit entry point), with a retention (`retention_hours` param,
  default 168) that can never go below 7 days — time travel and the stream's recovery need those files.
* `ledger_summary`: the reconciliation ledger of every hour of that day, per entity and stage;
  **fails** when any hour does not reconcile (hours the batch has not run yet are listed).

Runs at 00:00 UTC for the previous day (data-interval timetable); `catchup=False`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable
from shopstream_dags.common import START_DATE, default_args, report_dag_failure, sensor_mode

from shopstream.contract import entities
from shopstream.orchestration import VACUUM_MIN_RETENTION_HOURS


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
    def vacuum(entity: str, run_id: str | None = None, **context: Any) -> dict[str, Any]:
        from shopstream_dags import targets

        from shopstream.orchestration import batch_run_id

        assert run_id is not None
        retention = int(context["params"]["retention_hours"])
        return targets.vacuum(entity, retention, batch_run_id(run_id), context)

    @task.sensor(mode=sensor_mode(), poke_interval=60, timeout=4 * 3600)
    def wait_vacuum(submitted: dict[str, Any], **context: Any) -> bool:
        from shopstream_dags import targets

        return targets.step_done(submitted, context)

    @task
    def ledger_summary(data_interval_start: datetime | None = None) -> None:
        from shopstream_dags import targets

        assert data_interval_start is not None
        targets.ledger_summary(data_interval_start)

    for entity in entities():
        submitted = vacuum.override(task_id=f"vacuum_{entity}")(entity)
        wait_vacuum.override(task_id=f"wait_vacuum_{entity}")(submitted)
    ledger_summary()


shopstream_maintenance()
