"""Stream ingest: Kafka (users, orders) -> Delta bronze, exactly once; bad records -> quarantine.

Run it (the same file runs locally and as a long-running EMR step)::

    spark-submit jobs/stream_ingest.py --profile local [--starting-offsets earliest]
        [--max-offsets-per-trigger 20000] [--trigger 5s | --available-now] [--lateness 10m]
    python jobs/stream_ingest.py --profile local ...       # same, pyspark launches the JVM
    shopstream stream start|status|stop                      # the same job as a managed process

One query (``bronze``, checkpoint ``{lake_root}/_checkpoints/bronze``) reads every contract
topic. In the streaming plan itself, before any write:

* every record is classified with the contract (``shopstream/ingest/bronze.py``: one parse);
* duplicates are dropped by Spark's state (``dropDuplicatesWithinWatermark`` on the valid rows'
  ``(entity, event_id)``; an invalid record's key is its Kafka position, so it is never dropped),
  with a watermark on the *processing* time of the batch (``current_timestamp``), never on event
  time: a late event is never "late" to it, so no row is ever dropped by a watermark (the job
  checks every batch's ``numRowsDroppedByWatermark`` and fails if it is not 0). An event_id is
  remembered for ``--dedupe-window`` (default 1h; RocksDB state store, checkpointed with the
  query); a copy arriving later than that lands again and the hourly export dedupes it per hour.

Each micro-batch then runs :class:`BatchWriter` (``foreachBatch``):

1. materialise the batch once (``localCheckpoint``; this runs the parse and the dedupe state
   exactly once) and read its per-(entity, hour, partition) summary;
2. append the valid rows to ``bronze/<entity>`` and the invalid records to ``quarantine`` (blind
   appends, one Delta commit each, in parallel threads; no single-task coalesce);
3. append the watermark (per entity: min over partitions of the max event time - lateness) to
   ``_watermarks`` when its hour moved, and otherwise at most every ``--watermark-every``
   (readers take each entity's row of the highest batch id; the hourly batch waits for the
   hour). Between batches, when the query is caught up and reads nothing, the watermark follows
   the clock (``--idle-timeout``), so a quiet topic does not keep its last hour open.

Every write carries Delta's ``txnAppId`` (``shopstream-<query>-<query id>``) and ``txnVersion``
(the batch id): a batch replayed after a crash (also between two commits of one batch) skips the
commits it already made and redoes the others from the same offsets and the same dedupe state
version. The writes are blind appends, so a compaction of the same hour never conflicts with
them. SIGTERM/SIGINT stop the query between batches (the batch in flight finishes). One progress
line per batch goes to stdout, with each step's seconds.
"""

from __future__ import annotations

import argparse
import faulthandler
import functools
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shopstream import lake
from shopstream.contract import Contract, load_contract
from shopstream.durations import parse_duration
from shopstream.ingest import bronze
from shopstream.spark import kafka_source_options

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

    from shopstream.config import Settings


@dataclass(frozen=True)
class StreamParams:
    """Everything that shapes the query (parsed once in ``main``, passed down)."""

    starting_offsets: str = "earliest"
    max_offsets_per_trigger: int | None = 50_000
    trigger_interval: timedelta = timedelta(seconds=5)
    available_now: bool = False
    lateness: timedelta = timedelta(minutes=10)
    dedupe_window: timedelta = timedelta(hours=1)  # how long an event_id is remembered
    idle_timeout: timedelta = timedelta(minutes=1)  # 0 = the watermark only moves with data
    topic_prefix: str = ""
    query_name: str = lake.STREAM_QUERY
    watermark_every: timedelta = timedelta(seconds=30)  # unless its hour moved (then at once)
    watermark_rewrite_every: int = 50  # _watermarks is rewritten (compacted) every N appends
    stop_timeout: timedelta = timedelta(minutes=5)

    def validate(self) -> StreamParams:
        so = self.starting_offsets.strip()
        if so not in ("earliest", "latest"):
            try:
                json.loads(so)
            except ValueError:
                raise ValueError("--starting-offsets: earliest, latest or Kafka's JSON offsets") from None
        if self.max_offsets_per_trigger is not None and self.max_offsets_per_trigger < 1:
            raise ValueError(f"--max-offsets-per-trigger: must be >= 1, got {self.max_offsets_per_trigger}")
        if min(self.trigger_interval, self.lateness, self.dedupe_window, self.idle_timeout) < timedelta(0):
            raise ValueError("--trigger, --lateness, --dedupe-window and --idle-timeout must not be negative")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.query_name):
            raise ValueError(f"--query-name: letters, digits, '_' and '-' only, got {self.query_name!r}")
        return self


