"""Stream-ingest benchmark: Kafka -> Delta bronze vs Spark's Kafka -> noop ceiling; freshness; heap.

Needs a running stack (``shopstream up``, or the test stack with its SHOPSTREAM_* variables).
Everything goes to a fresh topic prefix and a fresh lake directory.

1. throughput: N valid events (+1 % malformed, +1 % duplicates) are produced first; then, in the
   same SparkSession (local[2]) and with the same ``maxOffsetsPerTrigger``, two available-now runs
   over the same topics:
   * Spark's own Kafka source -> ``noop`` sink (the engine ceiling: read + deserialize only);
   * the stream-ingest job (classify, append bronze minus existing ids, quarantine, watermark).
   Target: bronze >= 0.7 x noop.
2. freshness: the job runs continuously (``--trigger``) while the producer sends ``--rate`` events/s
   for ``--duration`` seconds. Per row: visible = the commit time of the Delta version that added
   its file (Delta's own commit timestamp), produced = its Kafka record timestamp (CreateTime,
   set by the producer). Target: p95 <= 3 s at 2,000 events/s.
3. driver heap used (JVM ``totalMemory - freeMemory``), sampled after each phase.

Example:
    .venv/bin/python bench/stream_bench.py --events 40000 --rate 2000 --duration 30
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from producer.runner import ProduceOptions, ProducerRun
from shopstream import config, lake
from shopstream.contract import entities, load_contract
from shopstream.ingest import stream as stream_ingest
from shopstream.spark import session


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def _commit_times(settings: Any, path: str) -> dict[str, datetime]:
    """Data file -> the commit time of the Delta version that added it."""
    out: dict[str, datetime] = {}
    files = lake._Files(settings, path)
    times = {h["version"]: h["timestamp"] for h in lake.history(settings, path)}
    for v in lake.versions(settings, path):
        for line in files.read(f"_delta_log/{v:020d}.json").decode().splitlines():
            if line.strip() and "add" in (a := json.loads(line)):
                out[a["add"]["path"].rsplit("/", 1)[-1]] = times[v]
    return out


def throughput(spark: Any, settings: Any, events: int, max_per_trigger: int) -> dict[str, Any]:
    prefix = f"b{uuid.uuid4().hex[:8]}."
    summary = ProducerRun(
        ProduceOptions(topic_prefix=prefix, count=events, seed=5, malformed=0.01, duplicates=0.01), settings
    ).run()
    total = sum(summary.acked[k] for k in (*entities(), "duplicates")) + summary.acked["malformed_total"]
    topics = list(stream_ingest.topic_entities(load_contract(), prefix))
    params = stream_ingest.StreamParams(
        topic_prefix=prefix, available_now=True, max_offsets_per_trigger=max_per_trigger
    ).validate()
    with tempfile.TemporaryDirectory() as tmp:
        # ceiling: Spark's Kafka source into the noop sink, same trigger and batch size
        t0 = time.monotonic()
        q = (
            stream_ingest.read_kafka(spark, settings, topics, params)
            .writeStream.format("noop")
            .option("checkpointLocation", f"{tmp}/noop-checkpoint")
            .trigger(availableNow=True)
            .start()
        )
        q.awaitTermination()
        noop_s = time.monotonic() - t0
        noop_rows = sum(int(p["numInputRows"]) for p in q.recentProgress)
        lake_settings = settings.model_copy(
            update={"lake": settings.lake.model_copy(update={"root": f"{tmp}/lake"})}
        )
        t0 = time.monotonic()
        handle = stream_ingest.start(spark, lake_settings, params, log=lambda _l: None)
        handle.wait()
        bronze_s = time.monotonic() - t0
        bronze_rows = sum(int(p["numInputRows"]) for p in handle.query.recentProgress)
        landed = sum(
            spark.read.format("delta").load(lake.bronze_path(lake_settings, e)).count() for e in entities()
        )
    return {
        "records": total,
        "noop": {"rows": noop_rows, "seconds": round(noop_s, 2), "rows_per_s": round(noop_rows / noop_s)},
        "bronze": {
            "rows": bronze_rows,
            "seconds": round(bronze_s, 2),
            "rows_per_s": round(bronze_rows / bronze_s),
            "landed": landed,
        },
        "ratio": round((bronze_rows / bronze_s) / (noop_rows / noop_s), 3),
        "heap_mb": round(stream_ingest.driver_heap_used_mb(spark)),
    }


def freshness(spark: Any, settings: Any, rate: float, duration: float, trigger: str) -> dict[str, Any]:
    from pyspark.sql import functions as F

    from shopstream.kafka_admin import ensure_topics

    prefix = f"f{uuid.uuid4().hex[:8]}."
    ensure_topics(settings, topic_prefix=prefix)
    with tempfile.TemporaryDirectory() as tmp:
        lake_settings = settings.model_copy(
            update={"lake": settings.lake.model_copy(update={"root": f"{tmp}/lake"})}
        )
        params = stream_ingest.StreamParams(
            topic_prefix=prefix,
            trigger_interval=stream_ingest.parse_duration(trigger),
            max_offsets_per_trigger=100_000,
            starting_offsets="earliest",
        ).validate()
        handle = stream_ingest.start(spark, lake_settings, params, log=lambda _l: None)
        time.sleep(5)  # let the first (empty) trigger and the JIT settle
        heap: list[float] = []
        run = ProducerRun(ProduceOptions(topic_prefix=prefix, rate=rate, duration=duration, seed=9), settings)
        result: dict[str, Any] = {}
        t = threading.Thread(target=lambda: result.update(run.run().to_dict()))
        t.start()
        while t.is_alive():
            handle.wait(timeout=2)
            heap.append(stream_ingest.driver_heap_used_mb(spark))
        # wait until everything produced is visible
        want = result["acked"]["users"] + result["acked"]["orders"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            handle.wait(timeout=2)
            got = sum(
                spark.read.format("delta").load(lake.bronze_path(lake_settings, e)).count()
                for e in entities()
            )
            if got >= want:
                break
        handle.request_stop()
        handle.wait(timeout=120)
        lat: list[float] = []
        durations = [
            p["durationMs"]["triggerExecution"] / 1000
            for p in handle.query.recentProgress
            if p["numInputRows"]
        ]
        for e in entities():
            path = lake.bronze_path(lake_settings, e)
            commits = _commit_times(lake_settings, path)
            rows = (
                spark.read.format("delta")
                .load(path)
                .select(F.col("_metadata.file_name").alias("f"), F.col("kafka_timestamp").alias("k"))
                .collect()
            )
            for r in rows:
                lat.append((commits[r.f] - r.k.astimezone(UTC)).total_seconds())
    return {
        "rate": rate,
        "duration_s": duration,
        "events": len(lat),
        "produced_per_s": result.get("acked_per_second"),
        "p50_s": round(_percentile(lat, 0.50), 2),
        "p95_s": round(_percentile(lat, 0.95), 2),
        "max_s": round(max(lat), 2) if lat else None,
        "batch_seconds_p50": round(_percentile(durations, 0.5), 2),
        "heap_mb_max": round(max(heap)) if heap else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--events", type=int, default=40_000, help="valid events pre-filled for the throughput run"
    )
    p.add_argument("--max-offsets-per-trigger", type=int, default=20_000)
    p.add_argument("--rate", type=float, default=2000.0, help="events/s during the freshness run")
    p.add_argument(
        "--duration", type=float, default=30.0, help="seconds of producing during the freshness run"
    )
    p.add_argument(
        "--trigger", default="0s", help="trigger interval of the freshness run (0s = back to back)"
    )
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
    out["throughput"] = throughput(spark, settings, a.events, a.max_offsets_per_trigger)
    print(json.dumps({"throughput": out["throughput"]}), flush=True)
    if not a.skip_freshness:
        out["freshness"] = freshness(spark, settings, a.rate, a.duration, a.trigger)
        print(json.dumps({"freshness": out["freshness"]}), flush=True)
    out["wall_s"] = round((datetime.now(UTC) - started) / timedelta(seconds=1), 1)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=2) + "\n")
    spark.stop()


if __name__ == "__main__":
    main()
