"""Stream-ingest benchmark: ours vs a naive Spark pipeline vs Spark's Kafka -> noop; freshness; heap;
the cost of a week-old bronze table's state.

Needs a running stack (``shopstream up``, or the test stack with its SHOPSTREAM_* variables).
Everything goes to fresh topics and a fresh lake directory.

1. throughput: N valid events (+1 % malformed, +1 % duplicates) are produced first; then, in the
   same SparkSession (local[2]) and with the same ``maxOffsetsPerTrigger``, three available-now
   runs over the same topics, each with its tables created before its clock starts:
   * noop: Spark's Kafka source -> ``noop`` sink (the engine's ceiling: it does not even parse);
   * naive: Kafka -> ``from_json`` with the contract's schema (per topic) -> Delta's streaming sink
     (one table, no validation, no dedupe, no quarantine, no watermark);
   * ours: the stream-ingest job (``shopstream.ingest.stream``).
   Reported: whole run (wall clock from start to the end of the query) and steady state (rows and
   trigger durations from the second batch on). Targets: ours >= 0.5 x noop, >= 0.9 x naive.
2. freshness: the job runs continuously (``--trigger``) while the producer sends ``--rate``
   events/s for ``--duration`` seconds (>= 600 for the real measurement). Per row: visible = the
   commit time of the Delta version that added its file, produced = its Kafka CreateTime.
   Before the clock starts, ``--backlog`` events of an hour two hours back are produced; the job
   ingests them with the first batches and that hour is compacted (OPTIMIZE, a second writer)
   halfway through the window; their rows are left out of the latency figures. Target: p95 <= 2 s.
   ``--warmup`` seconds at the same rate come before the window and are not counted either (a
   just-started job runs its first minute at up to twice its later batch time while the JIT
   compiles; the target is the long-running job's); the window's p95 is also given per minute.
   The driver heap is sampled every 2 s: JVM used (live objects + garbage not yet collected, which
   G1 lets grow towards the 2 GB heap); at the end, used after a full GC (the live set) and the
   JVM's max of the G1 old generation's usage. Target: <= 1 GB.
   Then the same window for the naive pipeline (``--freshness-of``): Spark's own floor for this
   latency on this machine, in the same run.
3. table state (``--state-sizes``): a bronze table whose log holds N entries the way a week of
   stream appends + hourly compaction leaves it (per hour: the batches' files, removed again by
   the compaction and kept as tombstones for the 7-day VACUUM retention, plus the compacted
   file) - written as one synthetic commit - then: the state rebuild a fresh driver pays
   (from the checkpoint), Delta's checked txnAppId append (what a run's first batch pays), the
   unchecked append with its ``SetTransaction`` (what every later batch pays) and a checkpoint
   write (every 100th commit, `delta.checkpointInterval`).
4. dedupe index (``--dedupe-ids``): the driver's index of landed ids filled to a full window
   (an hour at 2,000 ev/s), then one batch's lookup and add. (Spark's ``dropDuplicatesWithinWatermark``
   it replaced scanned its whole state every batch: 0.07 s at 79 k ids, 0.42 s at 468 k.)

Example:
    .venv/bin/python bench/stream_bench.py --events 100000 --max-offsets-per-trigger 50000 \\
        --rate 2000 --duration 600 --state-sizes 10000 100000 600000
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from producer.options import ProduceOptions
from producer.runner import ProducerRun
from shopstream import config, lake
from shopstream.contract import entities, load_contract
from shopstream.durations import parse_duration
from shopstream.hourly.compact import compact_hour
from shopstream.ingest import schemas, source, tables
from shopstream.ingest import stream as stream_ingest
from shopstream.ingest.params import StreamParams
from shopstream.spark import session


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def _commit_times(settings: Any, path: str) -> dict[str, datetime]:
    """Data file -> the commit time of the Delta version that added it."""
    out: dict[str, datetime] = {}
    times = {h["version"]: h["timestamp"] for h in lake.history(settings, path)}
    for v in sorted(times):  # each commit's add actions (delta-rs has no per-commit reader; local lake)
        for line in Path(path, "_delta_log", f"{v:020d}.json").read_text().splitlines():
            if line.strip() and "add" in (a := json.loads(line)):
                if a["add"].get("dataChange", True):  # a compaction's rewrite is not "visible"
                    out[a["add"]["path"].rsplit("/", 1)[-1]] = times[v]
    return out


def _lake(settings: Any, root: str) -> Any:
    return settings.model_copy(update={"lake": settings.lake.model_copy(update={"root": root})})


# --- 1. throughput --------------------------------------------------------------------------------
def _run_stats(progress: list[dict[str, Any]], wall_s: float) -> dict[str, Any]:
    batches = [p for p in progress if int(p["numInputRows"]) > 0]
    rows = sum(int(p["numInputRows"]) for p in batches)
    steady = batches[1:]
    steady_rows = sum(int(p["numInputRows"]) for p in steady)
    steady_s = sum(p["durationMs"]["triggerExecution"] for p in steady) / 1000
    return {
        "rows": rows,
        "batches": len(batches),
        "seconds": round(wall_s, 2),
        "rows_per_s": round(rows / wall_s),
        "steady_rows": steady_rows,
        "steady_seconds": round(steady_s, 2),
        "steady_rows_per_s": round(steady_rows / steady_s) if steady_s else None,
        "batch_seconds": [round(p["durationMs"]["triggerExecution"] / 1000, 2) for p in batches],
        "spark_phases_s": _step_stats([{k: v / 1000 for k, v in p["durationMs"].items()} for p in steady]),
    }


def naive_frame(spark: Any, settings: Any, topics: dict[str, str], params: Any) -> Any:
    """Kafka -> from_json with the contract's wire schema (the entity's struct, null for other topics)."""
    return naive_parse(source.read_kafka(spark, settings, list(topics), params), load_contract(), topics)


def naive_parse(raw: Any, contract: Any, topics: dict[str, str]) -> Any:
    """The naive pipeline's only transform: ``from_json`` per topic over Kafka-shaped ``raw``."""
    from pyspark.sql import functions as F

    text = F.col("value").cast("string")
    parsed = [
        F.when(
            F.col("topic") == t, F.from_json(text, schemas.wire_schema(contract, contract.entity(e)))
        ).alias(e)
        for t, e in sorted(topics.items())
    ]
    return raw.select("topic", "partition", "offset", "timestamp", *parsed)