# --- read -----------------------------------------------------------------------------------------
def topic_entities(contract: Contract, topic_prefix: str = "") -> dict[str, str]:
    """Kafka topic -> entity name for every entity of the contract."""
    return {topic_prefix + ent.topic: name for name, ent in contract.entities.items()}


def kafka_options(settings: Settings, topics: list[str], params: StreamParams) -> dict[str, str]:
    """Options of Spark's Kafka source (pure): the profile's connection (``kafka_source_options``,
    MSK IAM on AWS) plus the stream's subscription. ``failOnDataLoss`` is always on."""
    opts = {
        **kafka_source_options(settings),
        "subscribe": ",".join(sorted(topics)),
        "startingOffsets": params.starting_offsets,
        "failOnDataLoss": "true",
    }
    if params.max_offsets_per_trigger:
        opts["maxOffsetsPerTrigger"] = str(params.max_offsets_per_trigger)
    return opts


def read_kafka(spark: SparkSession, settings: Settings, topics: list[str], params: StreamParams) -> DataFrame:
    reader = spark.readStream.format("kafka")
    for key, value in kafka_options(settings, topics, params).items():
        reader = reader.option(key, value)
    return reader.load()


def topic_partitions(settings: Settings, topics: Mapping[str, str], timeout: float = 30.0) -> dict[str, int]:
    """Entity -> number of partitions of its topic (the watermark waits for all of them)."""
    from confluent_kafka.admin import AdminClient

    from shopstream.kafka_admin import client_config

    meta = AdminClient(client_config(settings)).list_topics(timeout=timeout)
    out: dict[str, int] = {}
    for topic, entity in topics.items():
        t = meta.topics.get(topic)
        if t is None or t.error is not None or not t.partitions:
            raise RuntimeError(f"topic {topic} does not exist on {settings.kafka.bootstrap_servers}")
        out[entity] = len(t.partitions)
    return out


# --- write ----------------------------------------------------------------------------------------
def ensure_tables(spark: SparkSession, settings: Settings, contract: Contract, entities: list[str]) -> None:
    """Create the bronze, quarantine and watermark tables if they do not exist (idempotent)."""
    from delta.tables import DeltaTable

    specs: list[tuple[str, Any, tuple[str, ...]]] = [
        (
            lake.bronze_path(settings, e),
            bronze.bronze_schema(contract, contract.entity(e)),
            bronze.PARTITION_COLUMNS,
        )
        for e in entities
    ]
    specs.append(
        (lake.quarantine_path(settings), bronze.quarantine_schema(), bronze.QUARANTINE_PARTITION_COLUMNS)
    )
    specs.append((lake.watermarks_path(settings), bronze.watermark_schema(), ()))
    for path, schema, parts in specs:
        props = lake.WATERMARK_PROPERTIES if path == lake.watermarks_path(settings) else lake.LAKE_PROPERTIES
        builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
        for key, value in props.items():
            builder = builder.property(key, value)
        if parts:
            builder = builder.partitionedBy(*parts)
        builder.execute()
        lake.ensure_properties(spark, path, props)  # tables created before these settings existed


DEDUPE_KEY = "_dedupe_key"
SEEN_AT = "_seen_at"
STATE_STORE = {
    # the dedupe state (event_ids of the last --dedupe-window) lives off-heap in RocksDB and only
    # its changes are checkpointed per batch, not a full snapshot
    "spark.sql.streaming.stateStore.providerClass": (
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
    ),
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    # no extra micro-batch without data just to evict expired ids after the watermark moved (it
    # would be one more foreachBatch with its Delta work after nearly every batch): expired ids
    # go with the next batch that has data
    "spark.sql.streaming.noDataMicroBatches.enabled": "false",
}


