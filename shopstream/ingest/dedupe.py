"""Duplicates within the dedupe window land once: the driver keeps an index of the
``(entity, event_id)`` pairs the stream landed in the last ``--dedupe-window`` of processing time
(:class:`RecentIds`); a batch drops the valid rows whose pair is in it, and of several copies
within the batch all but the earliest ``(partition, offset)``. Invalid records are never
deduplicated: each reaches the quarantine.

Why not Spark's state (``dropDuplicatesWithinWatermark``, RocksDB): in Spark 3.5 its eviction
iterates over every stored id in every micro-batch (``evictDupInfoFromState`` scans the whole
state store), so a batch pays for rate x window ids: measured 0.07 s at 79 k ids and 0.42 s at
468 k ids per batch, i.e. seconds per batch after an hour at 2,000 ev/s; and it costs every batch a
shuffle stage and a state-store commit. The index costs a batch one small collect (two 64-bit
hashes and the position of each valid row) and a few sorted-array lookups; expiry drops whole
buckets of processing time.

Identity: two 64-bit hashes of ``entity:event_id`` (Spark's ``xxhash64`` of the key, and of a salt
then the key: another seed), i.e. 128 bits: two different ids collide with a probability below
that of two producers drawing the same random (122-bit) UUID. 16 bytes per id: 115 MB for an
hour at 2,000 ev/s.

The index is rebuilt when the stream starts, from the bronze rows ingested within the window
(``ingested_at``; Delta's file statistics skip every older file): it holds exactly what landed,
so a batch replayed after a crash drops the rows one of its commits already landed (that commit is
skipped anyway) and lands the others. The window is a minimum: an id is forgotten within one
bucket (a tenth of the window) after it expired; a copy arriving later lands again and the
hourly export dedupes it per hour.

No watermark is involved, so no row can be dropped by one; the check stays
(:func:`batch_dropped_by_watermark`): a batch whose plan lost a row to a watermark fails before
it commits.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame, SparkSession


SEEN_AT = "_seen_at"  # the micro-batch's timestamp: rows' ingested_at / quarantined_at
BUCKETS = 10  # per window: ids are forgotten at most window / BUCKETS after they expired
POSITION = ("kafka_topic", "kafka_partition", "kafka_offset")


def id_hashes(entity: Column, event_id: Column) -> tuple[Column, Column]:
    """The two 64-bit hashes of ``entity:event_id`` (the same for a batch row and a bronze row)."""
    from pyspark.sql import functions as F

    key = F.concat_ws(":", entity, event_id)
    return F.xxhash64(key), F.xxhash64(F.lit("shopstream-dedupe"), key)


def with_seen_at(classified: DataFrame) -> DataFrame:
    """The batch's processing time as a column (Spark fixes ``current_timestamp`` per batch;
    interpreted, so the projection's generated class is the same every batch)."""
    from pyspark.sql import functions as F

    from shopstream.ingest.validation import interpreted

    return classified.withColumn(SEEN_AT, interpreted(F.current_timestamp()))


@dataclass
class _Chunk:
    hi: np.ndarray  # sorted
    lo: np.ndarray  # aligned with hi


@dataclass
class _Bucket:
    chunks: list[_Chunk] = field(default_factory=list)

    def size(self) -> int:
        return sum(len(c.hi) for c in self.chunks)


def _chunk(hi: np.ndarray, lo: np.ndarray) -> _Chunk:
    order = np.argsort(hi, kind="stable")
    return _Chunk(hi[order], lo[order])


def _merge(chunks: list[_Chunk]) -> _Chunk:
    return _chunk(np.concatenate([c.hi for c in chunks]), np.concatenate([c.lo for c in chunks]))


