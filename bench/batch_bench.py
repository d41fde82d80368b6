"""Benchmark: the full hourly run for one hour, with 1, 24 and 168 hours retained (not a test).

The hourly run (``batch.run_hour``: the late-data check, then compact, export, load, aggregate
and reconcile for users and orders) must cost what one hour costs, not what the topic and the lake
hold. In ONE run, for each retained size R (default 1, 24, 168), the topic and the lake are grown
to R hours and the newest hour is run (``--repeat`` times, each a new newest hour; the median
counts). Printed: seconds per step, the recount's records read, and time(R_max) / time(R_min)
(target <= 1.5).

What the R hours look like (scaled down: ``--events-per-hour``, default 2,000 = 500 sign-ups and
1,500 orders; production at 2,000 events/s is 7.2M an hour):

* Kafka: fresh topics (a ``bench-…`` prefix, deleted at the end) filled by the producer's own
  generators, each record's Kafka timestamp = its event time (a real-time producer's send time),
  hours in order, so an hour sits where it would in production;
* bronze: the stream's own transforms (classify + bronze rows) over each new Kafka range, each
  hour written as ``--files-per-hour`` files (the stream's 5-s micro-batches leave ~720), then
  every hour but the newest compacted (``OPTIMIZE``: its removed files stay in the Delta state as
  tombstones, as after hourly runs) and recorded in the ledger as processed (``bronze`` stage),
  so the late-data check has a full window of processed hours to look at.

Needs a running stack (the test stack's environment works: see bench/README.md); uses its own
lake under the state directory and its own topics.

    .venv/bin/python bench/batch_bench.py                                   # 1, 24, 168 h x 2,000
    .venv/bin/python bench/batch_bench.py --retained 1 --events-per-hour 1000000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def produce_hours(settings: Any, prefix: str, hours: list[datetime], per_hour: int, seed: int) -> None:
    """``per_hour`` events (1 sign-up : 3 orders) per hour, Kafka timestamp = event time."""
    from confluent_kafka import Producer

    from producer.generators import EventFactory
    from shopstream.contract import entities, load_contract
    from shopstream.kafka_admin import client_config

    contract = load_contract()
    topics = {e: prefix + contract.entity(e).topic for e in entities()}
    # a seed of its own per call (the same seed gives the same event_ids), ids that never repeat
    n = int(hours[0].timestamp() // 3600) % 100_000
    first = n * 10_000_000 + 1
    factory = EventFactory(seed=seed * 100_000 + n, first_user_id=first, first_order_id=first)
    p = Producer(
        {
            **client_config(settings),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "compression.type": "lz4",
        }
    )
    step = 3_600_000 / per_hour
    for hour in hours:
        base = int(hour.timestamp() * 1000)
        for i in range(per_hour):
            ms = base + int(i * step)
            created = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
            entity = "users" if i % 4 == 0 else "orders"
            key, value = (factory.user if entity == "users" else factory.order)(created)
            while True:
                try:
                    p.produce(topics[entity], value, key, timestamp=ms)
                    break
                except BufferError:
                    p.poll(0.05)
            p.poll(0)
    if p.flush(120):
        raise RuntimeError("producer could not deliver every event")


def end_offsets(settings: Any, topic: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    from shopstream.kafka_admin import client_config

    c = Consumer({**client_config(settings), "group.id": "bench", "enable.auto.commit": False})
    try:
        parts = c.list_topics(topic, timeout=30).topics[topic].partitions
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in parts}
    finally:
        c.close()


def ingest(
    spark: Any, settings: Any, prefix: str, since: dict[str, dict[int, int]], files: int, n_hours: int
) -> None:
    """The new Kafka records (``n_hours`` hours of them) -> bronze with the stream's transforms,
    ``files`` files per hour. One pass over the records: the classification is the fill's cost
    (counting the hours first would run it twice)."""
    from pyspark.sql import functions as F

    from shopstream.contract import entities, load_contract
    from shopstream.ingest.bronze import bronze_projection, transform_classify
    from shopstream.ingest.schemas import PARTITION_COLUMNS
    from shopstream.lake import LAKE_PROPERTIES, bronze_path, ensure_properties
    from shopstream.spark import kafka_source_options

    contract = load_contract()
    now = datetime.now(UTC)
    for entity in entities():
        topic = prefix + contract.entity(entity).topic
        raw = (
            spark.read.format("kafka")
            .options(**kafka_source_options(settings))
            .option("subscribe", topic)
            .option(
                "startingOffsets",
                json.dumps({topic: {str(p): o for p, o in since[topic].items()}})
                if since.get(topic)
                else "earliest",
            )
            .option("endingOffsets", "latest")
            .load()
        )
        # the generators' event_ids never repeat: no per-event_id window (the stream skips it too)
        where, columns = bronze_projection(contract, entity, now)
        rows = transform_classify(raw, contract, {topic: entity}).where(where).select(*columns)
        (
            rows.repartition(n_hours * files, *PARTITION_COLUMNS, (F.rand(7) * files).cast("int"))
            .write.format("delta")
            .mode("append")
            .partitionBy(*PARTITION_COLUMNS)
            .save(bronze_path(settings, entity))
        )
        ensure_properties(spark, bronze_path(settings, entity), LAKE_PROPERTIES)  # as the stream sets them


def hours_predicate(hours: list[datetime]) -> str:
    """A partition predicate for exactly these hours (what OPTIMIZE accepts)."""
    by_date: dict[str, list[int]] = {}
    for h in hours:
        by_date.setdefault(f"{h:%Y-%m-%d}", []).append(h.hour)
    return " OR ".join(
        f"(event_date = '{d}' AND event_hour IN ({', '.join(map(str, sorted(hs)))}))"
        for d, hs in sorted(by_date.items())
    )


def mark_processed(spark: Any, settings: Any, hours: list[datetime]) -> None:
    """Compact ``hours`` (one OPTIMIZE per entity) and record their bronze counts in the ledger,
    as the hourly runs would have left them."""
    from pyspark.sql import functions as F

    from shopstream import ledger
    from shopstream.contract import entities
    from shopstream.hourly.export import checksum_expr
    from shopstream.lake import bronze_path

    if not hours:
        return
    where = hours_predicate(hours)
    for entity in entities():
        path = bronze_path(settings, entity)
        spark.sql(f"OPTIMIZE delta.`{path}` WHERE {where}")
        counts = (
            spark.read.format("delta")
            .load(path)
            .where(where)
            .groupBy("event_date", "event_hour")
            .agg(F.expr("count(distinct event_id)").alias("n"), F.expr(checksum_expr()).alias("c"))
            .collect()
        )
        entries = [
            ledger.Entry(
                datetime(r.event_date.year, r.event_date.month, r.event_date.day, r.event_hour, tzinfo=UTC),
                entity,
                "bronze",
                int(r.n),
                int(r.c),
                "bench-fill",
                False,
            )
            for r in counts
        ]
        ledger.record(settings, entries)


def timed_run(
    settings: Any, spark: Any, hour: datetime, prefix: str, progress: bool = False
) -> tuple[float, dict[str, float], int]:
    """One full hourly run: seconds, seconds per step (both entities), Kafka records recounted."""
    from shopstream import batch

    def report(line: str) -> None:
        if progress:
            print(f"  {datetime.now(UTC):%H:%M:%S} {line}", flush=True)

    steps: dict[str, float] = {}
    scanned = 0
    t0 = time.monotonic()
    results = batch.run_hour(
        settings,
        hour,
        topic_prefix=prefix,
        report=report,
        run_id=batch.new_run_id(hour),
    )
    total = time.monotonic() - t0
    for r in results:
        steps[r["step"]] = steps.get(r["step"], 0.0) + float(r["seconds"])
        scanned += int(r.get("kafka_scanned", 0))
        if r.get("correction"):
            raise RuntimeError(f"unexpected correction of {r['hour']}: the fill is inconsistent")
    steps["late-check+other"] = total - sum(steps.values())
    return total, steps, scanned


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--retained", type=int, nargs="+", default=[1, 24, 168], help="hours held (increasing)")
    ap.add_argument(
        "--events-per-hour", type=int, default=2_000, help="events in every hour (1 user : 3 orders)"
    )
    ap.add_argument("--files-per-hour", type=int, default=20, help="bronze files per hour before compaction")
    ap.add_argument("--repeat", type=int, default=2, help="measured runs per retained size (median)")
    ap.add_argument("--keep", action="store_true", help="keep the bench lake and topics")
    ap.add_argument(
        "--progress", action="store_true", help="print each step of the measured runs as it ends (UTC)"
    )
    args = ap.parse_args()
    retained = sorted(set(args.retained))

    from confluent_kafka.admin import AdminClient

    from shopstream import config, mart
    from shopstream.kafka_admin import client_config, ensure_topics
    from shopstream.spark import session

    base = config.load()
    lake = base.state_path / "bench" / f"lake-{uuid.uuid4().hex[:6]}"
    settings = base.model_copy(
        update={
            "lake": base.lake.model_copy(update={"root": str(lake)}),
            # the bench's own topics have no real-time consumer and no archive connector
            "ledger": base.ledger.model_copy(update={"opensearch": False, "archive": False}),
            # a week of hours plus the repeats reaches past 168 h: Kafka would delete the oldest
            "kafka": base.kafka.model_copy(update={"retention_hours": 24 * 30}),
        }
    )
    prefix = f"bench-{uuid.uuid4().hex[:6]}."
    mart.ensure_schema(settings)
    created = ensure_topics(settings, topic_prefix=prefix)
    spark = session(
        settings,
        "shopstream-batch-bench",
        extra={"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS"},
    )
    seed = uuid.uuid4().int % 1000
    # consecutive past hours, the newest ending an hour ago (within the bench topics' retention)
    last = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    need = retained[-1] + args.repeat * len(retained)
    hours = [last - timedelta(hours=need - 1 - i) for i in range(need)]
    print(
        f"bench: {args.events_per_hour:,} events per hour, {args.files_per_hour} bronze files per hour, "
        f"retained {retained}, {args.repeat} runs each; topics {prefix}*, lake {lake}",
        flush=True,
    )
    results: dict[int, list[tuple[float, dict[str, float], int]]] = {}
    filled = 0  # hours in topic + lake so far
    since = {t: end_offsets(settings, t) for t in created}
    try:
        # warm-up: one hourly run on a throwaway hour of its own (JIT, Delta and Kafka clients),
        # so the first measured size does not pay for the JVM's first use
        warm_prefix = f"bench-{uuid.uuid4().hex[:6]}w."
        warm_topics = ensure_topics(settings, topic_prefix=warm_prefix)
        created += warm_topics
        warm_settings = settings.model_copy(
            update={"lake": settings.lake.model_copy(update={"root": str(lake) + "-warm"})}
        )
        warm_hour = hours[0] - timedelta(hours=3)
        produce_hours(settings, warm_prefix, [warm_hour], min(args.events_per_hour, 2_000), seed + 500)
        ingest(spark, warm_settings, warm_prefix, {t: {} for t in warm_topics}, args.files_per_hour, 1)
        timed_run(warm_settings, spark, warm_hour, warm_prefix)

        for r in retained:
            results[r] = []
            for k in range(args.repeat):
                # grow to r + k hours (at least one new): the newest is the hour this run processes
                new = hours[filled : max(r + k, filled + 1)]
                t = time.monotonic()
                produce_hours(settings, prefix, new, args.events_per_hour, seed)
                t_produced = time.monotonic()
                ingest(spark, settings, prefix, since, args.files_per_hour, len(new))
                since = {t_: end_offsets(settings, t_) for t_ in since}
                filled += len(new)
                t_ingested = time.monotonic()
                mark_processed(spark, settings, new[:-1])  # earlier runs processed the hours before
                fill = time.monotonic() - t
                fill_split = (
                    f"produce {t_produced - t:.0f}s, ingest {t_ingested - t_produced:.0f}s, "
                    f"compact+ledger {time.monotonic() - t_ingested:.0f}s"
                )
                total, steps, scanned = timed_run(settings, spark, new[-1], prefix, args.progress)
                results[r].append((total, steps, scanned))
                print(
                    f"retained {filled:>4} h  run {new[-1]:%Y-%m-%dT%H}  total {total:6.1f}s  "
                    + "  ".join(f"{s_}={v:.1f}s" for s_, v in steps.items())
                    + f"  kafka records read={scanned:,}  [fill {fill:.0f}s: {fill_split}]"
                    + "  load avg {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()),
                    flush=True,
                )
    finally:
        spark.stop()
        if not args.keep:
            shutil.rmtree(lake, ignore_errors=True)
            shutil.rmtree(str(lake) + "-warm", ignore_errors=True)
            admin = AdminClient(client_config(settings))
            for done in admin.delete_topics(created, operation_timeout=30).values():
                done.result()  # wait: the client must outlive the request
    med = {r: statistics.median(x[0] for x in v) for r, v in results.items() if v}
    for r, m in med.items():
        print(f"retained {r:>4} h: median {m:.1f}s over {len(results[r])} run(s)")
    if len(med) >= 2:
        lo, hi = min(med), max(med)
        print(f"ratio {hi}h / {lo}h = {med[hi] / med[lo]:.2f} (target <= 1.5)")
    print("load average at the end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
