"""Benchmark: end-to-end time of the hourly batch for one hour of N events (not a test).

For each size (default 100k and 1M events) it fills one unique past hour of bronze directly:
the producer's own generators make N events (1 sign-up : 3 orders) with event times inside
that hour, written as bronze rows with the bronze schema (so neither Kafka nor the stream's
speed is part of this number). Then it times the batch's steps for both entities (compact,
export, load and aggregate: the work the issue's target covers; reconcile recounts Kafka, which
this bench does not fill) in one SparkSession, and prints the times and the large/small ratio
(cost should grow linearly: ratio <= 11 for 1M/100k; 1M <= 120 s).

Needs the local stack (`shopstream up`). Uses its own lake directory under .shopstream/bench.

    .venv/bin/python bench/batch_bench.py                 # 100k and 1M
    .venv/bin/python bench/batch_bench.py --sizes 20000 100000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def fill_bronze(spark, settings, n: int, hour: datetime, step_ms: int) -> None:  # type: ignore[no-untyped-def]
    """N generated events (1 user : 3 orders) of one hour, appended to bronze with its schema."""
    import json

    import pandas as pd

    from producer.generators import EventFactory
    from shopstream.contract import load_contract
    from shopstream.ingest.bronze import bronze_schema

    contract = load_contract()
    factory = EventFactory(seed=uuid.uuid4().int % 100_000, first_user_id=1, first_order_id=1)
    rows: dict[str, list[dict]] = {"users": [], "orders": []}
    for i in range(n):
        ts = (hour + timedelta(milliseconds=i * step_ms)).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        entity = "users" if i % 4 == 0 else "orders"
        _key, value = (factory.user if entity == "users" else factory.order)(ts)
        rows[entity].append(json.loads(value))
    for entity, events in rows.items():
        pdf = pd.DataFrame(events)
        pdf["created_at"] = pd.to_datetime(pdf["created_at"], utc=True)
        pdf["event_date"] = hour.date()
        pdf["event_hour"] = hour.hour
        pdf["kafka_topic"] = contract.entity(entity).topic
        pdf["kafka_partition"] = 0
        pdf["kafka_offset"] = range(len(pdf))
        pdf["kafka_timestamp"] = pdf["created_at"]
        pdf["ingested_at"] = pd.Timestamp.now(tz="UTC")
        schema = bronze_schema(contract, contract.entity(entity))
        df = spark.createDataFrame(pdf[[f.name for f in schema.fields]], schema=schema)
        # several appends, as the stream would leave them: compaction has work to do
        for part in df.randomSplit([1.0] * 8, seed=1):
            part.write.format("delta").mode("append").partitionBy("event_date", "event_hour").save(
                f"{settings.lake_root}/bronze/{entity}"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="events per hour")
    ap.add_argument("--keep", action="store_true", help="keep the bench lake directory")
    args = ap.parse_args()

    from shopstream import batch, config, mart
    from shopstream.contract import entities
    from shopstream.spark import session

    base = config.load("local")
    lake = base.state_path / "bench" / f"lake-{uuid.uuid4().hex[:6]}"
    settings = base.model_copy(
        update={
            "lake": base.lake.model_copy(update={"root": str(lake)}),
            "ledger": base.ledger.model_copy(update={"opensearch": False}),
        }
    )
    mart.ensure_schema(settings)
    spark = session(
        settings,
        "shopstream-batch-bench",
        extra={"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS"},
    )
    results = []
    try:
        for n in args.sizes:
            hour = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(hours=uuid.uuid4().int % 50_000)
            step_ms = max(1, 3_500_000 // n)  # all N events inside the hour
            t0 = time.monotonic()
            fill_bronze(spark, settings, n, hour, step_ms)
            fill = time.monotonic() - t0
            runner = batch.Runner(settings, batch.new_run_id(hour), _spark=spark)
            timings: dict[str, float] = {}
            for entity in entities():
                for step in ("compact", "export", "load", "aggregate"):
                    t = time.monotonic()
                    runner.run_step(step, entity, hour)
                    timings[step] = timings.get(step, 0.0) + time.monotonic() - t
            core = sum(timings.values())
            results.append((n, core, timings, fill))
            print(
                f"{n:>9,} events  batch (compact+export+load+aggregate) {core:6.1f}s  "
                + "  ".join(f"{k}={v:.1f}s" for k, v in timings.items())
                + f"  [fill {fill:.0f}s]",
                flush=True,
            )
    finally:
        spark.stop()
        if not args.keep:
            shutil.rmtree(lake, ignore_errors=True)
    if len(results) >= 2:
        (n1, t1, _, _), (n2, t2, _, _) = results[0], results[-1]
        print(
            f"ratio {n2 // 1000}k/{n1 // 1000}k time = {t2 / t1:.2f} (size ratio {n2 / n1:.0f}; target <= 11)"
        )
        print(f"{n2:,} events: {t2:.1f}s (target <= 120 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