def transform_dedupe(classified: DataFrame, entities: list[str], window: timedelta) -> DataFrame:
    """Drop later copies of a valid ``(entity, event_id)`` seen within ``window`` (streaming state).

    The watermark is on the batch's processing time, never on event time (a late event is never
    late to it); an invalid record keeps a key of its own (its Kafka position), so it always
    reaches the quarantine.
    """
    from pyspark.sql import functions as F

    event_id = F.coalesce(*[F.col(f"event_{e}")["event_id"] for e in entities])
    position = F.concat_ws(":", F.lit("@"), "kafka_topic", "kafka_partition", "kafka_offset")
    key = F.when(F.size("errors") == 0, F.concat_ws(":", F.col("entity"), event_id)).otherwise(position)
    return (
        classified.withColumn(SEEN_AT, F.current_timestamp())
        .withColumn(DEDUPE_KEY, key)
        .withWatermark(SEEN_AT, f"{max(0, int(window.total_seconds() * 1000))} milliseconds")
        .dropDuplicatesWithinWatermark([DEDUPE_KEY])
    )


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


def write_append(df: DataFrame, path: str, app_id: str, batch_id: int, mode: str = "append") -> None:
    """A blind append (or full overwrite) made idempotent with txnAppId/txnVersion."""
    (
        df.write.format("delta")
        .mode(mode)
        .option("txnAppId", app_id)
        .option("txnVersion", str(batch_id))
        .save(path)
    )


def warm_snapshot(spark: SparkSession, path: str) -> None:
    """Compute the state of the table's latest snapshot (what a txnAppId write checks first)."""
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, path).detail().collect()


def release_blocks(df: DataFrame) -> None:
    """Drop the blocks of a ``localCheckpoint`` DataFrame now (memory, then disk, per batch)."""
    df._jdf.queryExecution().logical().rdd().unpersist(False)


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


# Test failpoint (the crash test): the managed job kills its own process group right after the
# named table's commit of a batch, i.e. between two commits of that batch. Only a process that
# leads its own process group (``shopstream stream start``) obeys it.
KILL_AFTER_COMMIT_ENV = "SHOPSTREAM_STREAM_KILL_AFTER_COMMIT"


def _commit_then_die(fn: Callable[[], None]) -> None:
    fn()
    os.killpg(os.getpid(), signal.SIGKILL)


