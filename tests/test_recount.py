"""The bounded Kafka recount (shopstream/recount.py) against real Kafka, Spark/Delta and PostgreSQL.

Each test writes into topics of its own (a fresh prefix), so the number of records the recount
reads can be compared with what the topic holds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.batch_helpers import ingest, produce

pytestmark = pytest.mark.slow


@pytest.fixture()
def lake_settings(stack, tmp_path_factory):  # type: ignore[no-untyped-def]
    root = str(tmp_path_factory.mktemp("lake"))
    return stack.model_copy(update={"lake": stack.lake.model_copy(update={"root": root})})


@pytest.fixture()
def prefix(stack) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh topic prefix with the contract's topics created; deleted afterwards."""
    from confluent_kafka.admin import AdminClient

    from shopstream.kafka_admin import client_config, ensure_topics

    p = f"rc{uuid.uuid4().hex[:8]}."
    created = ensure_topics(stack, topic_prefix=p)
    yield p
    admin = AdminClient(client_config(stack))  # a name: the client must outlive the request
    for done in admin.delete_topics(created, operation_timeout=30).values():
        done.result()


def _unique_hour() -> datetime:
    return datetime(2023, 1, 1, tzinfo=UTC) + timedelta(hours=int(uuid.uuid4().int % 20000))


def _send_users(settings, topic: str, sends: list[tuple[int, int, datetime]]) -> list[str]:  # type: ignore[no-untyped-def]
    """Valid user events, each to (partition, Kafka timestamp ms) with an event time; their ids."""
    import json

    from confluent_kafka import Producer

    from producer.generators import EventFactory
    from shopstream.kafka_admin import client_config

    factory = EventFactory(seed=uuid.uuid4().int % 1_000_000, first_user_id=1)
    producer = Producer({**client_config(settings), "enable.idempotence": True, "acks": "all"})
    ids = []
    for partition, ts_ms, event_time in sends:
        key, value = factory.user(event_time.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"))
        producer.produce(topic, value, key, partition=partition, timestamp=ts_ms)
        ids.append(json.loads(value)["event_id"])
    assert producer.flush(30) == 0
    return ids


def _bronze_hour(spark, settings, hour: datetime):  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    from shopstream.hourly.export import checksum_expr

    return (
        spark.read.format("delta")
        .load(f"{settings.lake_root}/bronze/users")
        .where((F.col("event_date") == F.lit(hour.date())) & (F.col("event_hour") == hour.hour))
        .agg(F.expr("count(distinct event_id)").alias("n"), F.expr(checksum_expr()).alias("c"))
        .collect()[0]
    )


def test_recount_reads_every_partition_that_holds_the_hour_and_nothing_else(
    spark, lake_settings, prefix
) -> None:  # type: ignore[no-untyped-def]
    """Partition 0 gets the hour on time, partition 2 gets its part 2.5 h behind, partition 1
    none of it (idle for the hour); 2 h 40 min of another hour's events surround them."""
    from shopstream import batch, ledger

    topic = prefix + "shopstream.users"
    hour, other = _unique_hour(), _unique_hour() + timedelta(days=900)
    t0 = int((datetime.now(UTC) - timedelta(hours=4)).timestamp() * 1000)
    sec, minute = 1000, 60_000
    on_time = [(0, t0 + i * sec, hour + timedelta(seconds=i)) for i in range(20)]
    filler = [(i % 3, t0 + 30 * minute + i * 20 * sec, other + timedelta(seconds=i)) for i in range(300)]
    behind = [(2, t0 + 150 * minute + i * sec, hour + timedelta(minutes=30, seconds=i)) for i in range(15)]
    after = [
        (i % 3, t0 + 170 * minute + i * sec, other + timedelta(minutes=30, seconds=i)) for i in range(60)
    ]
    _send_users(lake_settings, topic, on_time + filler + behind + after)
    ingest(spark, lake_settings, prefix)

    runner = batch.Runner(lake_settings, batch.new_run_id(hour), _spark=spark, topic_prefix=prefix)
    recount = runner.kafka_recount("users", hour)
    expected = _bronze_hour(spark, lake_settings, hour)
    assert (recount.count, recount.checksum) == (35, int(expected["c"])) and expected["n"] == 35
    assert recount.scanned == 35, recount.ranges  # none of the other hour's 360 records
    assert sorted(recount.ranges) == [0, 2]  # the idle partition costs nothing

    # the whole hourly run reconciles, with the bounded recount as its kafka stage
    results = batch.run_hour(lake_settings, hour, entities=("users",), topic_prefix=prefix)
    assert next(r for r in results if r["step"] == "reconcile")["kafka"] == 35
    assert ledger.differences(ledger.latest(lake_settings, hour, "users")) == []


def test_an_event_missing_from_bronze_inside_the_range_fails_reconcile(spark, lake_settings, prefix) -> None:  # type: ignore[no-untyped-def]
    from shopstream import batch

    topic = prefix + "shopstream.users"
    hour = _unique_hour()
    t0 = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000)
    sends = [(i % 3, t0 + i * 1000, hour + timedelta(seconds=i)) for i in range(30)]
    ids = _send_users(lake_settings, topic, sends)
    ingest(spark, lake_settings, prefix)
    lost = ids[16]  # partition 1, in the middle of the hour's span: bronze "loses" it
    spark.sql(f"DELETE FROM delta.`{lake_settings.lake_root}/bronze/users` WHERE event_id = '{lost}'")
    assert _bronze_hour(spark, lake_settings, hour)["n"] == 29

    with pytest.raises(batch.ReconcileError, match=r"kafka has 30 rows, bronze 29 \(difference \+1\)"):
        batch.run_hour(lake_settings, hour, entities=("users",), topic_prefix=prefix)


