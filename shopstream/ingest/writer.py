"""One micro-batch of the stream (the ``foreachBatch`` function, :class:`BatchWriter`).

1. materialise the batch once (``localCheckpoint``: the parse and the classification of the
   streaming plan run exactly once) and check that no watermark dropped a row;
2. collect its records' facts once (:func:`collect_batch`: entity, verdict, hour, position, id
   hashes) for its per-(entity, valid, hour, partition) summary (:func:`batch_summary`) and its
   valid ids (:func:`~shopstream.ingest.dedupe.batch_ids`): the copies of an id landed within the
   dedupe window, or earlier in the batch, are dropped (one row per ``(entity, event_id)``);
3. append the valid rows to ``bronze/<entity>`` and the invalid records to ``quarantine`` (blind
   appends with the batch's ``SetTransaction``, one Delta commit each, in parallel threads; each
   table's rows in one write task per :data:`ROWS_PER_WRITE_TASK`, at most one per core). The
   first batch of a run is written with Delta's check of that ``txnAppId``/``txnVersion`` (each
   table's state warmed beside step 1); every later batch cannot have been committed before and
   commits without the check (:mod:`~shopstream.ingest.tables`), leaving the Delta checkpoint
   every ``delta.checkpointInterval`` commits to a background thread; the landed ids join the
   dedupe index;
4. hand the batch's maxima to the :class:`~shopstream.ingest.watermarks.WatermarkTracker`, which
   commits ``_watermarks`` after the data when due, in the background (the next batch does not
   wait for it; a failed write fails the next batch before it commits).

A batch replayed after a crash (also between two of its commits) skips the commits it already
made and redoes the others from the same offsets; the dedupe index, rebuilt from bronze when the
run starts, holds the ids its landed commits hold, so the replay drops those and lands the rest.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shopstream import lake
from shopstream.contract import Contract
from shopstream.ingest.bronze import Projection, bronze_projection, quarantine_projection
from shopstream.ingest.dedupe import (
    POSITION,
    SEEN_AT,
    RecentIds,
    RowsDroppedByWatermark,
    batch_dropped_by_watermark,
    batch_id_hashes,
    batch_ids,
    rebuild,
    without_positions,
)
from shopstream.ingest.params import StreamParams
from shopstream.ingest.tables import (
    BackgroundCheckpoints,
    commit_append,
    release_blocks,
    warm_snapshot,
    write_append,
)
from shopstream.ingest.watermarks import WatermarkTracker

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

    from shopstream.config import Settings


def run_parallel(tasks: Mapping[str, Callable[[], None]]) -> dict[str, float]:
    """Run independent Spark writes at once (one thread each); seconds per task.

    Every task runs to its end; the first failure is raised after all have finished, so a batch
    never leaves a write running behind the query's back.
    """

    def timed(fn: Callable[[], None]) -> float:
        t = time.monotonic()
        fn()
        return round(time.monotonic() - t, 3)

    if len(tasks) <= 1:
        return {name: timed(fn) for name, fn in tasks.items()}
    with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="bronze-write") as pool:
        futures = {name: pool.submit(timed, fn) for name, fn in tasks.items()}
        errors = [f.exception() for f in futures.values() if f.exception() is not None]
        if errors:
            raise errors[0]  # type: ignore[misc]
        return {name: f.result() for name, f in futures.items()}


# Test failpoint (the crash test): ``<table>[:<n>]`` - the managed job kills its own process group
# right after the named table's commit in the n-th batch of this run that writes it (default 1),
# i.e. between two commits of that batch. Only a process that leads its own process group
# (``shopstream stream start``) obeys it.
KILL_AFTER_COMMIT_ENV = "SHOPSTREAM_STREAM_KILL_AFTER_COMMIT"


def _commit_then_die(fn: Callable[[], None]) -> None:
    fn()
    os.killpg(os.getpid(), signal.SIGKILL)


class StopRequested(Exception):
    """Raised at the start of a batch after a stop request, before it writes anything.

    Spark keeps that batch's offsets uncommitted and runs it first on the next start; nothing is
    half-written because the check comes before the first write.
    """

    MARKER = "shopstream-stop-requested"


@dataclass
class BatchStats:
    batch_id: int
    rows: int = 0
    valid: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    duplicates: int = 0  # valid copies of an id landed within the dedupe window (not landed again)
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds (progress line)
    watermarks: dict[str, datetime | None] = field(default_factory=dict)


@dataclass(frozen=True)
class SummaryRow:
    """One group of a batch: (entity, valid?, event hour, Kafka partition) -> count, max time."""

    entity: str | None
    ok: bool
    event_day: date | None
    event_hour: int | None
    kafka_partition: int
    n: int
    max_event_time: datetime | None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1)
_GROUP = ["entity", "ok", "day", "event_hour", "kafka_partition"]


def facts_columns(entities: list[str]) -> list[Column]:
    """The columns :func:`collect_batch` collects (built once per query, like the tables' projections)."""
    from pyspark.sql import functions as F

    ok = F.size("errors") == 0
    hi, lo = batch_id_hashes(entities)
    return [
        F.col("entity"),
        ok.alias("ok"),
        F.unix_date("event_date").alias("day"),
        F.col("event_hour"),
        *[F.col(c) for c in POSITION],
        F.unix_micros("event_time").alias("us"),
        F.when(ok, hi).alias("hi"),
        F.when(ok, lo).alias("lo"),
    ]


def collect_batch(classified: DataFrame, columns: list[Column]) -> pa.Table | None:
    """The batch's one collect (Arrow): per record its entity, verdict, event hour, Kafka position,
    event time and, valid, its id hashes (:func:`~shopstream.ingest.dedupe.batch_id_hashes`).

    The summary (:func:`batch_summary`) and the dedupe (:func:`~shopstream.ingest.dedupe.batch_ids`)
    both read it: one Spark job per batch instead of two (the rows are a few MB at 50,000
    records). Data values cross as integers (days, microseconds). ``columns``: :func:`facts_columns`.
    """
    batches = classified.select(*columns)._collect_as_arrow()
    if not batches:
        return None
    import pyarrow as pa

    return pa.Table.from_batches(batches)


def batch_summary(rows: pa.Table | None) -> list[SummaryRow]:
    """Counts and max event time per (entity, ok, hour, partition) of a batch's collected rows.

    A date or time becomes a Python value only for valid rows, whose event time the contract
    bounds: one Python cannot represent (year 0, 10000) can never stop the stream.
    """
    if rows is None or rows.num_rows == 0:
        return []
    groups = rows.group_by(_GROUP, use_threads=False).aggregate([("us", "max"), ("kafka_offset", "count")])
    out = []
    for r in groups.to_pylist():
        ok = bool(r["ok"])
        day = _EPOCH_DAY + timedelta(days=r["day"]) if ok and r["day"] is not None else None
        us = r["us_max"]
        t = _EPOCH + timedelta(microseconds=us) if ok and us is not None else None
        n = int(r["kafka_offset_count"])
        out.append(SummaryRow(r["entity"], ok, day, r["event_hour"], int(r["kafka_partition"]), n, t))
    return out


# Rows per write task: a batch's table is written by ceil(rows / this) tasks, at most one per core
# (a 2,000 ev/s batch is one task, one file per table; a backlog's 50,000-row batch spreads out)
ROWS_PER_WRITE_TASK = 20_000


def write_partitions(classified: DataFrame, rows: int, parts: int) -> DataFrame:
    """``classified`` in as many partitions as ``rows`` of one table need (:data:`ROWS_PER_WRITE_TASK`)."""
    need = max(1, min(parts, -(-rows // ROWS_PER_WRITE_TASK)))
    return classified if need >= parts else classified.coalesce(need)


class BatchWriter:
    """The ``foreachBatch`` function: classify, append bronze + quarantine, append the watermark."""

    def __init__(
        self,
        settings: Settings,
        contract: Contract,
        topics: Mapping[str, str],
        expected_partitions: Mapping[str, int],
        params: StreamParams,
        log: Callable[[str], None] = print,
    ) -> None:
        self.settings = settings
        self.contract = contract
        self.topics = dict(topics)
        self.entities = sorted(set(topics.values()))
        self.expected = dict(expected_partitions)
        self.params = params
        self.log = log
        self.watermarks = WatermarkTracker(settings, self.expected, params)
        self.stats: dict[int, BatchStats] = {}
        self.spark: SparkSession | None = None
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bronze-warm")
        self.checkpoints = BackgroundCheckpoints(log)
        self._app_id: str | None = None
        self._jquery: Any = None
        self._app_ready = threading.Event()
        self._first_batch: int | None = None  # the batch a restart may have committed in part
        self._recent: Future[RecentIds] | None = None  # the dedupe index, rebuilt when the run starts
        self.stop_requested = threading.Event()
        table, _, nth = (os.environ.get(KILL_AFTER_COMMIT_ENV) or "").partition(":")
        self._kill_after = table if table and os.getpgid(0) == os.getpid() else None
        self._kill_countdown = int(nth or 1)

    @functools.cached_property
    def projections(self) -> dict[str, Projection]:
        """Each table's filter and columns over a batch: built at the first batch and reused by
        every batch (unresolved expressions; built per batch they were ~200 calls into the JVM)."""
        out = {e: bronze_projection(self.contract, e, SEEN_AT) for e in self.entities}
        out["quarantine"] = quarantine_projection(SEEN_AT)
        return out

    @functools.cached_property
    def facts(self) -> list[Column]:
        """The columns of a batch's one collect (:func:`facts_columns`), built once like the tables'."""
        return facts_columns(self.entities)

    def start_dedupe_index(self, spark: SparkSession) -> None:
        """Rebuild the dedupe index from bronze in the background; the first batch waits for it."""
        paths = {e: lake.bronze_path(self.settings, e) for e in self.entities}
        self._recent = self._pool.submit(rebuild, spark, paths, self.params.dedupe_window, datetime.now(UTC))

    @property
    def recent(self) -> RecentIds:
        if self._recent is None:
            raise RuntimeError("start_dedupe_index was not called before the first batch")
        return self._recent.result()

    def set_query(self, query: StreamingQuery) -> None:
        self._jquery = query._jsq
        self._app_id = lake.app_id(self.params.query_name, str(query.id))
        self._app_ready.set()

    @property
    def jquery(self) -> Any:
        _ = self.app_id  # waits until the query was started
        return self._jquery

    @property
    def app_id(self) -> str:
        if not self._app_ready.wait(timeout=300):
            raise RuntimeError("the streaming query never reported its id")
        assert self._app_id is not None
        return self._app_id

    def __call__(self, df: DataFrame, batch_id: int) -> None:

        if self.stop_requested.is_set():
            raise StopRequested(
                f"{StopRequested.MARKER}: batch {batch_id} not started; it runs first on restart"
            )
        t0 = time.monotonic()
        now = datetime.now(UTC)
        spark = df.sparkSession
        app_id = self.app_id
        # Only the first batch of a run can have been committed before, in part (a crash between
        # its commits): Spark plans batch n + 1 only after batch n is in its commit log, and runs a
        # batch once per run. That batch's writes ask Delta for the app's last version (a rebuild
        # of each table's state: Delta 3.3 does not read it from the checksum file; started now,
        # beside the classification); every later batch commits without asking
        if self._first_batch is None:
            self._first_batch = batch_id
        checked = batch_id == self._first_batch
        append: Callable[..., Any] = (
            write_append if checked else functools.partial(commit_append, checkpoints=self.checkpoints)
        )
        tables = [lake.bronze_path(self.settings, e) for e in self.entities]
        tables.append(lake.quarantine_path(self.settings))
        warm = [self._pool.submit(warm_snapshot, spark, path) for path in tables] if checked else []
        # Materialised once (this runs the parse and the classification of the streaming plan
        # exactly once); the later plans start from these blocks. If an executor
        # holding them is lost, the batch fails before its commits and runs again on restart.
        # SEEN_AT (the micro-batch's timestamp, the same on a replay) stays: it is the rows'
        # ingested_at / quarantined_at, a column rather than a literal so the writes' generated
        # code is the same every batch (a literal made Spark compile it again each time).
        # In as many partitions as the cluster has cores at most: one per Kafka partition (6 on a
        # 2-core machine) made each table's write run 6 tasks, half of them empty (the other
        # topic's), i.e. task launches instead of work; on a cluster wider than the topics, no change
        parts = max(1, spark.sparkContext.defaultParallelism)
        classified = df.coalesce(parts).localCheckpoint(eager=True)
        try:
            dropped = batch_dropped_by_watermark(self.jquery)
            if dropped:
                raise RowsDroppedByWatermark(
                    f"{dropped} row(s) of batch {batch_id} were dropped by a watermark; nothing of "
                    "the batch is committed (every record must land in bronze or the quarantine)"
                )
            facts = collect_batch(classified, self.facts)
            summary = batch_summary(facts)
            steps: dict[str, float] = {"classify": round(time.monotonic() - t0, 3)}
            recent = self.recent
            ids = batch_ids(facts.filter(facts.column("ok")) if facts is not None else None, recent)
            drop = ids.dropped_positions()
            copies = Counter(self.topics[t] for t, _, _ in drop)
            steps["dedupe"] = round(time.monotonic() - t0 - steps["classify"], 3)
            st = BatchStats(batch_id, rows=sum(r.n for r in summary), duplicates=len(drop), steps=steps)
            tasks: dict[str, Callable[[], None]] = {}
            for entity in self.entities:
                st.valid[entity] = sum(r.n for r in summary if r.entity == entity and r.ok) - copies[entity]
                if st.valid[entity]:
                    where, columns = self.projections[entity]
                    rows = write_partitions(classified, st.valid[entity], parts).where(where).select(*columns)
                    tasks[entity] = functools.partial(
                        append,
                        without_positions(rows, [d for d in drop if self.topics[d[0]] == entity]),
                        lake.bronze_path(self.settings, entity),
                        app_id,
                        batch_id,
                    )
            st.quarantined = sum(r.n for r in summary if not r.ok)
            if st.quarantined:
                where, columns = self.projections["quarantine"]
                tasks["quarantine"] = functools.partial(
                    append,
                    write_partitions(classified, st.quarantined, parts).where(where).select(*columns),
                    lake.quarantine_path(self.settings),
                    app_id,
                    batch_id,
                )
            if self._kill_after in tasks:
                self._kill_countdown -= 1
                if self._kill_countdown == 0:
                    tasks[self._kill_after] = functools.partial(_commit_then_die, tasks[self._kill_after])
            for w in warm:
                w.result()
            self.watermarks.check()  # a failed background watermark write fails this batch first
            t1 = time.monotonic()
            steps["prepare"] = max(0.0, round(t1 - t0 - steps["classify"] - steps["dedupe"], 3))
            steps.update(run_parallel(tasks))
            steps["writes"] = round(time.monotonic() - t1, 3)
            recent.add(*ids.kept(), now)  # landed: later copies within the window are dropped
            recent.expire(now)
            # the watermark is committed after the data it describes, and only when it moved
            t1 = time.monotonic()
            batch_max = [
                (r.entity, r.kafka_partition, r.max_event_time)
                for r in summary
                if r.ok and r.entity is not None and r.max_event_time is not None
            ]
            if self.watermarks.after_batch(self.spark or spark, batch_max, batch_id, now):
                steps["watermark"] = round(time.monotonic() - t1, 3)  # started; it runs behind
        finally:
            release_blocks(classified)  # not left for the cleaner's next GC (30 min)
        st.seconds = time.monotonic() - t0
        st.watermarks = {e: w.complete_until for e, w in self.watermarks.marks.items()}
        self.stats[batch_id] = st
        for old in [b for b in self.stats if b < batch_id - 200]:
            del self.stats[old]

    def advance_idle(self, now: datetime) -> bool:
        """Between batches, caught up: the watermark follows the clock (``WatermarkTracker.advance_idle``)."""
        return self.spark is not None and self.watermarks.advance_idle(self.spark, now)
