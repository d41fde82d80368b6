"""One consumer worker: consume a batch, transform it (:mod:`shopstream.realtime.transforms`),
index it (:mod:`shopstream.realtime.bulk`) with up to ``--bulk-concurrency`` bulks in flight, and
commit the offsets strictly in batch order, each only after its own bulk succeeded."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shopstream.contract import Contract, load_contract
from shopstream.kafka_admin import client_config
from shopstream.realtime.bulk import send_bulk
from shopstream.realtime.opensearch import client
from shopstream.realtime.options import ConsumerFailure, RunOptions
from shopstream.realtime.spec import EntityIndex, entity_indexes
from shopstream.realtime.transforms import Action, to_action

if TYPE_CHECKING:
    from shopstream.config import Settings

# counter slots of a worker (4 per worker in the shared array of a multi-process run)
DOCS, DEAD, BATCHES, DONE = 0, 1, 2, 3
SLOTS = 4


class Counters:
    """Plain counters for one in-process worker, or a view on the shared array of a worker process."""

    def __init__(self, shared: Any = None, slot: int = 0) -> None:
        self._shared = shared
        self._base = slot * SLOTS
        self.local = [0, 0, 0, 0]
        self.first_batch_at: float | None = None  # monotonic time the first batch was received

    def add(self, docs: int, dead: int) -> None:
        self.local[DOCS] += docs
        self.local[DEAD] += dead
        self.local[BATCHES] += 1
        if self._shared is not None:
            with self._shared.get_lock():
                self._shared[self._base + DOCS] += docs
                self._shared[self._base + DEAD] += dead
                self._shared[self._base + BATCHES] += 1

    def total_records(self) -> int:
        if self._shared is None:
            return self.local[DOCS] + self.local[DEAD]
        n = len(self._shared) // SLOTS
        return sum(self._shared[i * SLOTS + DOCS] + self._shared[i * SLOTS + DEAD] for i in range(n))


def consumer_config(settings: Settings, opts: RunOptions, worker: int) -> dict[str, Any]:
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


def worker_loop(
    settings: Settings,
    opts: RunOptions,
    worker: int,
    should_stop: Callable[[], bool],
    counters: Counters,
    contract: Contract | None = None,
) -> str:
    """Consume, index, commit until stopped; returns the stop reason."""
    # the Kafka C client loads only when a worker runs (not when the CLI starts)
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    contract = contract or load_contract()
    by_entity = {name: prefixed(idx, opts.index_prefix) for name, idx in entity_indexes(contract).items()}
    by_topic = {opts.topic_prefix + idx.topic: idx for idx in by_entity.values()}
    os_client = client(settings)
    consumer = Consumer(consumer_config(settings, opts, worker))
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
                fut = executor.submit(send_bulk, os_client, actions, by_entity, opts.bulk_retries)
                inflight.append((fut, offsets, len(actions)))
        settle()  # graceful end: the last batch is indexed and committed before leaving the group
    finally:
        executor.shutdown(wait=True)
        consumer.close()
    return reason


def prefixed(idx: EntityIndex, prefix: str) -> EntityIndex:
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
