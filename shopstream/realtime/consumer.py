"""``shopstream realtime``: the local consumer with the Logstash pipelines' semantics (the run:
topics, consumer group, worker processes, progress; one worker is :mod:`shopstream.realtime.worker`).

* confluent-kafka consumer group (``shopstream-realtime``; not Logstash's group, so both can read
  the same cluster without splitting partitions), auto-commit OFF: offsets are committed
  synchronously only after the bulk request of the batch succeeded. A crash (even ``kill -9``)
  between bulk and commit replays the batch; ``_id`` = ``event_id`` turns that replay into an
  overwrite, so the document count never grows.
* one ``_bulk`` request per batch, its NDJSON body joined from each record's source bytes (each
  valid record is parsed once and serialized once: ``transforms``; opensearch-py's helpers would
  re-serialize every action), the response filtered to the per-item status; retries of 429/5xx;
  a document OpenSearch refuses (4xx) becomes a dead letter like in Logstash's DLQ drain; any
  other failure stops the worker without committing.
* Up to ``--bulk-concurrency`` batches in flight (default 2): while batch N's bulk request runs
  (a background thread, I/O), batch N+1 is fetched, transformed and sent; offsets are committed
  strictly in batch order, each batch's only after its own bulk and every earlier one succeeded.
  A rebalance that takes partitions away first waits for those bulks and commits them.
* ``--workers N`` processes in the same group (N <= partitions per topic).
* SIGTERM / Ctrl-C: finish the batch in flight (bulk + commit), leave the group, exit 0.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shopstream.contract import Contract, load_contract
from shopstream.errors import UsageError
from shopstream.kafka_admin import client_config
from shopstream.realtime.opensearch import install_templates
from shopstream.realtime.options import ConsumerFailure, RunOptions
from shopstream.realtime.spec import entity_indexes
from shopstream.realtime.worker import BATCHES, DEAD, DOCS, DONE, SLOTS, Counters, worker_loop

if TYPE_CHECKING:
    from shopstream.config import Settings


@dataclass
class RunSummary:
    documents: int = 0
    dead_letters: int = 0
    batches: int = 0
    seconds: float = 0.0
    busy_seconds: float = 0.0  # from the first batch received to the end (single worker only)
    stop_reason: str = ""
    by_entity: dict[str, int] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return self.documents + self.dead_letters

    def line(self) -> str:
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        return (
            f"realtime: {self.documents:,} documents, {self.dead_letters:,} dead letters in "
            f"{self.batches:,} batches, {self.seconds:.1f}s ({rate:,.0f} records/s); {self.stop_reason}"
        )


# --- the run: topics, group, worker processes, progress --------------------------------------------
def _topics_partitions(settings: Settings, opts: RunOptions, topics: list[str]) -> dict[str, int]:
    # the Kafka C client loads only when a run connects (not when the CLI starts)
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_config(settings, opts.bootstrap_servers))
    try:
        meta = admin.list_topics(timeout=15)
    except KafkaException as exc:
        raise ConsumerFailure(f"Kafka did not answer: {exc.args[0]}") from None
    missing = [t for t in topics if t not in meta.topics]
    if missing:
        raise ConsumerFailure(
            f"topic(s) {', '.join(missing)} do not exist (run `shopstream up`, then produce)"
        )
    return {t: len(meta.topics[t].partitions) for t in topics}


def reset_group(settings: Settings, group_id: str, bootstrap_servers: str | None = None) -> bool:
    """Delete the consumer group's committed offsets (the next run reads from the beginning).

    Returns False when the group did not exist. Fails while the group has active members.
    """
    # the Kafka C client loads only when a run connects (not when the CLI starts)
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_config(settings, bootstrap_servers))
    fut = admin.delete_consumer_groups([group_id], request_timeout=30)[group_id]
    try:
        fut.result()
    except KafkaException as exc:
        err = exc.args[0]
        if err.code() == KafkaError.GROUP_ID_NOT_FOUND:
            return False
        if err.code() == KafkaError.NON_EMPTY_GROUP:
            raise ConsumerFailure(
                f"consumer group {group_id} still has active members; stop them before --from-beginning"
            ) from None
        raise ConsumerFailure(f"resetting consumer group {group_id} failed: {err.str()}") from None
    return True


@contextmanager
def _signals(on_signal: Callable[[int], None]) -> Iterator[None]:
    previous = {
        s: signal.signal(s, lambda signum, _f: on_signal(signum)) for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _process_main(settings: Settings, opts: RunOptions, worker: int, shared: Any, stop: Any) -> None:
    """Entry point of a worker process (spawned: no Kafka client crosses a fork)."""
    signal.signal(signal.SIGINT, lambda _s, _f: stop.set())
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.set())
    counters = Counters(shared, worker)
    try:
        worker_loop(settings, opts, worker, stop.is_set, counters)
    finally:
        with shared.get_lock():
            shared[worker * SLOTS + DONE] = 1


class _Progress:
    def __init__(self, enabled: bool, started: float) -> None:
        self.enabled = enabled
        self.started = started
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def show(self, docs: int, dead: int, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self.last < (0.5 if self.tty else 5.0):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        text = (
            f"realtime: {docs:,} documents · {dead:,} dead letters · {(docs + dead) / elapsed:,.0f} records/s"
        )
        if self.tty:
            sys.stderr.write("\r" + text + ("\n" if final else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()


def run(settings: Settings, opts: RunOptions, contract: Contract | None = None) -> RunSummary:
    """Run the consumer until stopped (signal, --max-events or --idle-exit)."""
    opts.validate()
    contract = contract or load_contract()
    topics = [opts.topic_prefix + idx.topic for idx in entity_indexes(contract).values()]
    partitions = _topics_partitions(settings, opts, topics)
    fewest = min(partitions.values())
    if opts.workers > fewest:
        raise UsageError(
            f"--workers: {opts.workers} > {fewest} partitions per topic (extra workers would idle)"
        )
    if opts.install_templates:
        install_templates(settings, index_prefix=opts.index_prefix)
    if opts.from_beginning:
        reset_group(settings, opts.group_id, opts.bootstrap_servers)
    started = time.monotonic()
    progress = _Progress(opts.progress, started)
    summary = RunSummary()
    if opts.workers == 1:
        stop = {"flag": False}

        def on_signal(_signum: int) -> None:
            stop["flag"] = True

        counters = Counters()
        with _signals(on_signal):
            reason = _run_single(settings, opts, contract, counters, lambda: stop["flag"], progress)
        docs, dead, batches = counters.local[DOCS], counters.local[DEAD], counters.local[BATCHES]
        if counters.first_batch_at is not None:
            summary.busy_seconds = time.monotonic() - counters.first_batch_at
    else:
        ctx = mp.get_context("spawn")
        shared = ctx.Array("q", SLOTS * opts.workers)
        stop_event = ctx.Event()
        procs = [
            ctx.Process(
                target=_process_main, args=(settings, opts, w, shared, stop_event), name=f"realtime-{w}"
            )
            for w in range(opts.workers)
        ]
        with _signals(lambda _s: stop_event.set()):
            for p in procs:
                p.start()
            while any(p.is_alive() for p in procs):
                for p in procs:
                    p.join(timeout=0.2 / len(procs))
                docs = sum(shared[i * SLOTS + DOCS] for i in range(opts.workers))
                dead = sum(shared[i * SLOTS + DEAD] for i in range(opts.workers))
                progress.show(docs, dead)
                if any(p.exitcode not in (None, 0) for p in procs):
                    stop_event.set()
        failed = [p for p in procs if p.exitcode != 0]
        docs = sum(shared[i * SLOTS + DOCS] for i in range(opts.workers))
        dead = sum(shared[i * SLOTS + DEAD] for i in range(opts.workers))
        batches = sum(shared[i * SLOTS + BATCHES] for i in range(opts.workers))
        if failed:
            raise ConsumerFailure(
                f"{len(failed)} worker(s) failed (exit codes {[p.exitcode for p in failed]}); "
                f"{docs:,} documents were indexed and committed before that"
            )
        reason = "stopped by signal" if stop_event.is_set() else "every worker finished"
    summary.documents, summary.dead_letters, summary.batches = docs, dead, batches
    summary.seconds = time.monotonic() - started
    summary.stop_reason = reason
    progress.show(docs, dead, final=True)
    return summary


def _run_single(
    settings: Settings,
    opts: RunOptions,
    contract: Contract,
    counters: Counters,
    should_stop: Callable[[], bool],
    progress: _Progress,
) -> str:
    original_add = counters.add

    def add_and_show(docs: int, dead: int) -> None:
        original_add(docs, dead)
        progress.show(counters.local[DOCS], counters.local[DEAD])

    counters.add = add_and_show  # type: ignore[method-assign]
    return worker_loop(settings, opts, 0, should_stop, counters, contract)
