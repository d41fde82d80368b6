"""UTC hours, the unit of every batch step, DAG run and ledger row: one parser, one check, one format.

Standard library only (the Airflow environment imports it through ``shopstream.orchestration``)::

    parse_hour("2026-11-24T10")              # datetime(2026, 11, 24, 10, tzinfo=UTC)
    parse_hour("2026-11-24T19:00:00+09:00")  # the same hour
    format_hour(parse_hour("2026-11-24T10")) # "2026-11-24T10"
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime

_DATE_AND_HOUR = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}")


def check_hour(hour: datetime) -> datetime:
    """A tz-aware datetime at the top of an hour (what Airflow's data_interval_start is), in UTC."""
    if hour.tzinfo is None or hour.utcoffset() is None:
        raise ValueError(f"hour {hour!r} must be timezone-aware (UTC)")
    h = hour.astimezone(UTC)
    if h.minute or h.second or h.microsecond:
        raise ValueError(f"hour {h.isoformat()} is not the top of an hour (use e.g. 2026-11-24T10)")
    return h


def parse_hour(text: str) -> datetime:
    """``2026-11-24T10`` or an ISO-8601 timestamp at the top of an hour (``…T10:00:00Z``,
    ``…T19:00+09:00``) → tz-aware UTC; without an offset the time is UTC. Raises ValueError."""
    raw = text.strip()
    try:
        if not _DATE_AND_HOUR.match(raw):
            raise ValueError
        dt = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"hour {text!r} is not an hour like 2026-11-24T10") from None
    return check_hour(dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC))


def hour_arg(text: str) -> datetime:
    """:func:`parse_hour` as an argparse ``type=`` (its message instead of "invalid value")."""
    try:
        return parse_hour(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def format_hour(hour: datetime) -> str:
    """``2026-11-24T10``: how an hour is written in arguments, run names and ledger keys."""
    return check_hour(hour).strftime("%Y-%m-%dT%H")