class RecentIds:
    """The ids landed in the last ``window`` of processing time, in buckets of ``window / 10``."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self.width = max(window / BUCKETS, timedelta(milliseconds=1))
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(b.size() for b in self._buckets.values())

    def _slot(self, at: datetime) -> int:
        return self._slot_us(int(at.timestamp() * 1_000_000))

    def _slot_us(self, micros: int) -> int:
        return micros // (self.width // timedelta(microseconds=1))

    def add(self, hi: np.ndarray, lo: np.ndarray, at: datetime) -> None:
        """Remember ids landed at processing time ``at``."""
        self._add(self._slot(at), hi, lo)

    def add_at(self, hi: np.ndarray, lo: np.ndarray, at_us: np.ndarray) -> None:
        """Remember ids landed at the processing times ``at_us`` (microseconds since the epoch)."""
        slots = np.asarray(at_us, np.int64) // (self.width // timedelta(microseconds=1))
        for slot in np.unique(slots):
            mine = slots == slot
            self._add(int(slot), np.asarray(hi)[mine], np.asarray(lo)[mine])

    def _add(self, slot: int, hi: np.ndarray, lo: np.ndarray) -> None:
        if not len(hi) or self.window <= timedelta(0):
            return
        with self._lock:
            bucket = self._buckets.setdefault(slot, _Bucket())
            bucket.chunks.append(_chunk(np.asarray(hi, np.int64), np.asarray(lo, np.int64)))
            # a few sorted arrays per bucket (merged like an LSM tree: a chunk at least half the
            # size of the one before joins it), one per closed bucket: a lookup is a handful of
            # binary searches, an id is re-sorted O(log n) times
            chunks = bucket.chunks
            while len(chunks) > 1 and 2 * len(chunks[-1].hi) >= len(chunks[-2].hi):
                last, before = chunks.pop(), chunks.pop()
                chunks.append(_merge([before, last]))
            for s, other in self._buckets.items():
                if s != slot and len(other.chunks) > 1:
                    other.chunks = [_merge(other.chunks)]

    def expire(self, now: datetime) -> int:
        """Forget the buckets that ended before ``now - window``; returns the ids forgotten."""
        last = self._slot(now - self.window)  # a bucket whose slot is below it ended before
        with self._lock:
            old = [s for s in self._buckets if s < last]
            gone = sum(self._buckets[s].size() for s in old)
            for s in old:
                del self._buckets[s]
        return gone

    def seen(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """A boolean per id: landed within the window."""
        out = np.zeros(len(hi), dtype=bool)
        if not len(hi):
            return out
        order = np.argsort(np.asarray(hi, np.int64), kind="stable")  # sorted probes: cache-friendly
        hs, ls = np.asarray(hi, np.int64)[order], np.asarray(lo, np.int64)[order]
        found = np.zeros(len(hs), dtype=bool)
        with self._lock:
            chunks = [c for b in self._buckets.values() for c in b.chunks if len(c.hi)]
        for c in chunks:
            left = np.searchsorted(c.hi, hs, side="left")
            hit = c.hi[np.minimum(left, len(c.hi) - 1)] == hs
            for i in np.nonzero(hit & ~found)[0]:  # rare: a copy (or a 64-bit collision)
                j = int(left[i])
                while j < len(c.hi) and c.hi[j] == hs[i]:
                    if c.lo[j] == ls[i]:
                        found[i] = True
                        break
                    j += 1
        out[order] = found
        return out


@dataclass(frozen=True)
class BatchIds:
    """The valid rows of one batch: their id hashes and positions, and which of them to drop."""

    hi: np.ndarray
    lo: np.ndarray
    topic: list[str]
    partition: np.ndarray
    offset: np.ndarray
    drop: np.ndarray  # bool per row: a copy landed before (within the window) or earlier in the batch

    @property
    def duplicates(self) -> int:
        return int(self.drop.sum())

    def dropped_positions(self) -> list[tuple[str, int, int]]:
        return [
            (self.topic[i], int(self.partition[i]), int(self.offset[i])) for i in np.nonzero(self.drop)[0]
        ]

    def kept(self) -> tuple[np.ndarray, np.ndarray]:
        keep = ~self.drop
        return self.hi[keep], self.lo[keep]


def batch_id_hashes(entities: list[str]) -> tuple[Column, Column]:
    """The two hashes of a classified row's ``entity:event_id`` (``hi``, ``lo``; see :func:`batch_ids`)."""
    from pyspark.sql import functions as F

    event_id = F.coalesce(*[F.col(f"event_{e}")["event_id"] for e in entities])
    return id_hashes(F.col("entity"), event_id)


