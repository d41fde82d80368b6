"""Test helpers for the hourly batch: put events of a chosen hour into Kafka and into bronze.

``ingest`` reads the topics as a Kafka *batch* and writes bronze with the stream job's own pure
transforms (shopstream/ingest/bronze.py) — the same rows the long-running stream would write, without
waiting for it. The stream itself is tested in tests/test_stream*.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def produce(
    settings: Any, count: int, start: datetime, seed: int, step: str = "1ms", extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Produce ``count`` valid events with event times from ``start`` (a real producer run).

    The same seed gives the same event_ids: tests sharing a broker must pass unique seeds, or
    their events collide on event_id across hours (as a producer restart would)."""
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "shopstream",
            "produce",
            "--count",
            str(count),
            "--seed",
            str(seed),
            "--start-time",
            start.isoformat(),
            "--time-step",
            step,
            "--summary-json",
            "-",
            "--no-progress",
            "--first-user-id",
            str(seed * 1_000_000 + 1),
            "--first-order-id",
            str(seed * 1_000_000 + 1),
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=os.environ.copy(),
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def ingest(spark: Any, settings: Any, topic_prefix: str = "") -> None:
    """Kafka (everything in the topics) → bronze + quarantine, exactly as the stream's transforms do.
    Appends only events not yet in bronze (MERGE on event_id), so calling it again is safe."""
    from delta.tables import DeltaTable

    from shopstream.contract import load_contract
    from shopstream.ingest.bronze import transform_bronze, transform_classify, transform_quarantine
    from shopstream.spark import kafka_source_options

    contract = load_contract()
    topics = {topic_prefix + e.topic: name for name, e in contract.entities.items()}
    raw = (
        spark.read.format("kafka")
        .options(**kafka_source_options(settings))
        .option("subscribe", ",".join(topics))
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )
    classified = transform_classify(raw, contract, topics).cache()
    now = datetime.now(UTC)
    for entity in topics.values():
        rows = transform_bronze(classified, contract, entity, now)
        path = f"{settings.lake_root}/bronze/{entity}"
        if DeltaTable.isDeltaTable(spark, path):
            (
                DeltaTable.forPath(spark, path)
                .alias("t")
                .merge(rows.alias("s"), "t.event_id = s.event_id")
                .whenNotMatchedInsertAll()
                .execute()
            )
        else:
            rows.write.format("delta").partitionBy("event_date", "event_hour").save(path)
    q = transform_quarantine(classified, now)
    qpath = f"{settings.lake_root}/quarantine"
    if DeltaTable.isDeltaTable(spark, qpath):
        (
            DeltaTable.forPath(spark, qpath)
            .alias("t")
            .merge(
                q.alias("s"),
                "t.kafka_topic = s.kafka_topic and t.kafka_partition = s.kafka_partition "
                "and t.kafka_offset = s.kafka_offset",
            )
            .whenNotMatchedInsertAll()
            .execute()
        )
    else:
        q.write.format("delta").partitionBy("quarantine_date").save(qpath)
    classified.unpersist()
