"""``shopstream realtime``: the local consumer with the Logstash pipelines' semantics.

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
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shopstream.contract import Contract, load_contract
from shopstream.errors import RuntimeFailure, UsageError
from shopstream.realtime.spec import LOCAL_GROUP_ID, EntityIndex, entity_indexes
from shopstream.realtime.transforms import Action, rejected_action, to_action

if TYPE_CHECKING:
    from shopstream.config import Settings

# shared counter slots
_DOCS, _DEAD, _BATCHES, _DONE = 0, 1, 2, 3


class ConsumerFailure(RuntimeFailure):
    """Kafka or OpenSearch failed in a way that must stop the consumer (nothing was committed)."""


@dataclass
class RunOptions:
    workers: int = 1
    from_beginning: bool = False
    max_events: int | None = None
    idle_exit: float | None = None
    batch_size: int = 2000
    poll_timeout: float = 0.1
    topic_prefix: str = ""
    index_prefix: str = ""
    group_id: str = LOCAL_GROUP_ID
    bootstrap_servers: str | None = None
    install_templates: bool = True
    progress: bool = True
    bulk_retries: int = 5
    bulk_concurrency: int = 2

    def validate(self) -> RunOptions:
        if self.workers < 1:
            raise UsageError(f"--workers: must be >= 1, got {self.workers}")
        if self.max_events is not None and self.max_events < 1:
            raise UsageError(f"--max-events: must be >= 1, got {self.max_events}")
        if self.idle_exit is not None and self.idle_exit <= 0:
            raise UsageError(f"--idle-exit: must be > 0 seconds, got {self.idle_exit:g}")
        if self.max_events is not None and self.idle_exit is not None:
            raise UsageError("--max-events and --idle-exit exclude each other")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size: must be >= 1, got {self.batch_size}")
        if not 1 <= self.bulk_concurrency <= 16:
            raise UsageError(f"--bulk-concurrency: must be 1..16, got {self.bulk_concurrency}")
        return self


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


# --- one worker ------------------------------------------------------------------------------------
class _Counters:
    """Plain counters for one in-process worker, or a view on the shared array of a worker process."""

    def __init__(self, shared: Any = None, slot: int = 0) -> None:
        self._shared = shared
        self._base = slot * 4
        self.local = [0, 0, 0, 0]
        self.first_batch_at: float | None = None  # monotonic time the first batch was received

    def add(self, docs: int, dead: int) -> None:
        self.local[_DOCS] += docs
        self.local[_DEAD] += dead
        self.local[_BATCHES] += 1
        if self._shared is not None:
            with self._shared.get_lock():
                self._shared[self._base + _DOCS] += docs
                self._shared[self._base + _DEAD] += dead
                self._shared[self._base + _BATCHES] += 1

    def total_records(self) -> int:
        if self._shared is None:
            return self.local[_DOCS] + self.local[_DEAD]
        n = len(self._shared) // 4
        return sum(self._shared[i * 4 + _DOCS] + self._shared[i * 4 + _DEAD] for i in range(n))


def _consumer_config(settings: Settings, opts: RunOptions, worker: int) -> dict[str, Any]:
    from shopstream.kafka_admin import client_config

    return {
        **client_config(settings, opts.bootstrap_servers),
        "group.id": opts.group_id,
        "client.id": f"shopstream-realtime-{worker}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "roundrobin",
        "enable.partition.eof": False,
        "fetch.wait.max.ms": 100,
        "session.timeout.ms": 10000,  # a killed worker's partitions move on within 10 s
        "heartbeat.interval.ms": 3000,
        "max.poll.interval.ms": 300000,
    }


def _body(actions: list[Action]) -> bytes:
    """The NDJSON ``_bulk`` body: each source was serialized once, when its action was built."""
    return b"".join([a.bulk_lines() for a in actions])


# what the loop reads of a bulk response (the full one echoes index, id, version, shards per item)
BULK_RESPONSE_FILTER = "errors,items.*.status,items.*.error"


def _bulk(
    os_client: Any, actions: list[Action], by_entity: dict[str, EntityIndex], retries: int
) -> tuple[int, int]:
    """Index ``actions``; returns (documents, dead letters). Raises ConsumerFailure on failure.

    Per item, like Logstash's output: 429 and 5xx are retried with backoff (up to ``retries``
    rounds); any other 4xx means OpenSearch refused the document, which becomes a dead letter
    (Logstash: its DLQ, drained into the same index). A refused dead letter is fatal.
    """
    from opensearchpy import OpenSearchException

    docs = sum(1 for a in actions if not a.dead_letter)
    dead = len(actions) - docs
    pending = actions
    attempt = 0
    while pending:
        try:
            res = os_client.bulk(body=_body(pending), filter_path=BULK_RESPONSE_FILTER)
        except OpenSearchException as exc:
            status = getattr(exc, "status_code", None)
            if attempt < retries and (status in (429, "N/A") or (isinstance(status, int) and status >= 500)):
                attempt += 1
                time.sleep(min(10.0, 0.5 * 2**attempt))
                continue
            raise ConsumerFailure(f"bulk request failed: {exc}") from None
        if not res.get("errors"):
            return docs, dead
        transient: list[Action] = []
        refused: list[Action] = []
        for action, item in zip(pending, res["items"], strict=True):  # filtered: status (+ error)
            info = item.get("index", {})
            status = int(info.get("status", 0))
            if status < 300:
                continue
            if status == 429 or status >= 500:
                transient.append(action)
            elif action.dead_letter:
                raise ConsumerFailure(f"dead letter refused (status {status}): {info.get('error')}")
            else:
                err = info.get("error") or {}
                reason = (
                    f"{err.get('type', status)}: {err.get('reason', '')}"
                    if isinstance(err, dict)
                    else str(err)
                )
                refused.append(rejected_action(action, by_entity[action.entity], reason))
        docs -= len(refused)
        dead += len(refused)
        if transient:
            if attempt >= retries:
                raise ConsumerFailure(f"{len(transient)} bulk item(s) still failing after {retries} retries")
            attempt += 1
            time.sleep(min(10.0, 0.5 * 2**attempt))
        pending = transient + refused
    return docs, dead


def worker_loop(
    settings: Settings,
    opts: RunOptions,
    worker: int,
    should_stop: Callable[[], bool],
    counters: _Counters,
    contract: Contract | None = None,
) -> str:
    """Consume, index, commit until stopped; returns the stop reason."""
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    from shopstream.realtime.opensearch import client

    contract = contract or load_contract()
    by_entity = {name: _prefixed(idx, opts.index_prefix) for name, idx in entity_indexes(contract).items()}
    by_topic = {opts.topic_prefix + idx.topic: idx for idx in by_entity.values()}
    os_client = client(settings)
    consumer = Consumer(_consumer_config(settings, opts, worker))
    assigned_at: list[float] = []

    def on_assign(_c: Any, partitions: list[Any]) -> None:
        if not assigned_at:
            assigned_at.append(time.monotonic())

    executor = ThreadPoolExecutor(max_workers=opts.bulk_concurrency, thread_name_prefix="bulk")
    # (bulk future, offsets to commit, records), oldest first: at most bulk_concurrency in flight
    inflight: deque[tuple[Future[tuple[int, int]], dict[tuple[str, int], int], int]] = deque()

    def settle(keep: int = 0) -> None:
        """Commit the oldest batches in order until ``keep`` are left in flight.

        A batch's offsets are committed only when its bulk succeeded; a failure propagates before
        its commit (and before any later batch's), so nothing unindexed is ever committed.
        """
        while len(inflight) > keep:
            settle_oldest()

    def settle_oldest() -> None:
        fut, offsets, _n = inflight.popleft()
        docs, dead = fut.result()  # a ConsumerFailure propagates: nothing is committed
        try:
            consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
            )
        except KafkaException as exc:
            # e.g. the partition was revoked in a rebalance: the new owner re-reads the batch
            # and overwrites the same _ids; nothing is lost, nothing double counts.
            err = exc.args[0]
            if err.code() not in (KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION):
                raise ConsumerFailure(f"commit failed: {err.str()}") from None
        counters.add(docs, dead)

    def on_revoke(_c: Any, _partitions: list[Any]) -> None:
        # a rebalance takes partitions away: index and commit what is in flight first, so the
        # next owner starts after it instead of re-reading (and re-counting) those batches
        settle()

    consumer.subscribe(sorted(by_topic), on_assign=on_assign, on_revoke=on_revoke)
    last_record = time.monotonic()
    reason = "stopped"
    try:
        while True:
            if should_stop():
                reason = "stopped by signal"
                break
            want = opts.batch_size
            if opts.max_events is not None:
                left = opts.max_events - counters.total_records() - sum(n for _f, _o, n in inflight)
                if left <= 0:
                    reason = f"--max-events {opts.max_events} reached"
                    break
                want = min(want, left)
            msgs = consumer.consume(num_messages=want, timeout=opts.poll_timeout)
            if not msgs:
                settle()
                if opts.idle_exit is not None and assigned_at:
                    idle_since = max(last_record, assigned_at[0])
                    if time.monotonic() - idle_since >= opts.idle_exit:
                        reason = f"idle for {opts.idle_exit:g}s"
                        break
                continue
            last_record = time.monotonic()
            if counters.first_batch_at is None:
                counters.first_batch_at = last_record
            actions: list[Action] = []
            offsets: dict[tuple[str, int], int] = {}
            append = actions.append
            for m in msgs:
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise ConsumerFailure(f"Kafka: {err.str()}")
                topic, partition, offset = m.topic(), m.partition(), m.offset()
                if topic is None or partition is None or offset is None:  # only on error messages
                    raise ConsumerFailure(f"Kafka returned a record without coordinates: {m!r}")
                append(
                    to_action(
                        contract,
                        by_topic[topic],
                        topic=topic,
                        partition=partition,
                        offset=offset,
                        kafka_timestamp_ms=max(0, m.timestamp()[1]),
                        raw=m.value(),
                        key=m.key(),
                    )
                )
                offsets[(topic, partition)] = offset + 1
            settle(keep=opts.bulk_concurrency - 1)  # the oldest batches: wait, commit in order
            if actions:
                fut = executor.submit(_bulk, os_client, actions, by_entity, opts.bulk_retries)
                inflight.append((fut, offsets, len(actions)))
        settle()  # graceful end: the last batch is indexed and committed before leaving the group
    finally:
        executor.shutdown(wait=True)
        consumer.close()
    return reason


def _prefixed(idx: EntityIndex, prefix: str) -> EntityIndex:
    return (
        _PrefixedIndex(idx.entity, idx.topic, idx.transforms, idx.logstash_removed, prefix) if prefix else idx
    )


@dataclass(frozen=True)
class _PrefixedIndex(EntityIndex):
    """An EntityIndex whose index names carry a namespace prefix (tests, benchmarks)."""

    prefix: str = ""

    @property
    def base(self) -> str:
        return self.prefix + super().base

    @property
    def deadletter_base(self) -> str:
        return self.prefix + super().deadletter_base


# --- orchestration -----------------------------------------------------------------------------------
def _topics_partitions(settings: Settings, opts: RunOptions, topics: list[str]) -> dict[str, int]:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from shopstream.kafka_admin import client_config

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
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient

    from shopstream.kafka_admin import client_config

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
    counters = _Counters(shared, worker)
    try:
        worker_loop(settings, opts, worker, stop.is_set, counters)
    finally:
        with shared.get_lock():
            shared[worker * 4 + _DONE] = 1


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
        from shopstream.realtime.opensearch import install_templates

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

        counters = _Counters()
        with _signals(on_signal):
            reason = _run_single(settings, opts, contract, counters, lambda: stop["flag"], progress)
        docs, dead, batches = counters.local[_DOCS], counters.local[_DEAD], counters.local[_BATCHES]
        if counters.first_batch_at is not None:
            summary.busy_seconds = time.monotonic() - counters.first_batch_at
    else:
        ctx = mp.get_context("spawn")
        shared = ctx.Array("q", 4 * opts.workers)
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
                docs = sum(shared[i * 4 + _DOCS] for i in range(opts.workers))
                dead = sum(shared[i * 4 + _DEAD] for i in range(opts.workers))
                progress.show(docs, dead)
                if any(p.exitcode not in (None, 0) for p in procs):
                    stop_event.set()
        failed = [p for p in procs if p.exitcode != 0]
        docs = sum(shared[i * 4 + _DOCS] for i in range(opts.workers))
        dead = sum(shared[i * 4 + _DEAD] for i in range(opts.workers))
        batches = sum(shared[i * 4 + _BATCHES] for i in range(opts.workers))
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
    counters: _Counters,
    should_stop: Callable[[], bool],
    progress: _Progress,
) -> str:
    original_add = counters.add

    def add_and_show(docs: int, dead: int) -> None:
        original_add(docs, dead)
        progress.show(counters.local[_DOCS], counters.local[_DEAD])

    counters.add = add_and_show  # type: ignore[method-assign]
    return worker_loop(settings, opts, 0, should_stop, counters, contract)