def throughput(spark: Any, settings: Any, events: int, max_per_trigger: int) -> dict[str, Any]:
    prefix = f"b{uuid.uuid4().hex[:8]}."
    summary = ProducerRun(
        ProduceOptions(topic_prefix=prefix, count=events, seed=5, malformed=0.01, duplicates=0.01), settings
    ).run()
    total = sum(summary.acked[k] for k in (*entities(), "duplicates")) + summary.acked["malformed_total"]
    contract = load_contract()
    topics = source.topic_entities(contract, prefix)
    params = StreamParams(
        topic_prefix=prefix, available_now=True, max_offsets_per_trigger=max_per_trigger
    ).validate()
    out: dict[str, Any] = {"records": total, "max_offsets_per_trigger": max_per_trigger}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        q = (
            source.read_kafka(spark, settings, list(topics), params)
            .writeStream.format("noop")
            .option("checkpointLocation", f"{tmp}/noop-checkpoint")
            .trigger(availableNow=True)
            .start()
        )
        q.awaitTermination()
        out["noop"] = _run_stats(q.recentProgress, time.monotonic() - t0)

        # naive: its table is created before the clock starts, like ours
        from delta.tables import DeltaTable

        naive_path = f"{tmp}/naive"
        frame = naive_frame(spark, settings, topics, params)
        DeltaTable.createIfNotExists(spark).location(naive_path).addColumns(frame.schema).execute()
        t0 = time.monotonic()
        q = (
            frame.writeStream.format("delta")
            .option("checkpointLocation", f"{tmp}/naive-checkpoint")
            .trigger(availableNow=True)
            .start(naive_path)
        )
        q.awaitTermination()
        out["naive"] = _run_stats(q.recentProgress, time.monotonic() - t0)
        out["naive"]["landed"] = spark.read.format("delta").load(naive_path).count()

        lake_settings = _lake(settings, f"{tmp}/lake")
        tables.ensure_tables(spark, lake_settings, contract, sorted(set(topics.values())))
        t0 = time.monotonic()
        handle = stream_ingest.start(spark, lake_settings, params, log=lambda _l: None)
        handle.wait()
        out["ours"] = _run_stats(handle.query.recentProgress, time.monotonic() - t0)
        out["ours"]["landed"] = sum(
            spark.read.format("delta").load(lake.bronze_path(lake_settings, e)).count() for e in entities()
        )
        out["ours"]["quarantined"] = (
            spark.read.format("delta").load(lake.quarantine_path(lake_settings)).count()
        )
        out["ours"]["steps_last_batch"] = handle.writer.stats[max(handle.writer.stats)].steps
    noop, naive, ours = out["noop"], out["naive"], out["ours"]

    def ratio(a: dict[str, Any], b: dict[str, Any], key: str) -> float | None:
        return round(a[key] / b[key], 3) if a.get(key) and b.get(key) else None

    out["ratios"] = {
        "whole_run": {
            "ours/noop": ratio(ours, noop, "rows_per_s"),
            "ours/naive": ratio(ours, naive, "rows_per_s"),
            "naive/noop": ratio(naive, noop, "rows_per_s"),
        },
        "steady_state": {
            "ours/noop": ratio(ours, noop, "steady_rows_per_s"),
            "ours/naive": ratio(ours, naive, "steady_rows_per_s"),
            "naive/noop": ratio(naive, noop, "steady_rows_per_s"),
        },
    }
    out["heap_mb_after"] = round(stream_ingest.driver_heap_used_mb(spark))
    return out