def batch_ids(valid: pa.Table | None, recent: RecentIds) -> BatchIds:
    """Mark the copies to drop among a batch's valid rows.

    ``valid``: one row per valid record with ``hi``/``lo`` (:func:`batch_id_hashes`) and its
    Kafka position (``kafka_topic``, ``kafka_partition``, ``kafka_offset``), collected with the
    batch's summary in one job (:func:`shopstream.ingest.writer.collect_batch`).
    """
    if valid is None or valid.num_rows == 0:
        empty = np.zeros(0, np.int64)
        return BatchIds(empty, empty, [], empty, empty, np.zeros(0, bool))
    h = valid.column("hi").to_numpy().astype(np.int64)
    lw = valid.column("lo").to_numpy().astype(np.int64)
    topic = valid.column("kafka_topic").to_pylist()
    part = valid.column("kafka_partition").to_numpy().astype(np.int64)
    off = valid.column("kafka_offset").to_numpy().astype(np.int64)
    drop = recent.seen(h, lw)
    # within the batch: the earliest (partition, offset) of each id lands
    order = np.lexsort((off, part))
    pairs = np.empty(len(h), dtype=[("h", np.int64), ("l", np.int64)])
    pairs["h"], pairs["l"] = h[order], lw[order]
    _, first = np.unique(pairs, return_index=True)
    later = np.ones(len(h), dtype=bool)
    later[order[first]] = False
    return BatchIds(h, lw, topic, part, off, drop | later)


def without_positions(rows: DataFrame, positions: list[tuple[str, int, int]]) -> DataFrame:
    """``rows`` minus those at the given Kafka positions (a broadcast anti-join; none: ``rows``)."""
    if not positions:
        return rows
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

    schema = StructType(
        [
            StructField("kafka_topic", StringType(), False),
            StructField("kafka_partition", IntegerType(), False),
            StructField("kafka_offset", LongType(), False),
        ]
    )
    drop = rows.sparkSession.createDataFrame(positions, schema)
    return rows.join(F.broadcast(drop), list(POSITION), "left_anti")


def rebuild(spark: SparkSession, paths: Mapping[str, str], window: timedelta, now: datetime) -> RecentIds:
    """The index from bronze: the ids each entity's table got within ``window`` before ``now``."""
    from pyspark.sql import functions as F

    recent = RecentIds(window)
    if window <= timedelta(0):
        return recent
    since = now - window - recent.width
    for entity, path in paths.items():
        hi, lo = id_hashes(F.lit(entity), F.col("event_id"))
        batches = (
            spark.read.format("delta")
            .load(path)
            .where(F.col("ingested_at") >= F.lit(since))
            .select(hi.alias("hi"), lo.alias("lo"), F.unix_micros("ingested_at").alias("at_us"))
            ._collect_as_arrow()
        )
        for b in batches:
            if b.num_rows:
                recent.add_at(*(b.column(i).to_numpy().astype(np.int64) for i in range(3)))
    return recent


DROPPED_METRIC = "numRowsDroppedByWatermark"


def dropped_by_watermark(progress: Mapping[str, Any]) -> int:
    """Rows a watermark dropped in one batch (every stateful operator of its progress)."""
    return sum(int(op.get(DROPPED_METRIC, 0)) for op in progress.get("stateOperators", []))


def batch_dropped_by_watermark(query: Any) -> int:
    """Rows a watermark dropped in the micro-batch ``query`` (a JVM StreamingQuery) is running.

    ``foreachBatch`` hands over a DataFrame over the batch's RDD; the stateful operators and their
    SQL metrics live in the query's current execution. Read inside the batch after it was
    materialised and before any write, so a batch that lost a row fails before it commits.
    """
    execution = query.streamingQuery().lastExecution()
    if execution is None:
        return 0
    total = 0
    todo = [execution.executedPlan()]
    while todo:
        node = todo.pop()
        metric = node.metrics().get(DROPPED_METRIC)
        if metric.isDefined():
            total += int(metric.get().value())
        children = node.children()
        todo.extend(children.apply(i) for i in range(children.size()))
    return total


class RowsDroppedByWatermark(RuntimeError):
    """A watermark dropped rows: they would reach neither bronze nor the quarantine."""
