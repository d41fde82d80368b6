"""Time travel over the lake's Delta tables with Spark (``shopstream lake show|count``).

``--as-of`` is a version or a timestamp (:class:`AsOf`, Spark's ``versionAsOf`` /
``timestampAsOf``, Delta's own time travel); ``--hour`` narrows to one event hour. A missing
table or version fails before the JVM starts (:func:`check_as_of`, via delta-rs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from shopstream.hours import parse_hour
from shopstream.lake import LakeError, aware, delta_table, table_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from shopstream.config import Settings


@dataclass(frozen=True)
class AsOf:
    """A parsed ``--as-of``: a version number or a timestamp (UTC)."""

    version: int | None = None
    timestamp: datetime | None = None

    @classmethod
    def parse(cls, text: str | None) -> AsOf | None:
        if text is None or text == "":
            return None
        s = text.strip()
        if s.isdigit():
            return cls(version=int(s))
        try:
            ts = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise LakeError(
                f"--as-of {text!r}: not a version number or an ISO-8601 timestamp (e.g. 2026-11-24T10:00:00Z)"
            ) from None
        return cls(timestamp=aware(ts))

    def options(self) -> dict[str, str]:
        if self.version is not None:
            return {"versionAsOf": str(self.version)}
        if self.timestamp is not None:
            return {"timestampAsOf": self.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f")}
        return {}


def parse_hour_filter(text: str | None) -> tuple[date | None, int] | None:
    """``--hour`` of ``lake show|count``: ``2026-11-24T10`` (that UTC hour, read by
    :func:`shopstream.hours.parse_hour`) or ``10`` (that hour on every date)."""
    if text is None or text == "":
        return None
    s = text.strip()
    if s.isdigit() and 0 <= int(s) <= 23:
        return None, int(s)
    try:
        hour = parse_hour(s)
    except ValueError:
        raise LakeError(
            f"--hour {text!r}: expected an hour 0-23 or a UTC date and hour like 2026-11-24T10"
        ) from None
    return hour.date(), hour.hour


def check_as_of(settings: Settings, path: str, as_of: AsOf | None) -> None:
    """Fail fast (exit 2, no JVM) on a missing table or a version delta-rs cannot open (the
    newest checkpoint at or before it plus the commits after it: what Spark's time travel needs)."""
    delta_table(settings, path, as_of.version if as_of else None)


def read_as_of(
    spark: SparkSession,
    settings: Settings,
    table: str,
    as_of: AsOf | None = None,
    hour: tuple[date | None, int] | None = None,
) -> DataFrame:
    """The table as of a version or timestamp (Delta time travel), optionally one event hour."""
    # pyspark (~1 s) loads only for a Spark read: the CLI imports this module at start-up
    from pyspark.errors import AnalysisException, IllegalArgumentException
    from pyspark.sql import functions as F

    path = table_path(settings, table)
    check_as_of(settings, path, as_of)
    reader = spark.read.format("delta")
    for key, value in (as_of.options() if as_of else {}).items():
        reader = reader.option(key, value)
    try:
        df = reader.load(path)
        _ = df.schema  # resolve now, so a bad timestamp fails here as a LakeError
    except (AnalysisException, IllegalArgumentException) as exc:
        raise LakeError(_first_line(str(exc))) from None
    except Exception as exc:  # py4j errors from Delta's time travel (e.g. timestamp too early)
        msg = _first_line(str(exc))
        if "timestamp" in msg.lower() or "version" in msg.lower():
            raise LakeError(msg) from None
        raise
    if hour is not None:
        if "event_hour" not in df.columns:
            raise LakeError(
                f"table {table!r} has no event hour (--hour applies to users, orders, quarantine)"
            )
        d, h = hour
        df = df.where(F.col("event_hour") == h)
        if d is not None:
            df = df.where(F.col("event_date") == F.lit(d.isoformat()).cast("date"))
    return df


def _first_line(message: str) -> str:
    for line in message.splitlines():
        line = line.strip()
        if line and not line.startswith(("at ", "JVM stacktrace")):
            return re.sub(r"^\[[A-Z_.]+\]\s*", "", line)
    return message.strip()
