"""
### shopstream stream keeper — is the long-running stream-ingest job alive? (every 5 minutes)

The Kafka → Delta bronze Structured Streaming job is the one process every hourly run depends on
(its watermark closes the hours). This DAG checks it and starts it again when it is gone:

* `local` target: `shopstream stream status` (exit 0 = running); if not, `shopstream stream start`
  (which resumes from the job's checkpoint: nothing is lost or counted twice), then checks again.
* `aws` target (chosen when the file is parsed): `check_stream` — EMR `ListSteps` on the cluster,
  short-circuiting the rest while a `stream-ingest` step is PENDING or RUNNING; otherwise
  `restart_stream` (`EmrAddStepsOperator`) adds the newest definition of that step again (as
  Terraform created it; the builder's when none ever ran) and `wait_stream_running`
  (`EmrStepSensor`) waits until it is RUNNING — it fails if the step fails, is cancelled or ends.

A restart is logged as a warning (local: the task's XCom says `restarted: true`); a failed restart
fails the task, which runs the failure callback. `catchup=False` and one active run: a check that
was missed is not worth repeating.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task
from airflow.timetables.trigger import CronTriggerTimetable
from shopstream_dags.common import START_DATE, default_args, env_seconds, report_dag_failure, sensor_mode
from shopstream_dags.emr import parse_target, stream_keeper_tasks

RUNNING_POKE = env_seconds("SHOPSTREAM_AIRFLOW_EMR_POKE_INTERVAL", 30)
RUNNING_TIMEOUT = env_seconds("SHOPSTREAM_AIRFLOW_STREAM_START_TIMEOUT", 8 * 60)


@dag(
    dag_id="shopstream_stream_keeper",
    description="Keep the stream-ingest job (Kafka → Delta bronze) running",
    schedule=CronTriggerTimetable("*/5 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=15),
    default_args={
        **default_args(),
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "execution_timeout": timedelta(minutes=10),
    },
    on_failure_callback=report_dag_failure,
    tags=["shopstream", "stream", "operations"],
    doc_md=__doc__,
)
def shopstream_stream_keeper() -> None:
    if parse_target() == "aws":
        stream_keeper_tasks(poke_interval=RUNNING_POKE, timeout=RUNNING_TIMEOUT, mode=sensor_mode())
        return

    @task
    def ensure_stream(**context: Any) -> dict[str, Any]:
        from shopstream_dags import targets

        return targets.ensure_stream(context)

    ensure_stream()


shopstream_stream_keeper()