def watermark_frame(
    spark: SparkSession, marks: Mapping[str, bronze.Watermark], batch_id: int, updated_at: datetime
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
    return spark.createDataFrame(rows, bronze.watermark_schema())


def restore_watermarks(
    settings: Settings, expected: Mapping[str, int], lateness: timedelta
) -> tuple[dict[str, bronze.Watermark], int]:
    """The per-partition maxima committed last (the stream's only state outside Spark) and the
    batch id they came with (-1 before the first)."""
    rows = lake.watermarks(settings)
    marks = {
        e: bronze.Watermark(e, dict(rows[e]["partition_max_event_time"]) if e in rows else {}, n, lateness)
        for e, n in expected.items()
    }
    return marks, max((int(r["batch_id"]) for r in rows.values()), default=-1)


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


def batch_summary(classified: DataFrame) -> list[SummaryRow]:
    """Counts and max event time per (entity, ok, hour, partition) of a classified batch.

    Data values cross into Python only as strings and integers (a date as ``yyyy-MM-dd``, a time
    as microseconds since the epoch), converted only for valid rows, whose event time the contract
    bounds: a date or time Python cannot represent (year 0, 10000) can never stop the stream.
    """
    from pyspark.sql import functions as F

    rows = (  # one partition: a single-stage aggregate, no shuffle for a few hundred rows
        classified.coalesce(1)
        .groupBy(
            "entity",
            (F.size("errors") == 0).alias("ok"),
            F.date_format("event_date", "yyyy-MM-dd").alias("day"),
            "event_hour",
            "kafka_partition",
        )
        .agg(F.count(F.lit(1)).alias("n"), F.unix_micros(F.max("event_time")).alias("max_us"))
        .collect()
    )
    out = []
    for r in rows:
        ok = bool(r["ok"])
        day = date.fromisoformat(r["day"]) if ok and r["day"] else None
        t = _EPOCH + timedelta(microseconds=int(r["max_us"])) if ok and r["max_us"] is not None else None
        out.append(
            SummaryRow(r["entity"], ok, day, r["event_hour"], int(r["kafka_partition"]), int(r["n"]), t)
        )
    return out


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
        self.marks, self._last_batch = restore_watermarks(settings, self.expected, params.lateness)
        self.stats: dict[int, BatchStats] = {}
        self._wm_writes: int | None = None  # appends since the last rewrite (None: none yet)
        self._wm_lock = threading.Lock()  # batches and the idle advance both write _watermarks
        self._last_idle_write = datetime.min.replace(tzinfo=UTC)
        self.spark: SparkSession | None = None
        self._last_wm_write = datetime.min.replace(tzinfo=UTC)
        self._written: dict[str, bronze.Watermark] = {}  # what _watermarks holds now
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bronze-warm")
        self._app_id: str | None = None
        self._jquery: Any = None
        self._app_ready = threading.Event()
        self.stop_requested = threading.Event()
        kill_after = os.environ.get(KILL_AFTER_COMMIT_ENV)
        self._kill_after = kill_after if kill_after and os.getpgid(0) == os.getpid() else None

    def set_query(self, query: StreamingQuery) -> None:
        self._jquery = query._jsq
        self._app_id = f"shopstream-{self.params.query_name}-{query.id}"
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
        # Delta rebuilds each table's state for the txnAppId check of its write (Delta 3.3 does not
        # read it from the checksum file); start those rebuilds now, beside the classification,
        # so the writes find them done (the snapshot caches its state)
        paths = [lake.bronze_path(self.settings, e) for e in self.entities]
        warm = [
            self._pool.submit(warm_snapshot, spark, path)
            for path in [*paths, lake.quarantine_path(self.settings)]
        ]
        # Materialised once (this runs the parse, the classification and the dedupe state of the
        # streaming plan exactly once); the later plans start from these blocks. If an executor
        # holding them is lost, the batch fails before its commits and runs again on restart.
        batch = df.drop(SEEN_AT, DEDUPE_KEY)
        classified = batch.localCheckpoint(eager=True)
        try:
            dropped = batch_dropped_by_watermark(self.jquery)
            if dropped:
                raise RowsDroppedByWatermark(
                    f"{dropped} row(s) of batch {batch_id} were dropped by a watermark; nothing of "
                    "the batch is committed (every record must land in bronze or the quarantine)"
                )
            summary = batch_summary(classified)
            steps: dict[str, float] = {"classify": round(time.monotonic() - t0, 3)}
            st = BatchStats(batch_id, rows=sum(r.n for r in summary), steps=steps)
            tasks: dict[str, Callable[[], None]] = {}
            for entity in self.entities:
                good = [r for r in summary if r.entity == entity and r.ok]
                st.valid[entity] = sum(r.n for r in good)
                if good:
                    tasks[entity] = functools.partial(
                        write_append,
                        bronze.transform_bronze(classified, self.contract, entity, now),
                        lake.bronze_path(self.settings, entity),
                        app_id,
                        batch_id,
                    )
            st.quarantined = sum(r.n for r in summary if not r.ok)
            if st.quarantined:
                tasks["quarantine"] = functools.partial(
                    write_append,
                    bronze.transform_quarantine(classified, now),
                    lake.quarantine_path(self.settings),
                    app_id,
                    batch_id,
                )
            if self._kill_after in tasks:
                tasks[self._kill_after] = functools.partial(_commit_then_die, tasks[self._kill_after])
            for w in warm:
                w.result()
            steps.update(run_parallel(tasks))
            # the watermark is committed after the data it describes, and only when it moved
            t1 = time.monotonic()
            batch_max = [
                (r.entity, r.kafka_partition, r.max_event_time)
                for r in summary
                if r.ok and r.entity is not None and r.max_event_time is not None
            ]
            with self._wm_lock:
                marks = bronze.advance_watermarks(
                    self.marks, batch_max, self.expected, self.params.lateness, ceiling=now
                )
                if self.watermark_due(marks, now):
                    self.write_watermarks(spark, marks, batch_id, now)
                    steps["watermark"] = round(time.monotonic() - t1, 3)
                self.marks = marks
                self._last_batch = batch_id
        finally:
            release_blocks(classified)  # not left for the cleaner's next GC (30 min)
        st.seconds = time.monotonic() - t0
        st.watermarks = {e: w.complete_until for e, w in self.marks.items()}
        self.stats[batch_id] = st
        for old in [b for b in self.stats if b < batch_id - 200]:
            del self.stats[old]

    def watermark_due(self, marks: Mapping[str, bronze.Watermark], now: datetime) -> bool:
        """Write now? The first time; when an entity's watermark entered another hour (the hourly
        batch waits for that); otherwise when it moved and ``watermark_every`` has passed."""
        if self._wm_writes is None:
            return True
        if marks == self._written:
            return False

        def hour(w: bronze.Watermark | None) -> datetime | None:
            t = w.complete_until if w is not None else None
            return t.replace(minute=0, second=0, microsecond=0) if t is not None else None

        if any(hour(w) != hour(self._written.get(e)) for e, w in marks.items()):
            return True
        return now - self._last_wm_write >= self.params.watermark_every

    def advance_idle(self, now: datetime) -> bool:
        """Caught up and no new record: move every partition's max event time to now - idle_timeout.

        Called between batches when the query's last trigger read nothing and no partition lags.
        Without it an idle topic (a quiet night, the end of a run) would keep its last hour open
        forever. An event created more than ``idle_timeout + lateness`` ago that arrives later
        is late data, which the hourly batch's correction pass picks up. Writes at most every
        ``min(idle_timeout, 30 s)``; returns True when it wrote.
        """
        timeout = self.params.idle_timeout
        if not timeout or self.spark is None:
            return False
        with self._wm_lock:
            if now - self._last_idle_write < min(timeout, timedelta(seconds=30)):
                return False
            clock = now - timeout
            batch_max = [(e, p, clock) for e, n in self.expected.items() for p in range(n)]
            marks = bronze.advance_watermarks(self.marks, batch_max, self.expected, self.params.lateness)
            self._last_idle_write = now
            if marks == self.marks:
                return False
            self.write_watermarks(self.spark, marks, self._last_batch, now)
            self.marks = marks
            return True

    def write_watermarks(
        self,
        spark: SparkSession,
        marks: Mapping[str, bronze.Watermark],
        batch_id: int,
        now: datetime,
    ) -> None:
        """Append one row per entity; rewrite the table (compacted) every N writes and first."""
        every = self.params.watermark_rewrite_every
        rewrite = self._wm_writes is None or self._wm_writes >= every
        # no txnAppId here: a replayed batch appends the same row again, which changes nothing
        # (readers take the highest batch id), and saves Delta's state rebuild for the check
        (
            watermark_frame(spark, marks, batch_id, now)
            .coalesce(1)
            .write.format("delta")
            .mode("overwrite" if rewrite else "append")
            .save(lake.watermarks_path(self.settings))
        )
        self._wm_writes = 1 if rewrite else (self._wm_writes or 0) + 1
        self._written = dict(marks)
        self._last_wm_write = now


# --- run ------------------------------------------------------------------------------------------
def _lag(progress: Mapping[str, Any], topics: Mapping[str, str]) -> dict[str, dict[int, int]]:
    """Records behind the latest offset, per entity and partition, from a query progress."""
    out: dict[str, dict[int, int]] = {}
    for src in progress.get("sources", []):
        end, latest = src.get("endOffset"), src.get("latestOffset")
        end = json.loads(end) if isinstance(end, str) else end
        latest = json.loads(latest) if isinstance(latest, str) else latest
        if not isinstance(end, dict) or not isinstance(latest, dict):
            continue
        for topic, parts in latest.items():
            entity = topics.get(topic, topic)
            for p, off in parts.items():
                out.setdefault(entity, {})[int(p)] = max(0, int(off) - int(end.get(topic, {}).get(p, 0)))
    return out


def _fmt_ts(t: datetime | None) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else "-"


def progress_line(progress: Mapping[str, Any], stats: BatchStats | None, topics: Mapping[str, str]) -> str:
    """One line per batch: rows, duration, rows/s, lag per partition, watermark per entity."""
    batch = progress.get("batchId")
    rows = int(progress.get("numInputRows", 0))
    dur_ms = (progress.get("durationMs") or {}).get("triggerExecution", 0)
    rate = float(progress.get("processedRowsPerSecond") or 0.0)
    lag = _lag(progress, topics)
    lag_txt = " ".join(
        f"{e}:" + ",".join(f"{p}={n}" for p, n in sorted(parts.items())) for e, parts in sorted(lag.items())
    )
    parts = [
        f"[stream] batch={batch}",
        f"rows={rows}",
        f"duration={dur_ms / 1000:.2f}s",
        f"rate={rate:.0f}rows/s",
    ]
    if stats is not None:
        parts.append("valid=" + ",".join(f"{e}:{n}" for e, n in sorted(stats.valid.items())))
        parts.append(f"quarantined={stats.quarantined}")
    parts.append(f"lag={lag_txt or '-'}")
    if stats is not None:
        parts.append("steps=" + ",".join(f"{k}:{v:.2f}" for k, v in stats.steps.items()))
        parts.append(
            "watermark=" + ",".join(f"{e}:{_fmt_ts(t)}" for e, t in sorted(stats.watermarks.items()))
        )
    return " ".join(parts)


def driver_heap_used_mb(spark: SparkSession) -> float:
    rt = spark.sparkContext._jvm.java.lang.Runtime.getRuntime()  # type: ignore[union-attr]
    return (rt.totalMemory() - rt.freeMemory()) / 1024 / 1024


class StreamHandle:
    """A started query with its writer; ``wait()`` prints progress and honours stop requests."""

    def __init__(self, query: StreamingQuery, writer: BatchWriter, params: StreamParams) -> None:
        self.query = query
        self.writer = writer
        self.params = params
        self.stop_requested = threading.Event()
        self._printed = -1

    def request_stop(self) -> None:
        self.stop_requested.set()

    def print_progress(self) -> None:
        for p in self.query.recentProgress:
            b = int(p.get("batchId", -1))
            if b > self._printed and int(p.get("numInputRows", 0)) > 0:
                self.writer.log(progress_line(p, self.writer.stats.get(b), self.writer.topics))
            self._printed = max(self._printed, b)

    def advance_if_idle(self) -> None:
        """Between triggers: the last one read nothing and no partition lags -> advance_idle."""
        if self.params.available_now or not self.query.isActive:
            return
        p = self.query.lastProgress
        if not p or int(p.get("numInputRows", 0)) > 0 or self.query.status.get("isTriggerActive"):
            return
        lag = _lag(p, self.writer.topics)
        if not lag or any(n > 0 for parts in lag.values() for n in parts.values()):
            return
        if self.writer.advance_idle(datetime.now(UTC)):
            marks = ",".join(f"{e}:{_fmt_ts(w.complete_until)}" for e, w in sorted(self.writer.marks.items()))
            self.writer.log(f"[stream] idle: caught up, no new records; watermark={marks}")

    def stop_gracefully(self) -> None:
        """Let the batch in flight finish, then stop; never leaves a batch half-written.

        Between batches the query is stopped directly; if the next batch starts first, the
        writer refuses it before any write (:class:`StopRequested`) and it runs on restart.
        """
        self.writer.stop_requested.set()
        deadline = time.monotonic() + self.params.stop_timeout.total_seconds()
        while self.query.isActive and time.monotonic() < deadline:
            if not self.query.status.get("isTriggerActive"):
                self.query.stop()
                break
            time.sleep(0.05)
        if self.query.isActive:
            self.query.stop()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the query ends (available-now), a stop is requested, or ``timeout`` passes."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.query.isActive:
            self.query.awaitTermination(0.5)  # type: ignore[arg-type]  # seconds; floats work
            self.print_progress()
            self.advance_if_idle()
            if self.stop_requested.is_set():
                self.stop_gracefully()
                break
            if end is not None and time.monotonic() >= end:
                break
        self.print_progress()
        exc = self.query.exception()
        if exc is not None and StopRequested.MARKER not in str(exc):
            raise RuntimeError(f"stream query failed: {_first_line(str(exc))}")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text)


