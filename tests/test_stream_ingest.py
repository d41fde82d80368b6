"""The stream-ingest job against real Kafka, Spark and Delta (jobs/run_stream.py).

Each test uses its own topic prefix and lake directory, so tests never see each other's data
(nor a developer's). Event times come from the producer's simulated clock, so the expected
hour partitions are known exactly; the producer's summary counts every injected record.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from shopstream.durations import parse_duration
from shopstream.ingest import dedupe, source
from shopstream.ingest.params import StreamParams

pytestmark = pytest.mark.slow

UTC = dt.UTC
START = dt.datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def lake_settings(settings: Any, root: Path | str) -> Any:
    """The test settings with the lake somewhere else (a tmp dir or an s3a:// prefix)."""
    return settings.model_copy(update={"lake": settings.lake.model_copy(update={"root": str(root)})})


def produce(settings: Any, prefix: str, **options: Any) -> dict[str, Any]:
    from producer.options import ProduceOptions
    from producer.runner import ProducerRun

    opts = {"seed": 42, "start_time_us": int(START.timestamp() * 1_000_000), "initial_users": 20, **options}
    summary = ProducerRun(ProduceOptions(topic_prefix=prefix, **opts), settings).run().to_dict()
    assert summary["ok"], summary
    return summary


def bronze(spark: Any, settings: Any, entity: str) -> Any:
    from shopstream import lake

    return spark.read.format("delta").load(lake.bronze_path(settings, entity))


def quarantine(spark: Any, settings: Any) -> Any:
    from shopstream import lake

    return spark.read.format("delta").load(lake.quarantine_path(settings))


def run_available_now(spark: Any, settings: Any, prefix: str, **params: Any) -> list[str]:
    from shopstream.ingest import stream as stream_ingest

    lines: list[str] = []
    p = StreamParams(topic_prefix=prefix, available_now=True, **params).validate()
    handle = stream_ingest.start(spark, settings, p, log=lines.append)
    handle.wait(timeout=600)
    assert not handle.query.isActive
    # no stateful operator and no watermark (the dedupe index is the driver's): no row dropped
    progress = [p for p in handle.query.recentProgress if p["numInputRows"]]
    assert progress and not any(p["stateOperators"] for p in progress)
    assert sum(dedupe.dropped_by_watermark(p) for p in progress) == 0
    return lines


def hour_counts(df: Any) -> dict[str, int]:
    return {
        f"{r.event_date.isoformat()}T{r.event_hour:02d}:00:00+00:00": r["count"]
        for r in df.groupBy("event_date", "event_hour").count().collect()
    }


@pytest.fixture(scope="module")
def ingested(stack, spark, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """600 valid events + every kind of chaos, ingested in several small batches (available-now)."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = lake_settings(stack, tmp_path_factory.mktemp("lake"))
    summary = produce(
        stack,
        prefix,
        count=600,
        malformed=0.15,
        duplicates=0.1,
        late=0.05,
        late_by=7200.0,
        time_step=12.0,  # 600 events over 2 hours: 09:30 .. 11:30, late ones 2 hours earlier
    )
    lines = run_available_now(spark, settings, prefix, max_offsets_per_trigger=200)
    return {"prefix": prefix, "settings": settings, "summary": summary, "lines": lines}


def test_every_event_lands_once_in_its_event_time_hour(spark, ingested) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    settings, summary = ingested["settings"], ingested["summary"]
    assert summary["acked"]["duplicates"] > 0 and sum(summary["late"].values()) > 0
    for entity in ("users", "orders"):
        df = bronze(spark, settings, entity)
        n = summary["acked"][entity]
        assert df.count() == n
        assert df.select("event_id").distinct().count() == n
        # partitions follow event time (late events in their own, earlier hour), never arrival time
        assert hour_counts(df) == summary["produced_valid_by_hour"][entity]
        wrong = df.where(
            (F.to_date("created_at") != F.col("event_date")) | (F.hour("created_at") != F.col("event_hour"))
        )
        assert wrong.count() == 0
    # several micro-batches, one progress line each
    assert len([ln for ln in ingested["lines"] if ln.startswith("[stream] batch=")]) >= 4
    line = next(ln for ln in ingested["lines"] if "batch=" in ln)
    for part in ("rows=", "duration=", "rate=", "lag=orders:0=", " users:0=", "watermark=orders:", ",users:"):
        assert part in line, line
    print("\n".join(ingested["lines"]))


def test_every_malformed_record_is_quarantined_once(spark, ingested) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    settings, summary = ingested["settings"], ingested["summary"]
    q = quarantine(spark, settings)
    malformed = summary["acked"]["malformed"]
    assert all(n > 0 for n in malformed.values()), malformed
    assert q.count() == summary["acked"]["malformed_total"]
    assert q.select("kafka_topic", "kafka_partition", "kafka_offset").distinct().count() == q.count()
    reasons = {r.reason: r["count"] for r in q.groupBy("reason").count().collect()}
    assert sum(n for r, n in reasons.items() if r.startswith("record is")) == malformed["oversized"]
    assert reasons.get("not valid UTF-8") == malformed["non_utf8"]
    assert reasons.get("not a valid JSON object") == malformed["bad_json"]
    field_level = malformed["wrong_types"] + malformed["missing_fields"]
    assert sum(n for r, n in reasons.items() if ": " in r and not r.startswith("record is")) == field_level
    # the event hour is kept whenever created_at survived, so the ledger can count per hour
    assert q.where(F.col("event_hour").isNotNull()).count() >= malformed["oversized"]
    assert q.where(F.col("raw_value").isNull()).count() == 0


def test_watermark_is_committed_and_closes_hours(ingested) -> None:  # type: ignore[no-untyped-def]
    from shopstream import lake

    settings = ingested["settings"]
    for entity in ("users", "orders"):
        wm = lake.watermark(settings, entity)
        assert wm is not None
        row = lake.watermarks(settings)[entity]
        assert wm == min(row["partition_max_event_time"].values()) - dt.timedelta(minutes=10)
        assert len(row["partition_max_event_time"]) == settings.kafka.partitions
        # events run 09:30 .. ~11:30, lateness 10 min: 09:00 and 10:00 are closed, 11:00 is not
        assert (
            dt.datetime(2026, 11, 24, 11, 10, tzinfo=UTC)
            <= wm
            < dt.datetime(2026, 11, 24, 11, 31, tzinfo=UTC)
        )
        assert lake.hour_is_closed(settings, entity, dt.datetime(2026, 11, 24, 9))
        assert lake.hour_is_closed(settings, entity, dt.datetime(2026, 11, 24, 10, tzinfo=UTC))
        assert not lake.hour_is_closed(settings, entity, dt.datetime(2026, 11, 24, 11, tzinfo=UTC))
    assert lake.watermark(lake_settings(settings, settings.lake_root + "-nothing"), "users") is None


def assert_stats_only_on(table: Any, columns: str) -> None:
    """Every file of ``table`` has its row count and min/max statistics of ``columns`` only."""
    import pyarrow as pa

    actions = pa.table(table.get_add_actions(flatten=True)).to_pydict()
    assert actions["num_records"] and all(n is not None and n > 0 for n in actions["num_records"])
    with_min = {
        k.removeprefix("min.")
        for k, v in actions.items()
        if k.startswith("min.") and any(x is not None for x in v)
    }
    assert with_min == set(columns.split(",")), with_min


def test_delta_rs_reads_the_same_tables(spark, ingested) -> None:  # type: ignore[no-untyped-def]
    from deltalake import DeltaTable

    from shopstream import lake

    settings = ingested["settings"]
    for entity in ("users", "orders"):
        by_spark = sorted(r.event_id for r in bronze(spark, settings, entity).select("event_id").collect())
        t = DeltaTable(lake.bronze_path(settings, entity))
        by_rs = sorted(t.to_pyarrow_table(columns=["event_id"]).column("event_id").to_pylist())
        assert by_rs == by_spark
        assert t.metadata().partition_columns == ["event_date", "event_hour"]
        assert lake.snapshot(settings, lake.bronze_path(settings, entity)).num_records == len(by_spark)
        assert_stats_only_on(t, lake.STATS_COLUMNS["bronze"])
    q = DeltaTable(lake.quarantine_path(settings))
    assert_stats_only_on(q, lake.STATS_COLUMNS["quarantine"])
    assert q.to_pyarrow_table().num_rows == quarantine(spark, settings).count()
    w = DeltaTable(lake.watermarks_path(settings)).to_pyarrow_table().to_pylist()
    assert {r["entity"] for r in w} == {"orders", "users"}
    newest = {
        e: max((r for r in w if r["entity"] == e), key=lambda r: r["batch_id"]) for e in ("users", "orders")
    }
    assert {e: r["batch_id"] for e, r in newest.items()} == {
        e: r["batch_id"] for e, r in lake.watermarks(settings).items()
    }


def test_replayed_batch_commits_nothing_twice(spark, ingested) -> None:  # type: ignore[no-untyped-def]
    """A crash after the Delta commits but before Spark's checkpoint commit replays the batch."""
    from shopstream import lake

    settings, prefix = ingested["settings"], ingested["prefix"]
    commits = Path(lake.checkpoint_path(settings)) / "commits"
    last = max(int(p.name) for p in commits.iterdir() if p.name.isdigit())
    versions = {e: lake.versions(settings, lake.bronze_path(settings, e))[-1] for e in ("users", "orders")}
    q_version = lake.versions(settings, lake.quarantine_path(settings))[-1]
    counts = {e: bronze(spark, settings, e).count() for e in ("users", "orders")}
    (commits / str(last)).unlink()  # Spark will run batch `last` again from its offsets file
    for crc in commits.glob(f".{last}.crc"):
        crc.unlink()
    lines = run_available_now(spark, settings, prefix, max_offsets_per_trigger=200)
    assert any(f"batch={last} " in ln for ln in lines), lines
    for e in ("users", "orders"):
        assert lake.versions(settings, lake.bronze_path(settings, e))[-1] == versions[e]
        assert bronze(spark, settings, e).count() == counts[e]
    assert lake.versions(settings, lake.quarantine_path(settings))[-1] == q_version


def test_a_producer_replay_lands_once_within_the_dedupe_window(spark, stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A restarted producer re-sends events (same event_ids, new offsets, later micro-batches)."""
    import time

    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = lake_settings(stack, tmp_path / "lake")
    first = produce(stack, prefix, count=300, seed=7, time_step=1.0)
    run_available_now(spark, settings, prefix)
    want = {e: first["acked"][e] for e in ("users", "orders")}
    assert {e: bronze(spark, settings, e).count() for e in want} == want
    produce(stack, prefix, count=300, seed=7, time_step=1.0)  # the same 300 events again
    run_available_now(spark, settings, prefix)
    assert {e: bronze(spark, settings, e).count() for e in want} == want
    # the state is bounded by the window (processing time): once later batches moved the
    # watermark past it, the ids are forgotten and the same replay lands again. An id keeps the
    # window it was stored with, so this part runs on a lake and checkpoint of its own.
    window = dt.timedelta(milliseconds=500)
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = lake_settings(stack, tmp_path / "lake-short-window")
    first = produce(stack, prefix, count=300, seed=7, time_step=1.0)
    run_available_now(spark, settings, prefix, dedupe_window=window)
    later = []
    for seed, uid in ((8, 10_000), (9, 20_000)):  # other events, later than the window
        time.sleep(1.5)
        later.append(produce(stack, prefix, count=50, seed=seed, time_step=1.0, first_user_id=uid))
        run_available_now(spark, settings, prefix, dedupe_window=window)
    produce(stack, prefix, count=300, seed=7, time_step=1.0)
    run_available_now(spark, settings, prefix, dedupe_window=window)
    got = {e: bronze(spark, settings, e).count() for e in want}
    assert got == {e: 2 * first["acked"][e] + sum(x["acked"][e] for x in later) for e in want}


def test_an_idle_caught_up_stream_moves_the_watermark_with_the_clock(spark, stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import time

    from shopstream import lake
    from shopstream.ingest import stream as stream_ingest

    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = lake_settings(stack, tmp_path / "lake")
    summary = produce(stack, prefix, count=60)  # event times from START (hours ago)
    lines: list[str] = []
    params = StreamParams(
        topic_prefix=prefix,
        trigger_interval=dt.timedelta(seconds=1),
        idle_timeout=dt.timedelta(seconds=2),
    ).validate()
    handle = stream_ingest.start(spark, settings, params, log=lines.append)
    data_only = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            handle.wait(timeout=1)
            if data_only is None and any(ln.startswith("[stream] batch=") for ln in lines):
                data_only = lake.watermark(settings, "users")  # what the data alone gave
            wm = lake.watermark(settings, "users")
            if wm is not None and wm > dt.datetime.now(UTC) - dt.timedelta(minutes=11):
                break
    finally:
        handle.request_stop()
        handle.wait(timeout=60)
    now = dt.datetime.now(UTC)
    assert any(ln.startswith("[stream] idle: caught up") for ln in lines), lines
    for entity in ("users", "orders"):
        wm = lake.watermark(settings, entity)
        assert wm is not None and data_only is not None and wm > data_only
        # clock - idle timeout - lateness, written at most 30 s ago
        assert now - dt.timedelta(minutes=10, seconds=45) <= wm <= now - dt.timedelta(minutes=10, seconds=2)
        assert bronze(spark, settings, entity).count() == summary["acked"][entity]
    # the hour of the data is closed now, although no later event ever arrived
    assert lake.hour_is_closed(settings, "orders", START.replace(minute=0))


def test_poison_pills_never_stop_a_running_stream(spark, stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import time

    from shopstream.ingest import stream as stream_ingest

    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = lake_settings(stack, tmp_path / "lake")
    produce(stack, prefix, count=10)  # creates the topics
    params = StreamParams(
        topic_prefix=prefix, trigger_interval=dt.timedelta(seconds=1), max_offsets_per_trigger=100
    ).validate()
    lines: list[str] = []
    handle = stream_ingest.start(spark, settings, params, log=lines.append)
    try:
        summary = produce(
            stack, prefix, count=150, malformed=0.5, seed=43, first_user_id=1000, first_order_id=1000
        )
        want_q = summary["acked"]["malformed_total"]
        want_valid = 10 + summary["acked"]["users"] + summary["acked"]["orders"]
        deadline = time.monotonic() + 300  # batches of 100 records; a loaded machine takes ~40 s each
        got_q = got_valid = -1
        while time.monotonic() < deadline:
            handle.wait(timeout=2)
            if (Path(settings.lake_root) / "quarantine" / "_delta_log").exists():
                got_q = quarantine(spark, settings).count()
                got_valid = (
                    bronze(spark, settings, "users").count() + bronze(spark, settings, "orders").count()
                )
                if (got_q, got_valid) == (want_q, want_valid):
                    break
        assert (got_q, got_valid) == (want_q, want_valid)
        assert handle.query.isActive and handle.query.exception() is None
    finally:
        handle.request_stop()
        handle.wait(timeout=120)
    assert not handle.query.isActive
    from shopstream import lake

    cp = Path(settings.lake_root) / "_checkpoints" / "bronze"
    last_commit = max(int(p.name) for p in (cp / "commits").iterdir() if p.name.isdigit())
    for entity in ("users", "orders"):  # nothing written for a batch Spark has not committed
        assert max(lake.snapshot(settings, lake.bronze_path(settings, entity)).txns.values()) <= last_commit


def test_a_small_batch_writes_one_file_per_hour_and_a_large_one_spreads_out(spark, ingested) -> None:  # type: ignore[no-untyped-def]
    """Each table's write gets ceil(rows / ROWS_PER_WRITE_TASK) tasks, at most one per core: a
    batch of a few hundred rows adds one file per hour partition, not one per core."""
    from shopstream import lake
    from shopstream.ingest.writer import ROWS_PER_WRITE_TASK, write_partitions

    settings = ingested["settings"]
    for path in [
        *(lake.bronze_path(settings, e) for e in ("users", "orders")),
        lake.quarantine_path(settings),
    ]:
        log = Path(path.removeprefix("file:")) / "_delta_log"
        appends = 0
        for commit in sorted(log.glob("*.json")):
            actions = [json.loads(line) for line in commit.read_text().splitlines()]
            if not any("txn" in a for a in actions):
                continue  # not a stream commit
            appends += 1
            parts = [json.dumps(a["add"]["partitionValues"], sort_keys=True) for a in actions if "add" in a]
            assert len(parts) == len(set(parts)), (commit.name, parts)
        assert appends >= 2, path
    df = spark.range(0, 100, numPartitions=4)
    assert write_partitions(df, 100, 4).rdd.getNumPartitions() == 1
    assert write_partitions(df, 2 * ROWS_PER_WRITE_TASK + 1, 4).rdd.getNumPartitions() == 3
    assert write_partitions(df, 100 * ROWS_PER_WRITE_TASK, 4).rdd.getNumPartitions() == 4


def test_stream_params_and_kafka_options(settings) -> None:  # type: ignore[no-untyped-def]
    from shopstream.ingest import stream as stream_ingest

    assert parse_duration("1h30m") == dt.timedelta(minutes=90)
    assert parse_duration("250ms") == dt.timedelta(milliseconds=250)
    with pytest.raises(ValueError):
        parse_duration("soon")
    profile, p = stream_ingest.parse_args(["--profile", "local", "--trigger", "2s", "--lateness", "1m"])
    assert (
        profile == "local"
        and p.trigger_interval == dt.timedelta(seconds=2)
        and p.lateness == dt.timedelta(minutes=1)
    )
    with pytest.raises(SystemExit):
        stream_ingest.parse_args(["--max-offsets-per-trigger", "-1"])
    opts = source.kafka_options(settings, ["b", "a"], p)
    assert opts["failOnDataLoss"] == "true" and opts["subscribe"] == "a,b"
    assert opts["maxOffsetsPerTrigger"] == str(p.max_offsets_per_trigger)
    aws = settings.model_copy(
        update={"kafka": settings.kafka.model_copy(update={"security_protocol": "SASL_SSL"})}
    )
    assert source.kafka_options(aws, ["a"], p)["kafka.sasl.mechanism"] == "AWS_MSK_IAM"
    assert json.dumps(opts)


# --- time travel CLI ------------------------------------------------------------------------------
def _cli(monkeypatch, settings, *args: str):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from shopstream.cli import cli

    monkeypatch.setenv("SHOPSTREAM_LAKE__ROOT", settings.lake_root)
    return CliRunner().invoke(cli, list(args))


def test_lake_time_travel_cli(spark, ingested, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from shopstream import lake

    settings = ingested["settings"]
    hist = _cli(monkeypatch, settings, "lake", "history", "users", "--json")
    assert hist.exit_code == 0, hist.output
    entries = [json.loads(line) for line in hist.stdout.splitlines()]
    assert [e["operation"] for e in entries][-1] == "CREATE TABLE"
    writes = sorted((e for e in entries if e["operation"] == "WRITE"), key=lambda e: e["version"])
    assert len(writes) >= 3  # one append per micro-batch
    first = writes[0]
    inserted = int(first["metrics"]["numOutputRows"])
    older = _cli(monkeypatch, settings, "lake", "count", "users", "--as-of", str(first["version"]))
    assert older.exit_code == 0, older.output
    assert int(older.stdout.strip()) == inserted < bronze(spark, settings, "users").count()
    now = _cli(monkeypatch, settings, "lake", "count", "users")
    assert int(now.stdout.strip()) == bronze(spark, settings, "users").count()
    # the rows of the older version are exactly those of its snapshot
    shown = _cli(
        monkeypatch, settings, "lake", "show", "users", "--as-of", str(first["version"]), "--limit", "1000"
    )
    assert shown.exit_code == 0, shown.output
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    v1 = (
        spark.read.format("delta")
        .option("versionAsOf", first["version"])
        .load(lake.bronze_path(settings, "users"))
    )
    assert sorted(r["event_id"] for r in rows) == sorted(r.event_id for r in v1.select("event_id").collect())
    # by timestamp: the commit time of that version selects that version
    ts = first["timestamp"]
    by_ts = _cli(monkeypatch, settings, "lake", "count", "users", "--as-of", ts)
    assert by_ts.exit_code == 0, by_ts.output
    assert int(by_ts.stdout.strip()) == inserted
    hour = _cli(monkeypatch, settings, "lake", "count", "orders", "--hour", "2026-11-24T10")
    assert (
        int(hour.stdout.strip())
        == ingested["summary"]["produced_valid_by_hour"]["orders"]["2026-11-24T10:00:00+00:00"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("count", "customers"), "unknown table 'customers'; allowed: users, orders, quarantine, watermarks"),
        (("count", "users", "--as-of", "999"), "version 999 does not exist; available versions: 0.."),
        (("show", "users", "--as-of", "last tuesday"), "--as-of 'last tuesday': not a version number"),
        (("count", "users", "--as-of", "2001-01-01T00:00:00Z"), "before the earliest version"),
        (("show", "users", "--hour", "25"), "--hour '25': expected an hour 0-23"),
        (("history", "nope"), "unknown table 'nope'"),
    ],
)
def test_lake_cli_rejects_bad_table_or_version(ingested, monkeypatch, args, message) -> None:  # type: ignore[no-untyped-def]
    result = _cli(monkeypatch, ingested["settings"], "lake", *args)
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert "Traceback" not in result.output


def test_rows_dropped_by_a_watermark_are_counted_inside_the_batch(
    spark, stack, tmp_path, session_conf
) -> None:  # type: ignore[no-untyped-def]
    """The check the job runs before its commits sees a row a watermark dropped (event-time one)."""
    import time

    from confluent_kafka import Producer

    from shopstream.kafka_admin import client_config, ensure_topics

    prefix = f"w{uuid.uuid4().hex[:8]}."
    ensure_topics(stack, topic_prefix=prefix)
    topic = prefix + "shopstream.users"
    producer = Producer(client_config(stack))
    seen: list[int] = []

    def batch(df: Any, _batch_id: int) -> None:
        df.localCheckpoint(eager=True)
        (query,) = spark.streams.active  # the batch's own session is a clone
        seen.append(dedupe.batch_dropped_by_watermark(query._jsq))

    def run() -> None:
        q = (
            spark.readStream.format("kafka")
            .option("kafka.bootstrap.servers", stack.kafka.bootstrap_servers)
            .option("subscribe", topic)
            .option("startingOffsets", "earliest")
            .load()
            .withWatermark("timestamp", "0 seconds")  # an event-time watermark: what the job never uses
            .dropDuplicatesWithinWatermark(["offset"])
            .writeStream.foreachBatch(batch)
            .option("checkpointLocation", str(tmp_path / "checkpoint"))
            .trigger(availableNow=True)
            .start()
        )
        q.awaitTermination(300)

    # this probe needs Spark's no-data batch, which persists the moved event-time watermark for the
    # next run; a session setting of an earlier test may have turned it off
    session_conf("spark.sql.streaming.noDataMicroBatches.enabled", "true")
    now_ms = int(time.time() * 1000)
    producer.produce(topic, b"{}", timestamp=now_ms)
    producer.flush(30)
    run()
    producer.produce(topic, b"{}", timestamp=now_ms - 2 * 3600 * 1000)  # two hours late
    producer.flush(30)
    run()
    assert seen[0] == 0 and sum(seen) == 1, seen