def test_a_late_event_is_found_by_the_recount_of_its_correction(spark, lake_settings, prefix) -> None:  # type: ignore[no-untyped-def]
    """The hour is reconciled; other events follow; then one more event of the hour arrives. The
    next hourly run corrects the hour, and its recount reads the late event's own Kafka span
    (not everything produced in between): the ledger's correction shows kafka = bronze = n + 1."""
    from shopstream import batch, ledger

    settings = lake_settings.model_copy(
        update={"ledger": lake_settings.ledger.model_copy(update={"recount_margin": "1s"})}
    )
    hour = _unique_hour()
    seed = uuid.uuid4().int % 1_000_000
    first = produce(settings, 400, hour, seed, step="1s", extra=("--topic-prefix", prefix))
    ingest(spark, settings, prefix)
    batch.run_hour(settings, hour, entities=("users",), topic_prefix=prefix)
    n = first["acked"]["users"]
    assert ledger.latest(settings, hour, "users")[0].stage == "kafka"
    assert {e.stage: e.row_count for e in ledger.latest(settings, hour, "users")}["kafka"] == n

    time.sleep(2.5)  # more than the margin between the hour's arrival and the next records
    between = produce(
        settings, 3000, hour + timedelta(hours=5), seed + 1, step="1s", extra=("--topic-prefix", prefix)
    )
    time.sleep(2.5)
    late = produce(
        settings,
        2,
        hour + timedelta(minutes=59),
        seed + 2,
        step="1s",
        extra=(
            "--topic-prefix",
            prefix,
            *("--initial-users", "1", "--users-per-loop", "0", "--ratio-order-user", "1"),
        ),
    )
    assert late["acked"]["users"] == 1
    ingest(spark, settings, prefix)

    results = batch.run_hour(settings, hour + timedelta(hours=1), entities=("users",), topic_prefix=prefix)
    [fix] = [r for r in results if r.get("correction") and r["step"] == "reconcile"]
    assert fix["kafka"] == fix["bronze"] == n + 1
    assert fix["kafka_scanned"] < n + 1 + between["acked"]["users"] // 2, fix  # not the 5 h hour between
    corrections = {e.stage: e for e in ledger.runs(settings, hour, "users") if e.is_correction}
    assert corrections["kafka"].row_count == corrections["bronze"].row_count == n + 1
    assert ledger.differences(ledger.latest(settings, hour, "users")) == []


