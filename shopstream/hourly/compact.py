"""Compaction of one closed hour of a bronze Delta table (spark-submit entry point).

``OPTIMIZE … WHERE event_date = d AND event_hour = h`` rewrites the hour's small files into
few large ones as a ``dataChange=false`` commit: readers, the streaming job and its
checkpoint see no new data, so it is safe while the stream keeps appending to later hours.
``vacuum`` never goes below the retention time travel and the stream need (7 days).

    spark-submit jobs/compact.py --profile local --entity orders --hour 2026-11-24T10 --run-id r1
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shopstream import config
from shopstream.hourly.args import hourly_parser

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MIN_VACUUM_HOURS = 168


@dataclass(frozen=True)
class CompactResult:
    files_before: int
    files_after: int
    rows: int
    version: int


def hour_predicate(hour: datetime) -> str:
    """The partition predicate of one UTC hour in bronze (pure)."""
    return f"event_date = '{hour:%Y-%m-%d}' AND event_hour = {hour.hour}"


def _hour_files(spark: SparkSession, path: str, hour: datetime) -> tuple[int, int]:
    df = spark.read.format("delta").load(path).where(hour_predicate(hour))
    return len(df.inputFiles()), df.count()


def compact_hour(spark: SparkSession, path: str, hour: datetime) -> CompactResult:
    """OPTIMIZE one hour's partition (dataChange=false). Idempotent: a compacted hour stays as is."""
    before, rows = _hour_files(spark, path, hour)
    if before > 1:
        spark.sql(f"OPTIMIZE delta.`{path}` WHERE {hour_predicate(hour)}")
    after, rows_after = _hour_files(spark, path, hour)
    if rows_after != rows:  # OPTIMIZE must never change data; fail loudly if it did
        raise RuntimeError(
            f"compaction changed the row count of {path} {hour:%Y-%m-%dT%H}: {rows} -> {rows_after}"
        )
    version = spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").collect()[0]["version"]
    return CompactResult(before, after, rows, int(version))


def vacuum(spark: SparkSession, path: str, retention_hours: int = MIN_VACUUM_HOURS) -> None:
    """VACUUM with a retention that never drops below 7 days (time travel + stream recovery)."""
    if retention_hours < MIN_VACUUM_HOURS:
        raise ValueError(f"vacuum retention {retention_hours}h is below the minimum {MIN_VACUUM_HOURS}h")
    spark.sql(f"VACUUM delta.`{path}` RETAIN {int(retention_hours)} HOURS")


def main(argv: list[str] | None = None) -> int:
    """spark-submit entry point: the batch's compact step (``shopstream batch run --step compact``)."""
    # here, not at the top: shopstream.batch imports this module (the two stay acyclic at import)
    from shopstream.batch import Runner

    args = hourly_parser("Compact one closed hour of a bronze table.").parse_args(argv)
    settings = config.load(args.profile)
    Runner(settings, args.run_id, report=print).run_step("compact", args.entity, args.hour)
    return 0


if __name__ == "__main__":
    sys.exit(main())
