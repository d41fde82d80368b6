"""The ledger's ``kafka`` stage: one hour recounted from Kafka, reading only where the hour can be.

The recount is independent of bronze's *content*: it reads the raw records from Kafka and judges
them with the stream's own classifier (``transform_classify``), then counts the valid, distinct
event_ids of the hour and their checksum. What it takes from bronze is only *where to look*, so
that its cost follows the hour's size instead of the topic's retention (a week at 2,000
events/s is over a billion records).

Where the hour's events sit in Kafka
    Kafka orders a partition by offset, and every record carries a Kafka timestamp (the
    producer's send time). The stream stores each row's ``kafka_partition``, ``kafka_offset`` and
    ``kafka_timestamp`` in bronze, so bronze knows when the hour's events *arrived*, whatever
    their event time says (a backfill of last month arrives today). The plan
    (:func:`plan_windows`) is the union of

    * the **nominal window** ``[H - margin, H + 1h + lateness + margin)``: where a real-time
      producer's events of hour H arrive; it is not taken from bronze at all, so an hour that
      bronze lost entirely is still recounted in production;
    * a window ``[first - margin, last + margin]`` around every ``margin``-sized bucket of
      Kafka time in which bronze holds rows of the hour, in *any* partition.

    Overlapping windows merge, so an hour's normal arrival is one window and a late event that
    arrived hours later adds a small window of its own (it does not stretch the first one).
    Every window is applied to **every partition of the topic** (:func:`plan_ranges`), never
    only to the partitions bronze has rows in: a partition idle for the whole hour costs nothing
    (its range is empty) and a partition whose part of the hour arrived far behind the others
    is read where its records are. Kafka's offsets-for-times turns each window's edges into
    offsets per partition; because producer timestamps are only roughly ordered within a
    partition, each range is also stretched to the first and last offset bronze recorded in it.

    ``margin`` (``ledger.recount_margin``, default 5m) covers producer timestamp disorder within a
    partition (batching, retries, several producer hosts) and events missing from bronze next to
    the ones it has. An event of the hour that is in Kafka but missing from bronze is found when
    it lies inside the plan, which is the case for anything that arrived with its neighbours; an
    event that arrived more than ``margin`` away from every row bronze has of its hour, and
    outside the nominal window, is not read (the price of not reading the whole topic).

Late events
    A late event of hour H arrives in Kafka hours after H was reconciled. The stream appends it to
    bronze's partition H with its Kafka position; the next hourly run sees that H's bronze changed
    (``batch.late_hours``) and runs H again as a correction, whose recount plans from bronze
    again and therefore includes a window around the late event's Kafka time. The ledger's
    correction entries show the new count for ``kafka`` and ``bronze`` alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shopstream.contract import load_contract
from shopstream.durations import parse_duration
from shopstream.hourly.export import checksum_expr
from shopstream.ingest.bronze import transform_classify
from shopstream.kafka_admin import client_config
from shopstream.lake import bronze_path
from shopstream.spark import kafka_source_options

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from shopstream.config import Settings


READ_TASKS_PER_CORE = 4  # Kafka read tasks per core: even shares, whatever the topic's partitions


class RecountError(Exception):
    """Kafka could not be asked where the hour is (the message names the topic)."""


@dataclass(frozen=True)
class Mark:
    """Where bronze's rows of the hour sit in one partition, within one bucket of Kafka time."""

    partition: int
    first_ms: int  # Kafka timestamps (ms since the epoch)
    last_ms: int
    first_offset: int
    last_offset: int


@dataclass(frozen=True)
class Window:
    """A span of Kafka time [start_ms, end_ms) and the bronze marks that fall inside it."""

    start_ms: int
    end_ms: int
    marks: tuple[Mark, ...] = ()


@dataclass
class Recount:
    count: int
    checksum: int
    scanned: int  # Kafka records read
    ranges: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # partition -> [start, end)


def _ms(t: datetime) -> int:
    return int(t.astimezone(UTC).timestamp() * 1000)


