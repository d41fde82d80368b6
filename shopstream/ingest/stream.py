"""Stream ingest: Kafka (users, orders) -> Delta bronze, exactly once; bad records -> quarantine.

Run it (the same file runs locally and as a long-running EMR step)::

    spark-submit jobs/run_stream.py --profile local [--starting-offsets earliest]
        [--max-offsets-per-trigger 20000] [--trigger 1s | --available-now] [--lateness 10m]
    python jobs/run_stream.py --profile local ...           # same, pyspark launches the JVM
    shopstream stream start|status|stop                      # the same job as a managed process

One query (``bronze``, checkpoint ``{lake_root}/_checkpoints/bronze``) reads every contract
topic. This module wires it and runs it (:func:`start`, :class:`StreamHandle`, :func:`main`);
each responsibility has its own module, the way delta-io/kafka-delta-ingest keeps them apart:

* :mod:`~shopstream.ingest.params` what shapes the query; :mod:`~shopstream.ingest.source` the
  Kafka side (topics, source options with ``failOnDataLoss`` on, partitions, lag);
* :mod:`~shopstream.ingest.bronze` classification with the contract (one parse per record;
  schemas in :mod:`~shopstream.ingest.schemas`, rules in :mod:`~shopstream.ingest.validation`,
  the cheap proof for records in the producer's form in :mod:`~shopstream.ingest.proof`),
  bronze rows and quarantine rows (position + reason);
* :mod:`~shopstream.ingest.dedupe` duplicates of an ``(entity, event_id)`` within the dedupe
  window (processing time) dropped with an index of the ids landed, kept by the driver and
  rebuilt from bronze when a run starts (no watermark, no state store; a batch whose plan lost a
  row to a watermark fails before it commits);
* :mod:`~shopstream.ingest.writer` one micro-batch (``foreachBatch``): materialise once, append
  bronze + quarantine idempotently (:mod:`~shopstream.ingest.tables`);
* :mod:`~shopstream.ingest.watermarks` the per-entity watermark the hourly batch waits for,
  committed after the data when its hour moved or every ``watermark_every``.

Every write carries Delta's ``txnAppId`` (``shopstream-<query>-<query id>``) and ``txnVersion``
(the batch id): a batch replayed after a crash (also between two commits of one batch) skips the
commits it already made and redoes the others. Only a run's first batch can be such a replay, so
only its writes ask Delta (:mod:`~shopstream.ingest.tables`). SIGTERM/SIGINT stop the query
between batches (the batch in flight finishes). One progress line per batch goes to stdout, with
each step's seconds.
"""

from __future__ import annotations

import argparse
import faulthandler
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shopstream import lake
from shopstream.contract import Contract, load_contract
from shopstream.durations import parse_duration
from shopstream.ingest.bronze import transform_classify
from shopstream.ingest.dedupe import with_seen_at
from shopstream.ingest.params import StreamParams
from shopstream.ingest.source import lag, read_kafka, topic_entities, topic_partitions
from shopstream.ingest.tables import ensure_tables
from shopstream.ingest.writer import BatchStats, BatchWriter, StopRequested

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import StreamingQuery

    from shopstream.config import Settings


# Every micro-batch is one SQL execution whose start event carries the plan's description, built
# eagerly even with no UI to show it: for the classification's plan (~60 KB of text, each of its
# ~100 projected expressions printed in full) that is 0.2-0.26 s of the driver per batch, on the
# batch's critical path; with 3 fields per list it is half the text and 0.16-0.18 s. (Capping the
# whole string too, spark.sql.maxPlanStringLength, saves 0.05 s more but logs a warning for every
# plan it truncates, i.e. several per batch.)
# The SQL start event's description defaults to the "formatted" explain: the operator tree, then
# every operator again with its expressions; "simple" is the tree once (the batch 2.2 -> 1.7 s in
# one 150-s run each; nothing reads it with the UI off, and a UI still shows the plan)
PLAN_STRINGS = {"spark.sql.debug.maxToStringFields": "3", "spark.sql.ui.explainMode": "simple"}
# Constraint propagation infers, for every plan of every batch, the predicates that hold on each of
# the classification's ~100 projected columns; nothing here filters on them, and the inference is
# a tenth of a batch (query planning 0.26 -> 0.21 s, the batch 2.8 -> 2.5 s in one 150-s run each)
# The optimizer rules that cost most on that plan, run again for every batch, and only tidy it:
# they simplify boolean and conditional expressions, fold constants and drop aliases of a tree whose
# rules were written with no redundancy to remove (RuleExecutor's metrics over 9 steady batches:
# 0.9 s of 3.8 s in rules; the batch 1.65 -> 1.52 s in a 40,000-record available-now run each)
_RULES = "org.apache.spark.sql.catalyst.optimizer."
PLANNING = {
    "spark.sql.constraintPropagation.enabled": "false",
    "spark.sql.optimizer.excludedRules": ",".join(
        _RULES + r
        for r in (
            "BooleanSimplification",
            "SimplifyConditionals",
            "ConstantFolding",
            "RemoveRedundantAliases",
        )
    ),
}


# --- run ------------------------------------------------------------------------------------------
def _fmt_ts(t: datetime | None) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else "-"


def progress_line(progress: Mapping[str, Any], stats: BatchStats | None, topics: Mapping[str, str]) -> str:
    """One line per batch: rows, duration, rows/s, lag per partition, watermark per entity."""
    batch = progress.get("batchId")
    rows = int(progress.get("numInputRows", 0))
    dur_ms = (progress.get("durationMs") or {}).get("triggerExecution", 0)
    rate = float(progress.get("processedRowsPerSecond") or 0.0)
    behind = lag(progress, topics)
    lag_txt = " ".join(
        f"{e}:" + ",".join(f"{p}={n}" for p, n in sorted(parts.items()))
        for e, parts in sorted(behind.items())
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
        parts.append(f"duplicates={stats.duplicates}")
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
        behind = lag(p, self.writer.topics)
        if not behind or any(n > 0 for parts in behind.values() for n in parts.values()):
            return
        if self.writer.advance_idle(datetime.now(UTC)):
            marks = ",".join(
                f"{e}:{_fmt_ts(w.complete_until)}" for e, w in sorted(self.writer.watermarks.marks.items())
            )
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
        if not self.query.isActive:
            self.writer.checkpoints.close()  # a checkpoint in flight is finished, not cut off
        exc = self.query.exception()
        if exc is not None and StopRequested.MARKER not in str(exc):
            raise RuntimeError(f"stream query failed: {_first_line(str(exc))}")
        if not self.query.isActive:
            try:
                self.writer.watermarks.flush()  # the last batch's watermark is committed on return
            except Exception as wm_exc:
                raise RuntimeError(f"watermark write failed: {_first_line(str(wm_exc))}") from None


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
    for key, value in {**PLAN_STRINGS, **PLANNING}.items():
        spark.conf.set(key, value)
    writer.start_dedupe_index(spark)
    # transform_classify ends with a fence (an observed row count) that the batch timestamp's
    # column is not merged through: its current_timestamp() is a new literal every batch, and merged into the
    # classification's projection it made Spark compile that ~120 KB class anew for every batch
    # (and the JIT start over on it): about one core busy compiling, the records run interpreted
    stream = with_seen_at(
        transform_classify(read_kafka(spark, settings, list(topics), params), contract, topics)
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
        "--trigger", default=None, help="processing-time trigger interval, e.g. 1s (default: stream.trigger)"
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
