"""Arguments shared by the hourly Spark entry points (identical locally and as EMR steps)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from shopstream.contract import entities


def parse_hour(text: str) -> datetime:
    """``2026-11-24T10`` (or ``…T10:00[:00][Z|+00:00]``) → tz-aware UTC top of the hour."""
    raw = text.strip().replace("Z", "+00:00")
    for fmt in (
        "%Y-%m-%dT%H",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M%z",
    ):
        try:
            dt = datetime.strptime(raw, fmt)
        except ValueError:
            continue
        dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
        if dt.minute or dt.second or dt.microsecond:
            raise ValueError(f"hour {text!r} is not the top of an hour (use e.g. 2026-11-24T10)")
        return dt
    raise ValueError(f"hour {text!r} is not an hour like 2026-11-24T10")


def format_hour(hour: datetime) -> str:
    return hour.astimezone(UTC).strftime("%Y-%m-%dT%H")


def hourly_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--profile", default=None, help="configuration profile (conf/<profile>.yaml)")
    p.add_argument("--entity", required=True, choices=entities(), help="which bronze table")
    p.add_argument("--hour", required=True, type=parse_hour, help="UTC hour, e.g. 2026-11-24T10")
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
