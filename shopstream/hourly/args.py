"""The hourly batch's steps, and the arguments of its Spark entry points (identical locally and as
EMR steps). Standard library only (plus the contract): the Airflow environment imports it."""

from __future__ import annotations

import argparse

from shopstream.contract import entities
from shopstream.hours import hour_arg

STEPS = ("compact", "export", "load", "aggregate", "reconcile")  # in this order, per (entity, hour)
# the ones with a spark-submit entry point (jobs/run_<step>.py, shopstream.submit): an EMR step on AWS
SPARK_STEPS = ("compact", "export", "reconcile")


def hourly_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--profile", default=None, help="configuration profile (conf/<profile>.yaml)")
    p.add_argument("--entity", required=True, choices=entities(), help="which bronze table")
    p.add_argument("--hour", required=True, type=hour_arg, help="UTC hour, e.g. 2026-11-24T10")
    p.add_argument("--run-id", required=True, help="the batch run id (Airflow run id or generated)")
    return p
