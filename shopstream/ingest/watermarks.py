"""The per-entity watermark the hourly batch waits for: computed from each batch's per-partition
maximum event time, kept in the ``_watermarks`` Delta table.

``complete_until`` of an entity is the minimum over ALL its Kafka partitions of the maximum event
time seen, minus the allowed lateness (:class:`Watermark`, :func:`advance_watermarks`: plain
Python, a handful of rows per batch). :class:`WatermarkTracker` holds the stream's current marks
and decides when to commit them: after the data they describe, the first time, when an entity's
watermark enters another hour, otherwise at most every ``watermark_every``; between batches,
when the query is caught up and reads nothing, the marks follow the clock (``idle_timeout``).
Readers take each entity's row of the highest batch id (:func:`shopstream.lake.watermarks`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shopstream import lake
from shopstream.ingest.params import StreamParams
from shopstream.ingest.schemas import watermark_schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from shopstream.config import Settings


@dataclass(frozen=True)
class Watermark:
    """Per entity: max event time seen per Kafka partition, and what that makes complete."""

    entity: str
    partition_max: dict[int, datetime]
    expected_partitions: int
    lateness: timedelta

    @property
    def complete_until(self) -> datetime | None:
        """min over ALL partitions of (max event time seen) - lateness; None until each has data."""
        if len(self.partition_max) < self.expected_partitions or not self.partition_max:
            return None
        return min(self.partition_max.values()) - self.lateness


def advance_watermarks(
    previous: Mapping[str, Watermark],
    batch_max: Iterable[tuple[str, int, datetime]],
    expected_partitions: Mapping[str, int],
    lateness: timedelta,
    ceiling: datetime | None = None,
) -> dict[str, Watermark]:
    """New watermarks after a batch: per-partition maxima only ever move forward.

    All datetimes are timezone-aware (UTC); ``batch_max`` rows are (entity, partition, max time).
    ``ceiling`` (the batch's ingest time) caps every maximum: the contract lets an event be up to
    its clock skew in the future, and one such event must not close hours that are still open.
    """
    maxima = {e: dict(previous[e].partition_max) if e in previous else {} for e in expected_partitions}
    for entity, partition, t in batch_max:
        if entity not in maxima or t is None:
            continue
        if ceiling is not None and t > ceiling:
            t = ceiling
        cur = maxima[entity].get(int(partition))
        if cur is None or t > cur:
            maxima[entity][int(partition)] = t
    return {e: Watermark(e, maxima[e], int(expected_partitions[e]), lateness) for e in expected_partitions}


def watermark_frame(
    spark: SparkSession, marks: Mapping[str, Watermark], batch_id: int, updated_at: datetime
) -> DataFrame:
    rows = [
        (
            e,
            w.complete_until,
            batch_id,
            updated_at,
            int(w.lateness.total_seconds()),
            dict(w.partition_max),
        )
        for e, w in sorted(marks.items())
    ]
    return spark.createDataFrame(rows, watermark_schema())


def restore_watermarks(
    settings: Settings, expected: Mapping[str, int], lateness: timedelta
) -> tuple[dict[str, Watermark], int]:
    """The per-partition maxima committed last (the stream's only state outside Spark) and the
    batch id they came with (-1 before the first)."""
    rows = lake.watermarks(settings)
    marks = {
        e: Watermark(e, dict(rows[e]["partition_max_event_time"]) if e in rows else {}, n, lateness)
        for e, n in expected.items()
    }
    return marks, max((int(r["batch_id"]) for r in rows.values()), default=-1)


class WatermarkTracker:
    """The stream's current watermarks and their commits to ``_watermarks``.

    Batches (:meth:`after_batch`) and the idle advance between batches (:meth:`advance_idle`)
    both write, so both hold :attr:`lock`. A batch's write runs in the background (one at a time,
    in order), so the next batch does not wait for it: it is started only after the batch's data
    committed, and a failed write fails the next batch before that one commits (:meth:`check`)
    or the stop (:meth:`flush`).
    """

    def __init__(
        self, settings: Settings, expected_partitions: Mapping[str, int], params: StreamParams
    ) -> None:
        self.settings = settings
        self.expected = dict(expected_partitions)
        self.params = params
        self.marks, self.last_batch = restore_watermarks(settings, self.expected, params.lateness)
        self.lock = threading.Lock()
        self._writes: int | None = None  # appends since the last rewrite (None: none yet)
        self._written: dict[str, Watermark] = {}  # what _watermarks holds now
        self._last_write = datetime.min.replace(tzinfo=UTC)
        self._last_idle_write = datetime.min.replace(tzinfo=UTC)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="watermark-write")
        self._pending: Future[None] | None = None

    def after_batch(
        self,
        spark: SparkSession,
        batch_max: Iterable[tuple[str, int, datetime]],
        batch_id: int,
        now: datetime,
    ) -> bool:
        """Advance by a committed batch's (entity, partition, max event time); write if due."""
        with self.lock:
            marks = advance_watermarks(
                self.marks, batch_max, self.expected, self.params.lateness, ceiling=now
            )
            wrote = self.due(marks, now)
            if wrote:
                self.flush()  # the previous write first: one at a time, in order
                rewrite = self._record(marks, now)  # before the next batch's due() looks
                self._pending = self._pool.submit(self._commit, spark, marks, batch_id, now, rewrite)
            self.marks = marks
            self.last_batch = batch_id
            return wrote

    def check(self) -> None:
        """Raise the error of a background write that failed (called before a batch commits)."""
        if self._pending is not None and self._pending.done():
            self.flush()

    def flush(self) -> None:
        """Wait for the background write (if any) and raise its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def due(self, marks: Mapping[str, Watermark], now: datetime) -> bool:
        """Write now? The first time; when an entity's watermark entered another hour (the hourly
        batch waits for that); otherwise when it moved and ``watermark_every`` has passed."""
        if self._writes is None:
            return True
        if marks == self._written:
            return False

        def hour(w: Watermark | None) -> datetime | None:
            t = w.complete_until if w is not None else None
            return t.replace(minute=0, second=0, microsecond=0) if t is not None else None

        if any(hour(w) != hour(self._written.get(e)) for e, w in marks.items()):
            return True
        return now - self._last_write >= self.params.watermark_every

    def advance_idle(self, spark: SparkSession, now: datetime) -> bool:
        """Caught up and no new record: move every partition's max event time to now - idle_timeout.

        Called between batches when the query's last trigger read nothing and no partition lags.
        Without it an idle topic (a quiet night, the end of a run) would keep its last hour open
        forever. An event created more than ``idle_timeout + lateness`` ago that arrives later
        is late data, which the hourly batch's correction pass picks up. Writes at most every
        ``min(idle_timeout, 30 s)``; returns True when it wrote.
        """
        timeout = self.params.idle_timeout
        if not timeout:
            return False
        with self.lock:
            if now - self._last_idle_write < min(timeout, timedelta(seconds=30)):
                return False
            clock = now - timeout
            batch_max = [(e, p, clock) for e, n in self.expected.items() for p in range(n)]
            marks = advance_watermarks(self.marks, batch_max, self.expected, self.params.lateness)
            self._last_idle_write = now
            if marks == self.marks:
                return False
            self.flush()
            self.write(spark, marks, self.last_batch, now)
            self.marks = marks
            return True

    def write(
        self, spark: SparkSession, marks: Mapping[str, Watermark], batch_id: int, now: datetime
    ) -> None:
        """Append one row per entity now; the table is rewritten (compacted) every N writes and first."""
        self._commit(spark, marks, batch_id, now, self._record(marks, now))

    def _record(self, marks: Mapping[str, Watermark], now: datetime) -> bool:
        """Note a write of ``marks`` (what the table will hold, when); True if it is a rewrite."""
        rewrite = self._writes is None or self._writes >= self.params.watermark_rewrite_every
        self._writes = 1 if rewrite else (self._writes or 0) + 1
        self._written = dict(marks)
        self._last_write = now
        return rewrite

    def _commit(
        self, spark: SparkSession, marks: Mapping[str, Watermark], batch_id: int, now: datetime, rewrite: bool
    ) -> None:
        # no txnAppId here: a replayed batch appends the same row again, which changes nothing
        # (readers take the highest batch id), and saves Delta's state rebuild for the check.
        # A failed write stops the stream (check/flush); its restart reads the table again.
        (
            watermark_frame(spark, marks, batch_id, now)
            .coalesce(1)
            .write.format("delta")
            .mode("overwrite" if rewrite else "append")
            .save(lake.watermarks_path(self.settings))
        )