# --- 2. freshness ---------------------------------------------------------------------------------
def _produce(options: ProduceOptions, results: Any) -> None:
    """The producer of the freshness window, in a process of its own (as in production)."""
    results.put(ProducerRun(options, config.load()).run().to_dict())


def produce_in_child(options: ProduceOptions) -> dict[str, Any]:
    """Run the producer in a child process and return its summary.

    As in production: a thread of the benchmark would share the GIL with the job's
    ``foreachBatch`` (one 30-s run each way showed no difference beyond the noise).
    """
    ctx = multiprocessing.get_context("spawn")  # never fork a process that runs a JVM gateway
    results = ctx.Queue()
    child = ctx.Process(target=_produce, args=(options, results), name="bench-producer")
    child.start()
    try:
        return dict(results.get())
    finally:
        child.join(timeout=60)


class NaiveHandle:
    """The naive pipeline (:func:`naive_frame` -> Delta's streaming sink) as a running query, with
    the calls the freshness run makes on the stream's handle."""

    def __init__(self, spark: Any, settings: Any, params: StreamParams, root: str) -> None:
        from delta.tables import DeltaTable

        contract = load_contract()
        topics = source.topic_entities(contract, params.topic_prefix)
        frame = naive_frame(spark, settings, topics, params).withColumnRenamed("timestamp", "kafka_timestamp")
        self.path = f"{root}/naive"
        DeltaTable.createIfNotExists(spark).location(self.path).addColumns(frame.schema).execute()
        interval = int(params.trigger_interval.total_seconds() * 1000)
        self.query = (
            frame.writeStream.format("delta")
            .option("checkpointLocation", f"{root}/naive-checkpoint")
            .trigger(processingTime=f"{interval} milliseconds")
            .start(self.path)
        )

    def wait(self, timeout: float) -> None:
        self.query.awaitTermination(timeout)

    def request_stop(self) -> None:
        self.query.stop()