def plan_windows(
    hour: datetime, marks: Iterable[Mark], margin: timedelta, lateness: timedelta
) -> list[Window]:
    """The spans of Kafka time to read for ``hour`` (pure): the nominal window plus one around
    every bronze mark, each widened by ``margin``, overlapping spans merged, sorted."""
    m = int(margin.total_seconds() * 1000)
    spans: list[tuple[int, int, Mark | None]] = [
        (_ms(hour) - m, _ms(hour + timedelta(hours=1) + lateness) + m, None)
    ]
    spans += [(mk.first_ms - m, mk.last_ms + m + 1, mk) for mk in marks]
    spans.sort(key=lambda s: (s[0], s[1]))
    out: list[Window] = []
    for start, end, mk in spans:
        extra = (mk,) if mk is not None else ()
        if out and start <= out[-1].end_ms:
            last = out[-1]
            out[-1] = Window(last.start_ms, max(last.end_ms, end), last.marks + extra)
        else:
            out.append(Window(start, end, extra))
    return out


def plan_ranges(
    windows: list[Window],
    partitions: Mapping[int, tuple[int, int]],
    offset_for_time: Callable[[int], Mapping[int, int]],
) -> dict[int, list[tuple[int, int]]]:
    """Offset ranges [start, end) per partition (pure, given Kafka's answers).

    ``partitions`` maps every partition of the topic to its (low, high) watermark offsets;
    ``offset_for_time(ms)`` returns, per partition, the first offset whose timestamp is >= ms
    (-1 when there is none: the range then ends at the high watermark). Ranges of one partition
    that overlap are merged; empty ones dropped.
    """
    out: dict[int, list[tuple[int, int]]] = {}
    edges: dict[int, Mapping[int, int]] = {}
    for w in windows:
        for t in (w.start_ms, w.end_ms):
            if t not in edges:
                edges[t] = offset_for_time(t)
    for p, (low, high) in sorted(partitions.items()):
        ranges: list[tuple[int, int]] = []
        for w in windows:
            s, e = edges[w.start_ms].get(p, -1), edges[w.end_ms].get(p, -1)
            s = high if s < 0 else s
            e = high if e < 0 else e
            for mk in w.marks:  # producer timestamps are only roughly ordered: bronze's positions count
                if mk.partition == p:
                    s, e = min(s, mk.first_offset), max(e, mk.last_offset + 1)
            s, e = max(s, low), min(e, high)
            if e > s:
                ranges.append((s, e))
        merged: list[tuple[int, int]] = []
        for s, e in sorted(ranges):
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        if merged:
            out[p] = merged
    return out


# --- I/O ------------------------------------------------------------------------------------------
def bronze_marks(
    spark: SparkSession, bronze: str, topic: str, hour: datetime, bucket: timedelta
) -> list[Mark]:
    """Per partition and ``bucket`` of Kafka time: the first/last timestamp and offset of the
    hour's rows in bronze. Reads three columns of the hour's partition only."""
    from pyspark.sql import functions as F

    try:
        df = spark.read.format("delta").load(bronze)
    except Exception as exc:  # no bronze yet: only the nominal window is read
        if "is not a Delta table" in str(exc) or "PATH_NOT_FOUND" in str(exc):
            return []
        raise
    size = max(1, int(bucket.total_seconds() * 1000))
    ms = F.expr("unix_millis(kafka_timestamp)")
    rows = (
        df.where(
            (F.col("event_date") == F.lit(hour.date()))
            & (F.col("event_hour") == hour.hour)
            & (F.col("kafka_topic") == topic)
        )
        .groupBy("kafka_partition", F.floor(ms / size).alias("bucket"))
        .agg(
            F.min(ms).alias("first_ms"),
            F.max(ms).alias("last_ms"),
            F.min("kafka_offset").alias("first_offset"),
            F.max("kafka_offset").alias("last_offset"),
        )
        .collect()
    )
    return [
        Mark(int(r.kafka_partition), int(r.first_ms), int(r.last_ms), int(r.first_offset), int(r.last_offset))
        for r in rows
    ]


