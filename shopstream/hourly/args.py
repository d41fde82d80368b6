"""The hourly batch's steps, and the arguments of its Spark entry points (identical locally and as
EMR steps). Standard library only (plus the contract): the Airflow environment imports it."""

from __future__ import annotations

import argparse
from datetime import datetime

from shopstream.contract import entities
from shopstream.hours import format_hour, hour_arg

STEPS = ("compact", "export", "load", "aggregate", "reconcile")  # in this order, per (entity, hour)
SPARK_STEPS = ("compact", "export")  # the ones with a spark-submit entry point (jobs/run_<step>.py)


def hourly_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--profile", default=None, help="configuration profile (conf/<profile>.yaml)")
    p.add_argument("--entity", required=True, choices=entities(), help="which bronze table")
    p.add_argument("--hour", required=True, type=hour_arg, help="UTC hour, e.g. 2026-11-24T10")
    p.add_argument("--run-id", required=True, help="the batch run id (Airflow run id or generated)")
    return p


def spark_submit_args(job: str, profile: str, entity: str, hour: datetime, run_id: str) -> list[str]:
    """The arguments after ``spark-submit`` for an hourly job: the one builder used by the local
    runner and by the EMR step definitions (so both run exactly the same command)."""
    return [
        f"jobs/run_{job}.py",
        "--profile",
        profile,
        "--entity",
        entity,
        "--hour",
        format_hour(hour),
        "--run-id",
        run_id,
    ]