@pytest.mark.timeout(1800)  # a dozen Spark jobs: minutes on a loaded machine
def test_the_hourly_run_reads_no_delta_log_file_before_the_newest_checkpoint(
    spark, lake_settings, prefix
) -> None:  # type: ignore[no-untyped-def]
    """A bronze table with a history (written, processed hours compacted, a late event appended)
    whose every log file before the newest checkpoint is then overwritten with garbage: the next
    hourly run - the late-data check (delta-rs file statistics), the correction of the late hour
    (compact, export, recount) and the new hour - still runs and reconciles. So its Delta reads
    cost the newest checkpoint plus fewer than ``delta.checkpointInterval`` commits, whatever the
    number of commits (hours) the table has seen; log retention bounds the rest of the log."""
    from pyspark.sql import functions as F

    from shopstream import batch, ledger
    from shopstream.contract import load_contract
    from shopstream.hourly.export import checksum_expr
    from shopstream.ingest.bronze import transform_bronze, transform_classify
    from shopstream.lake import LAKE_PROPERTIES, bronze_path, ensure_properties
    from shopstream.spark import kafka_source_options

    topic = prefix + "shopstream.users"
    first = _unique_hour()
    hours = [first + timedelta(hours=i) for i in range(3)]
    late_hour = hours[0]
    t0 = int((datetime.now(UTC) - timedelta(hours=2)).timestamp() * 1000)
    sends = [
        (i % 3, t0 + (k * 5 + i) * 1000, h + timedelta(minutes=i))
        for k, h in enumerate(hours)
        for i in range(5)
    ]
    # the late event of the first hour arrives an hour after the others
    ids = _send_users(lake_settings, topic, [*sends, (1, t0 + 3_600_000, late_hour + timedelta(minutes=58))])
    late_id = ids[-1]

    contract = load_contract()
    path = bronze_path(lake_settings, "users")
    raw = (
        spark.read.format("kafka")
        .options(**kafka_source_options(lake_settings))
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )
    rows = transform_bronze(
        transform_classify(raw, contract, {topic: "users"}), contract, "users", datetime.now(UTC)
    )
    on_time = rows.where(F.col("event_id") != late_id)
    # bronze as the stream and the hourly runs leave it: files per hour, the processed hours
    # compacted (the lake's properties with a checkpoint every 2 commits instead of 10: the same
    # kind of log in fewer Spark jobs), their bronze counts in the ledger, then the late event
    on_time.repartition(6).write.format("delta").partitionBy("event_date", "event_hour").save(path)
    ensure_properties(spark, path, {**LAKE_PROPERTIES, "delta.checkpointInterval": "2"})
    for h in hours[:-1]:
        spark.sql(f"OPTIMIZE delta.`{path}` WHERE event_date = '{h:%Y-%m-%d}' AND event_hour = {h.hour}")
    counts = (
        spark.read.format("delta")
        .load(path)
        .groupBy("event_date", "event_hour")
        .agg(F.expr("count(distinct event_id)").alias("n"), F.expr(checksum_expr()).alias("c"))
        .collect()
    )
    ledger.record(
        lake_settings,
        [
            ledger.Entry(hour, "users", "bronze", int(r.n), int(r.c), "earlier-runs", False)
            for r in counts
            if (
                hour := datetime(
                    r.event_date.year, r.event_date.month, r.event_date.day, r.event_hour, tzinfo=UTC
                )
            )
            != hours[-1]
        ],
    )
    rows.where(F.col("event_id") == late_id).write.format("delta").mode("append").save(path)

    log = Path(path) / "_delta_log"
    checkpoints = sorted(int(p.name[:20]) for p in log.glob("*.checkpoint*.parquet"))
    # 5 commits (write, properties, 2 x OPTIMIZE, late event): checkpoints at 2 and 4
    assert checkpoints and checkpoints[-1] >= 4, checkpoints
    spoiled = 0
    for p in log.iterdir():  # every commit and checkpoint before the newest: garbage for any reader
        if p.name[:20].isdigit() and int(p.name[:20]) < checkpoints[-1] and p.suffix in (".json", ".parquet"):
            p.write_bytes(b"older than the newest checkpoint: a bounded reader never opens this\n")
            spoiled += 1
    assert spoiled >= 4
    spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()  # no snapshot kept from before

    results = batch.run_hour(lake_settings, hours[-1], entities=("users",), topic_prefix=prefix)
    [fix] = [r for r in results if r.get("correction") and r["step"] == "reconcile"]
    assert fix["hour"] == late_hour and fix["kafka"] == fix["bronze"] == 6, fix
    done = next(r for r in results if not r.get("correction") and r["step"] == "reconcile")
    assert done["kafka"] == done["bronze"] == 5, done
    assert ledger.differences(ledger.latest(lake_settings, late_hour, "users")) == []