def start(
    spark: SparkSession,
    settings: Settings,
    params: StreamParams,
    contract: Contract | None = None,
    log: Callable[[str], None] = print,
) -> StreamHandle:
    """Create the tables if needed and start the query (returns at once)."""
    contract = contract or load_contract()
    topics = topic_entities(contract, params.topic_prefix)
    expected = topic_partitions(settings, topics)
    ensure_tables(spark, settings, contract, sorted(set(topics.values())))
    writer = BatchWriter(settings, contract, topics, expected, params, log)
    writer.spark = spark
    for key, value in STATE_STORE.items():
        spark.conf.set(key, value)
    stream = transform_dedupe(
        bronze.apply_stages(
            read_kafka(spark, settings, list(topics), params), bronze.classify_stages(contract, topics)
        ),
        sorted(set(topics.values())),
        params.dedupe_window,
    )
    w = (
        stream.writeStream.queryName(params.query_name)
        .option("checkpointLocation", lake.checkpoint_path(settings, params.query_name))
        .foreachBatch(writer)
    )
    if params.available_now:
        w = w.trigger(availableNow=True)
    else:
        w = w.trigger(processingTime=f"{int(params.trigger_interval.total_seconds() * 1000)} milliseconds")
    query = w.start()
    writer.set_query(query)
    return StreamHandle(query, writer, params)