class _Offsets:
    """Kafka's answers for one topic: watermarks per partition, offsets for a timestamp."""

    def __init__(self, settings: Settings, topic: str, timeout: float = 30.0) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self.topic, self.timeout, self._tp = topic, timeout, TopicPartition
        self.consumer = Consumer(
            {**client_config(settings), "group.id": "shopstream-recount", "enable.auto.commit": False}
        )

    def partitions(self) -> dict[int, tuple[int, int]]:
        meta = self.consumer.list_topics(self.topic, timeout=self.timeout).topics.get(self.topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise RecountError(f"topic {self.topic} does not exist or has no partitions")
        return {
            p: tuple(self.consumer.get_watermark_offsets(self._tp(self.topic, p), timeout=self.timeout))  # type: ignore[misc]
            for p in sorted(meta.partitions)
        }

    def for_time(self, partitions: Iterable[int], ms: int) -> dict[int, int]:
        asked = [self._tp(self.topic, p, ms) for p in partitions]
        return {tp.partition: int(tp.offset) for tp in self.consumer.offsets_for_times(asked, self.timeout)}

    def close(self) -> None:
        self.consumer.close()


def read_ranges(
    spark: SparkSession, settings: Settings, topic: str, ranges: Mapping[int, list[tuple[int, int]]]
) -> DataFrame | None:
    """The raw Kafka records of ``ranges``: one batch read per layer (the i-th range of every
    partition that has one), unioned. None when there is nothing to read.

    Each layer is split into at least ``READ_TASKS_PER_CORE`` tasks per core of the session
    (``minPartitions``; Spark cuts the offset ranges in proportion to their size): by default a
    Kafka read is one task per topic partition, so a 3-partition topic recounted its hour in 3
    tasks whatever the cluster (on 2 cores the third ran alone after the first two), and the
    classification of the hour's records is the recount's whole cost."""

    tasks = max(1, spark.sparkContext.defaultParallelism) * READ_TASKS_PER_CORE
    frames = []
    for i in range(max((len(r) for r in ranges.values()), default=0)):
        layer = {p: r[i] for p, r in ranges.items() if len(r) > i}
        frames.append(
            spark.read.format("kafka")
            .options(**kafka_source_options(settings))
            .option("minPartitions", str(tasks))
            .option("assign", json.dumps({topic: sorted(layer)}))
            .option("startingOffsets", json.dumps({topic: {str(p): s for p, (s, _e) in layer.items()}}))
            .option("endingOffsets", json.dumps({topic: {str(p): e for p, (_s, e) in layer.items()}}))
            .load()
        )
    if not frames:
        return None
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out


def recount_hour(
    spark: SparkSession,
    settings: Settings,
    entity: str,
    hour: datetime,
    topic_prefix: str = "",
) -> Recount:
    """Valid, distinct events of ``entity``'s ``hour`` in its topic, with their checksum, read
    from the offset ranges that can hold the hour (see the module docstring)."""
    from pyspark.sql import functions as F

    contract = load_contract()
    topic = topic_prefix + contract.entity(entity).topic
    margin = parse_duration(settings.ledger.recount_margin)
    lateness = parse_duration(settings.stream.lateness)
    marks = bronze_marks(spark, bronze_path(settings, entity), topic, hour, margin)
    windows = plan_windows(hour, marks, margin, lateness)
    kafka = _Offsets(settings, topic)
    try:
        partitions = kafka.partitions()
        ranges = plan_ranges(windows, partitions, lambda ms: kafka.for_time(partitions, ms))
    except RecountError:
        raise
    except Exception as exc:
        raise RecountError(f"topic {topic}: offsets for the hour: {type(exc).__name__}: {exc}") from exc
    finally:
        kafka.close()
    scanned = sum(e - s for r in ranges.values() for s, e in r)
    raw = read_ranges(spark, settings, topic, ranges)
    if raw is None:
        return Recount(0, 0, 0, ranges)
    valid = (
        transform_classify(raw, contract, {topic: entity})
        .where((F.size("errors") == 0) & (F.col("event_date") == F.lit(hour.date())))
        .where(F.col("event_hour") == hour.hour)
        .select(F.col(f"event_{entity}")["event_id"].alias("event_id"))
        .distinct()
    )
    row = valid.selectExpr("count(*) as n", f"{checksum_expr()} as c").collect()[0]
    return Recount(int(row["n"]), int(row["c"]), scanned, ranges)