def freshness(
    spark: Any,
    settings: Any,
    rate: float,
    duration: float,
    trigger: str,
    backlog: int,
    pipeline: str = "ours",
    warmup: float = 0.0,
) -> dict[str, Any]:
    """Produce at ``rate`` for ``duration`` s while ``pipeline`` (ours | naive) runs; produce ->
    Delta-visible latency per row, batch durations, the driver's heap.

    ``warmup`` seconds at the same rate come first, outside the window (their rows are not
    counted): a job just started runs its first minute at up to twice its later batch time while
    the JIT compiles the plan's generated code, which is a start-up cost, not the steady state of
    a long-running job. The window's latency is also reported per minute."""
    from pyspark.sql import functions as F

    from shopstream.kafka_admin import ensure_topics

    prefix = f"f{uuid.uuid4().hex[:8]}."
    ensure_topics(settings, topic_prefix=prefix)
    naive = pipeline == "naive"
    if naive:
        backlog = 0  # the naive table has no hours to compact
    old_hour = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)

    def produce_backlog(handle: Any) -> None:
        """The old hour in 4 parts, each ingested before the next: 4+ files for the compaction."""
        part = max(1, backlog // 4)
        for i in range(4):
            ProducerRun(
                ProduceOptions(
                    topic_prefix=prefix,
                    count=part,
                    seed=80 + i,
                    first_user_id=1 + i * part,
                    first_order_id=1 + i * part,
                    start_time_us=int((old_hour + timedelta(minutes=10 * i)).timestamp() * 1_000_000),
                    time_step=0.1,
                ),
                settings,
            ).run()
            handle.wait(timeout=8)

    with tempfile.TemporaryDirectory() as tmp:
        lake_settings = _lake(settings, f"{tmp}/lake")
        params = StreamParams(
            topic_prefix=prefix,
            trigger_interval=parse_duration(trigger),
            max_offsets_per_trigger=100_000,
            starting_offsets="earliest",
        ).validate()
        handle: Any = (
            NaiveHandle(spark, settings, params, tmp)
            if naive
            else stream_ingest.start(spark, lake_settings, params, log=lambda _l: None)
        )
        paths = [handle.path] if naive else [lake.bronze_path(lake_settings, e) for e in entities()]
        if backlog:
            produce_backlog(handle)
        handle.wait(timeout=10)  # the backlog and the JIT settle before the clock starts
        warm: dict[str, Any] = {}
        if warmup > 0:  # ids far above the window's, so the two runs never share a user or order
            first = 10_000_000
            warm_options = ProduceOptions(
                topic_prefix=prefix,
                rate=rate,
                duration=warmup,
                seed=8,
                first_user_id=first,
                first_order_id=first,
            )
            w = threading.Thread(target=lambda: warm.update(produce_in_child(warm_options)))
            w.start()
            while w.is_alive():
                handle.wait(timeout=2)
        heap: list[float] = []
        options = ProduceOptions(topic_prefix=prefix, rate=rate, duration=duration, seed=9)
        result: dict[str, Any] = {}
        compaction: dict[str, Any] = {}

        def compact() -> None:
            time.sleep(duration / 2)
            for e in entities():
                r = compact_hour(spark, lake.bronze_path(lake_settings, e), old_hour)
                compaction[e] = {"files_before": r.files_before, "files_after": r.files_after}

        window_start = datetime.now(UTC)
        t = threading.Thread(target=lambda: result.update(produce_in_child(options)))
        t.start()
        c = threading.Thread(target=compact) if backlog else None
        if c is not None:
            c.start()
        batches: dict[int, float] = {}  # recentProgress keeps only the last 100 batches
        phases: dict[int, dict[str, float]] = {}  # Spark's own durationMs per batch

        def sample() -> None:
            heap.append(stream_ingest.driver_heap_used_mb(spark))
            for p in handle.query.recentProgress:
                if p["numInputRows"]:
                    batches[int(p["batchId"])] = p["durationMs"]["triggerExecution"] / 1000
                    phases[int(p["batchId"])] = {k: v / 1000 for k, v in p["durationMs"].items()}

        while t.is_alive():
            handle.wait(timeout=2)
            sample()
        if c is not None:
            c.join()
        want = result["acked"]["users"] + result["acked"]["orders"] + 4 * max(1, backlog // 4) * bool(backlog)
        if warm:
            want += warm["acked"]["users"] + warm["acked"]["orders"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            handle.wait(timeout=2)
            sample()
            got = sum(spark.read.format("delta").load(path).count() for path in paths)
            if got >= want:
                break
        handle.request_stop()
        handle.wait(timeout=120)
        sample()
        durations = list(batches.values())
        after_gc, old_peak = _heap_live_mb(spark)
        lat: list[float] = []
        minute: list[int] = []  # the minute of the window each row was produced in
        for path in paths:
            commits = _commit_times(lake_settings, path)
            rows = (
                spark.read.format("delta")
                .load(path)
                .where(F.col("kafka_timestamp") >= F.lit(window_start))
                .select(F.col("_metadata.file_name").alias("f"), F.col("kafka_timestamp").alias("k"))
                .collect()
            )
            # only the backlog's hour was compacted, and its rows were produced before the window
            lat.extend((commits[r.f] - r.k.astimezone(UTC)).total_seconds() for r in rows)
            minute.extend(int((r.k.astimezone(UTC) - window_start).total_seconds() // 60) for r in rows)
    steps = (
        []
        if naive
        else [{**st.steps, "foreachBatch": st.seconds} for st in handle.writer.stats.values() if st.rows]
    )
    return {
        "pipeline": pipeline,
        "rate": rate,
        "duration_s": duration,
        "events": len(lat),
        "produced_per_s": result.get("acked_per_second"),
        "p50_s": round(_percentile(lat, 0.50), 2),
        "p95_s": round(_percentile(lat, 0.95), 2),
        "p99_s": round(_percentile(lat, 0.99), 2),
        "max_s": round(max(lat), 2) if lat else None,
        "warmup_s": warmup,
        "p95_by_minute_s": [
            round(_percentile([x for x, m in zip(lat, minute, strict=True) if m == i], 0.95), 2)
            for i in range(max(minute) + 1 if minute else 0)
        ],
        "batch_seconds_p50": round(_percentile(durations, 0.5), 2),
        "batch_seconds_p95": round(_percentile(durations, 0.95), 2),
        "batches": len(durations),
        "compaction": compaction,
        "heap_mb_max": round(max(heap)) if heap else None,
        "heap_mb_last": round(heap[-1]) if heap else None,
        "heap_mb_after_full_gc": round(after_gc),
        "old_gen_peak_mb": round(old_peak),
        "spark_phases_s": _step_stats(list(phases.values())),
        "steps_s": _step_stats(steps),
    }


def _heap_live_mb(spark: Any) -> tuple[float, float]:
    """(driver heap used after a full GC, peak usage of the old generation over the run) in MB."""
    jvm = spark.sparkContext._jvm
    jvm.java.lang.System.gc()
    time.sleep(1)
    peak = 0
    for pool in jvm.java.lang.management.ManagementFactory.getMemoryPoolMXBeans():
        if "Old Gen" in str(pool.getName()):
            peak = max(peak, pool.getPeakUsage().getUsed())
    return stream_ingest.driver_heap_used_mb(spark), peak / 1024 / 1024


def _step_stats(steps: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per step of the batches (classify, each table's append, watermark): how many batches ran
    it, p50 and p95 seconds."""
    names = sorted({k for s in steps for k in s})
    return {
        k: {
            "batches": len(v := [s[k] for s in steps if k in s]),
            "p50": round(_percentile(v, 0.5), 2),
            "p95": round(_percentile(v, 0.95), 2),
        }
        for k in names
    }


# --- 3. the state of a week-old table -------------------------------------------------------------
WEEK_HOURS = 168


def synthetic_week_log(path: Path, entries: int, now: datetime, app_id: str) -> dict[str, int]:
    """Write version 1 of a bronze table's log: ``entries`` add/remove actions of a week.

    Per hour of the week: ``b`` batch files the stream added, removed again by that hour's
    compaction (tombstones, kept 7 days for VACUUM) plus the one compacted file that replaced
    them; ``b`` is chosen so the hours hold ``entries`` actions in all. One SetTransaction of the
    stream's query (its last batch id), as the real log carries.
    """
    per_hour = max(2, entries // WEEK_HOURS)
    b = per_hour - 1
    now_ms = int(now.timestamp() * 1000)
    adds = removes = 0
    lines = [json.dumps({"txn": {"appId": app_id, "version": WEEK_HOURS * b, "lastUpdated": now_ms}})]
    for h in range(WEEK_HOURS):
        hour = now - timedelta(hours=WEEK_HOURS - h)
        parts = {"event_date": f"{hour:%Y-%m-%d}", "event_hour": str(hour.hour)}
        prefix = f"event_date={hour:%Y-%m-%d}/event_hour={hour.hour}"
        compacted_ms = int((hour + timedelta(hours=1, minutes=5)).timestamp() * 1000)
        for i in range(b):
            lines.append(
                json.dumps(
                    {
                        "remove": {
                            "path": f"{prefix}/part-batch-{h}-{i}.snappy.parquet",
                            "deletionTimestamp": compacted_ms,
                            "dataChange": False,
                            "extendedFileMetadata": True,
                            "partitionValues": parts,
                            "size": 20_000,
                        }
                    }
                )
            )
            removes += 1
        lines.append(
            json.dumps(
                {
                    "add": {
                        "path": f"{prefix}/part-compacted-{h}.snappy.parquet",
                        "partitionValues": parts,
                        "size": 20_000 * b,
                        "modificationTime": compacted_ms,
                        "dataChange": False,
                        "stats": json.dumps({"numRecords": 100 * b}),
                    }
                }
            )
        )
        adds += 1
    (path / "_delta_log" / f"{1:020d}.json").write_text("\n".join(lines) + "\n")
    return {"adds": adds, "removes": removes, "entries": adds + removes}


def table_state(spark: Any, settings: Any, sizes: list[int], appends: int = 3) -> list[dict[str, Any]]:
    """Rebuild, per-batch append and checkpoint cost of a bronze table a week old, per log size."""
    from delta.tables import DeltaTable

    contract = load_contract()
    ent = contract.entity("orders")
    jvm = spark.sparkContext._jvm
    delta_log = jvm.org.apache.spark.sql.delta.DeltaLog
    out = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = f"{tmp}/orders"
            (
                DeltaTable.createIfNotExists(spark)
                .location(path)
                .addColumns(schemas.bronze_schema(contract, ent))
                .partitionedBy(*schemas.PARTITION_COLUMNS)
                .execute()
            )
            now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            app_id = f"shopstream-bench-{uuid.uuid4()}"
            shape = synthetic_week_log(Path(path), n, now, app_id)
            delta_log.clearCache()
            t0 = time.monotonic()
            delta_log.forTable(spark._jsparkSession, path).checkpoint()  # from the JSON: setup
            first_ckpt = time.monotonic() - t0
            delta_log.clearCache()  # a fresh driver (a restart): state from the checkpoint
            t0 = time.monotonic()
            tables.warm_snapshot(spark, path)
            rebuild = time.monotonic() - t0
            rows = _bench_rows(spark, contract, ent, now)
            times = []
            for i in range(appends):
                t0 = time.monotonic()
                tables.write_append(rows, path, app_id, WEEK_HOURS * n + i + 1)
                times.append(time.monotonic() - t0)
            unchecked = []  # every batch after a run's first: no state rebuild
            for i in range(appends):
                t0 = time.monotonic()
                tables.commit_append(rows, path, app_id, WEEK_HOURS * n + appends + i + 1)
                unchecked.append(time.monotonic() - t0)
            t0 = time.monotonic()
            delta_log.forTable(spark._jsparkSession, path).checkpoint()
            ckpt = time.monotonic() - t0
            out.append(
                {
                    **shape,
                    "first_checkpoint_from_json_s": round(first_ckpt, 2),
                    "rebuild_s": round(rebuild, 2),
                    "append_s_median": round(statistics.median(times), 2),
                    "append_s": [round(x, 2) for x in times],
                    "unchecked_append_s_median": round(statistics.median(unchecked), 2),
                    "unchecked_append_s": [round(x, 2) for x in unchecked],
                    "checkpoint_s": round(ckpt, 2),
                }
            )
            print(json.dumps({"table_state": out[-1]}), flush=True)
    return out


# --- 4. the dedupe index at a full window ----------------------------------------------------------
def dedupe_index(ids: int, batch: int = 5000, window_s: float = 3600.0) -> dict[str, Any]:
    """The driver's dedupe index (``shopstream.ingest.dedupe.RecentIds``) filled with ``ids`` ids in
    batches of ``batch`` spread over one window, then: a batch's lookup and add (what every batch
    pays at that size), the time to rebuild it from arrays, and its memory."""
    import numpy as np

    from shopstream.ingest.dedupe import RecentIds

    rng = np.random.default_rng(11)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    recent = RecentIds(timedelta(seconds=window_s))
    n = max(1, ids // batch)
    adds = []
    for i in range(n):
        hi = rng.integers(-(2**63), 2**63 - 1, size=batch, dtype=np.int64)
        t = time.monotonic()
        recent.add(hi, ~hi, t0 + timedelta(seconds=window_s * i / n))
        adds.append(time.monotonic() - t)
    probes = rng.integers(-(2**63), 2**63 - 1, size=batch, dtype=np.int64)
    seen = []
    for _ in range(20):
        t = time.monotonic()
        recent.seen(probes, ~probes)
        seen.append(time.monotonic() - t)
    return {
        "ids": len(recent),
        "batch": batch,
        "lookup_ms_p50": round(statistics.median(seen) * 1000, 1),
        "add_ms_p50": round(statistics.median(adds) * 1000, 2),
        "add_ms_max": round(max(adds) * 1000, 1),
        "memory_mb": round(16 * len(recent) / 1e6),
    }


def _bench_rows(spark: Any, contract: Any, ent: Any, now: datetime) -> Any:
    """1,000 bronze rows of the current hour (the shape of one batch's append)."""
    from pyspark.sql import functions as F

    schema = schemas.bronze_schema(contract, ent)
    df = spark.range(1000).select(
        *[
            (
                F.expr("uuid()")
                if f.name == "event_id"
                else F.lit(now)
                if f.name in ("created_at", "kafka_timestamp", "ingested_at")
                else F.lit(now.date())
                if f.name == "event_date"
                else F.lit(now.hour)
                if f.name == "event_hour"
                else F.lit("x")
                if f.dataType.simpleString() == "string"
                else F.col("id")
            )
            .cast(f.dataType)
            .alias(f.name)
            for f in schema.fields
        ]
    )
    return df.localCheckpoint()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--events", type=int, default=40_000, help="valid events pre-filled for the throughput run"
    )
    p.add_argument("--max-offsets-per-trigger", type=int, default=20_000)
    p.add_argument("--rate", type=float, default=2000.0, help="events/s during the freshness run")
    p.add_argument(
        "--duration", type=float, default=60.0, help="seconds of producing in the freshness run (>= 600 real)"
    )
    p.add_argument(
        "--trigger", default="0s", help="trigger interval of the freshness run (0s = back to back)"
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=60.0,
        help="seconds of producing at --rate before the freshness window, not counted (0 = none)",
    )
    p.add_argument(
        "--backlog", type=int, default=20_000, help="events of an old hour, compacted mid-window (0 = none)"
    )
    p.add_argument(
        "--state-sizes",
        type=int,
        nargs="*",
        default=[10_000, 100_000],
        help="log entries of the week-old table-state runs (600000 for the real measurement)",
    )
    p.add_argument(
        "--freshness-of",
        nargs="+",
        choices=("ours", "naive"),
        default=["ours", "naive"],
        help="pipelines of the freshness run, one after the other (naive: Kafka -> from_json -> "
        "Delta's streaming sink, Spark's own floor on this machine)",
    )
    p.add_argument(
        "--dedupe-ids",
        type=int,
        default=7_200_000,
        help="ids in the dedupe index run (an hour's window at 2,000 ev/s; 0 = skip)",
    )
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-freshness", action="store_true")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    a = p.parse_args()
    settings = config.load()
    spark = session(
        settings,
        "shopstream-stream-bench",
        extra={"spark.master": "local[2]", "spark.sql.shuffle.partitions": "2", "spark.driver.memory": "2g"},
    )
    started = datetime.now(UTC)
    out: dict[str, Any] = {"measured_at": started.isoformat(timespec="seconds")}
    steps: list[tuple[str, Callable[[], Any]]] = []
    if not a.skip_throughput:
        steps.append(("throughput", lambda: throughput(spark, settings, a.events, a.max_offsets_per_trigger)))
    if not a.skip_freshness:
        for pipeline in a.freshness_of:
            name = "freshness" if pipeline == "ours" else f"freshness_{pipeline}"
            steps.append(
                (
                    name,
                    functools.partial(
                        freshness,
                        spark,
                        settings,
                        a.rate,
                        a.duration,
                        a.trigger,
                        a.backlog,
                        pipeline,
                        a.warmup,
                    ),
                )
            )
    if a.dedupe_ids:
        steps.append(("dedupe_index", lambda: dedupe_index(a.dedupe_ids)))
    if a.state_sizes:
        steps.append(("table_state", lambda: table_state(spark, settings, a.state_sizes)))
    for name, fn in steps:
        load_before = os.getloadavg()[0]
        out[name] = fn()
        # the machine is shared: each section's ratios are only comparable with the load beside them
        out[f"{name}_load_avg_1m"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
        print(json.dumps({name: out[name]}), flush=True)
    out["wall_s"] = round((datetime.now(UTC) - started) / timedelta(seconds=1), 1)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=2) + "\n")
    spark.stop()


if __name__ == "__main__":
    main()