# --- entry point ----------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> tuple[str | None, StreamParams]:
    p = argparse.ArgumentParser(prog="stream_ingest", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=("local", "aws"), default=None, help="configuration profile")
    p.add_argument(
        "--starting-offsets",
        default=None,
        help="earliest | latest | Kafka JSON (default: stream.starting_offsets)",
    )
    p.add_argument(
        "--max-offsets-per-trigger", type=int, default=None, help="default: stream.max_offsets_per_trigger"
    )
    p.add_argument(
        "--trigger", default=None, help="processing-time trigger interval, e.g. 5s (default: stream.trigger)"
    )
    p.add_argument("--available-now", action="store_true", help="process what is in Kafka now, then stop")
    p.add_argument("--lateness", default=None, help="allowed event-time lateness (default: stream.lateness)")
    p.add_argument(
        "--dedupe-window",
        default=None,
        help="how long (processing time) an event_id is remembered to drop its later copies "
        "(default: stream.dedupe_window)",
    )
    p.add_argument(
        "--idle-timeout",
        default=None,
        help="when caught up with no new record, the watermark follows the clock minus this; "
        "0 = only data moves it (default: stream.idle_timeout)",
    )
    p.add_argument("--topic-prefix", default="", help="prefix of the contract's topic names")
    p.add_argument("--query-name", default=lake.STREAM_QUERY, help="query (and checkpoint directory) name")
    a = p.parse_args(argv)
    from shopstream import config

    try:
        conf = config.load(a.profile).stream  # flags override the profile's stream section
    except config.ConfigError as exc:
        p.error(str(exc))
    max_offsets = (
        conf.max_offsets_per_trigger if a.max_offsets_per_trigger is None else a.max_offsets_per_trigger
    )
    try:
        params = StreamParams(
            starting_offsets=a.starting_offsets or conf.starting_offsets,
            max_offsets_per_trigger=max_offsets if max_offsets != 0 else None,
            trigger_interval=parse_duration(a.trigger or conf.trigger),
            available_now=a.available_now,
            lateness=parse_duration(a.lateness or conf.lateness),
            dedupe_window=parse_duration(a.dedupe_window or conf.dedupe_window),
            idle_timeout=parse_duration(a.idle_timeout or conf.idle_timeout),
            topic_prefix=a.topic_prefix,
            query_name=a.query_name,
        ).validate()
    except ValueError as exc:
        p.error(str(exc))
    return a.profile, params


def main(argv: list[str] | None = None) -> int:
    from shopstream import config
    from shopstream.spark import session

    profile, params = parse_args(argv)
    try:
        settings = config.load(profile)
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    spark = session(settings, f"shopstream-stream-{params.query_name}")
    handle = start(spark, settings, params, log=lambda line: print(line, flush=True))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _s, _f: handle.request_stop())
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` dumps every Python thread's stack
    print(
        f"[stream] started query={params.query_name} id={handle.query.id} "
        f"checkpoint={lake.checkpoint_path(settings, params.query_name)} lake={settings.lake_root}",
        flush=True,
    )
    try:
        handle.wait()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        print(f"[stream] stopped; driver heap used {driver_heap_used_mb(spark):.0f} MB", flush=True)
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
