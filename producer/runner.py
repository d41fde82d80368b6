"""The producer loop: idempotent, keyed, accounted for.

* confluent-kafka with ``enable.idempotence=true`` and ``acks=all`` (librdkafka's defaults are
  not idempotent), lz4 batches (``linger.ms``/``batch.size`` tuned for throughput), bounded
  local queue (memory stays flat even when the broker is slow).
* key = ``user_id`` / ``order_id`` (decimal string); value = the contract's JSON event.
* A delivery callback per record category counts acked and failed; ``poll(0)`` after every
  send serves callbacks; ``BufferError`` (local queue full) is handled by polling until there
  is room.
* SIGTERM and Ctrl-C stop the loop and ``flush()`` (a second signal stops waiting), so every
  event counted as acked really is in Kafka; records still unconfirmed are reported.
* The summary (and ``--summary-json``) counts exactly what was produced, acked and failed per
  category, including every injected chaos record, and valid events per event-time hour.
"""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from producer.accounting import (
    DUPLICATES,
    MALFORMED0,
    N_CATEGORIES,
    ORDERS,
    USERS,
    RunSummary,
    Stats,
    summarize,
)
from producer.chaos import MALFORMED_KINDS, Chaos
from producer.clock import SimulatedClock, TimestampFormatter
from producer.generators import EventFactory
from producer.options import ProduceOptions, producer_config
from producer.schedule import LOOP_END, Schedule
from shopstream.contract import Contract, load_contract
from shopstream.errors import UsageError
from shopstream.kafka_admin import cluster_metadata, ensure_topics

if TYPE_CHECKING:
    from shopstream.config import Settings

CHUNK = 4096  # schedule decisions drawn at once
POLL_MASK = 31  # poll(0) after every 32nd send


@contextlib.contextmanager
def _signals(on_signal: Callable[[int], None]) -> Iterator[None]:
    """SIGINT/SIGTERM call ``on_signal`` instead of raising (main thread only)."""
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():  # signals can only be set there
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda s, _f: on_signal(s))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class ProducerRun:
    """One run of the simulation against Kafka. ``stats`` is live while ``run()`` works."""

    def __init__(
        self,
        options: ProduceOptions,
        settings: Settings,
        *,
        contract: Contract | None = None,
        bootstrap_servers: str | None = None,
    ) -> None:
        self.options = options.validate()
        self.settings = settings
        self.contract = contract or load_contract()
        self.bootstrap_servers = bootstrap_servers or settings.kafka.bootstrap_servers
        self.seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2**31)
        self.topics = {name: options.topic_prefix + ent.topic for name, ent in self.contract.entities.items()}
        self.config = producer_config(settings, options, self.bootstrap_servers)
        self.stats = Stats()
        self._stop = False
        self._abort_flush = False
        self._producer: Any = None
        self._factory: EventFactory | None = None

    # --- signals ----------------------------------------------------------------------------
    def request_stop(self, reason: str = "stopped") -> None:
        """Stop producing (idempotent); a second request also stops waiting for the flush."""
        if self._stop:
            self._abort_flush = True
            return
        self._stop = True
        if not self.stats.stop_reason:
            self.stats.stop_reason = reason

    def _on_signal(self, signum: int) -> None:
        self.request_stop(signal.Signals(signum).name)

    def _on_error(self, err: Any) -> None:
        name = err.name()
        self.stats.client_errors[name] = self.stats.client_errors.get(name, 0) + 1
        self.stats.last_client_error = err.str()
        if err.fatal():
            self.request_stop(f"fatal: {err.str()}")

    # --- the run ----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Build generators (Faker pools), check the client config, create topics if asked,
        check Kafka answers. No event is sent yet."""
        # here, not at the top: the C client (librdkafka) loads only when a run connects
        from confluent_kafka import KafkaException, Producer

        o = self.options
        self._factory = EventFactory(
            self.seed,
            self.contract,
            pool_size=o.pool_size,
            first_user_id=o.first_user_id,
            first_order_id=o.first_order_id,
        )
        cfg = dict(self.config)
        cfg["error_cb"] = self._on_error
        try:
            producer = Producer(cfg)
        except KafkaException as exc:
            raise UsageError(f"--producer-config: {exc.args[0].str()}") from None
        if o.create_topics:
            ensure_topics(
                self.settings,
                self.contract,
                topic_prefix=o.topic_prefix,
                bootstrap_servers=self.bootstrap_servers,
            )
        else:
            cluster_metadata(producer, self.bootstrap_servers, 10.0)
        self._producer = producer
        self.stats.queued = self._producer.__len__

    def run(self) -> RunSummary:
        if self._producer is None:
            self.prepare()
        with _signals(self._on_signal):
            try:
                self._loop()
            finally:
                self._flush()
        return self.summary()

    def _send_blocking(
        self, topic: str, value: str | bytes, key: str, cb: Callable[[Any, Any], None]
    ) -> bool:
        """Produce when the local queue is full: poll until there is room (or a stop)."""
        p = self._producer
        while True:
            p.poll(0.05)
            try:
                p.produce(topic, value, key, on_delivery=cb)
                return True
            except BufferError:
                if self._stop:
                    return False

    def _loop(self) -> None:
        o = self.options
        st = self.stats
        p = self._producer
        factory = self._factory
        assert factory is not None
        schedule = Schedule(
            self.seed,
            initial_users=o.initial_users,
            users_per_loop=o.users_per_loop,
            orders_per_user=o.effective_orders_per_user,
            ratio_order_user=o.ratio_order_user,
        )
        chaos = Chaos(
            self.seed,
            malformed=o.malformed,
            duplicates=o.duplicates,
            late=o.late,
            max_event_bytes=self.contract.max_event_bytes,
        )
        chaos_on = chaos.enabled
        chaos_rnd = chaos.rng.random
        late_ratio = o.late
        late_us = int(o.late_by * 1_000_000)
        # event time in ns: the wall clock, or start + i * step (--start-time)
        clock: Callable[[], int] = (
            SimulatedClock(o.start_time_us * 1000, max(1000, int(o.time_step * 1e9)))
            if o.start_time_us is not None
            else time.time_ns
        )
        fmt_late = TimestampFormatter()
        callbacks = [st.callback(i) for i in range(N_CATEGORIES)]
        produced = st.produced
        by_hour = st.by_hour
        # valid, on-time events are counted per hour lazily: at each hour change, the produced
        # counts since the last change go to the hour just finished (late ones are added directly)
        base = [0, 0]
        late = st.late
        routes = (
            (self.topics["users"], callbacks[USERS], factory.user),
            (self.topics["orders"], callbacks[ORDERS], factory.order),
        )
        produce, poll = p.produce, p.poll
        monotonic = time.monotonic
        count = o.count
        st.started = time.monotonic()
        deadline = None if o.duration is None else st.started + o.duration
        rate = o.rate
        msg_sleep, iter_sleep = o.inter_message_second, o.inter_iter_second
        paced = bool(rate or msg_sleep or iter_sleep)
        special = bool(paced or chaos_on or late_ratio)  # per-event work beyond the fast path
        t0 = monotonic()
        n = 0
        cur_sec = -1
        hour = ""
        prefix = ""

        def close_hour() -> None:
            if hour:
                for cat in (USERS, ORDERS):
                    on_time = produced[cat] - late[cat]
                    if on_time > base[cat]:
                        hours = by_hour[cat]
                        hours[hour] = hours.get(hour, 0) + on_time - base[cat]
                        base[cat] = on_time

        try:
            while not self._stop:
                want = CHUNK if count is None else min(CHUNK, count - n)
                if want <= 0:
                    st.stop_reason = st.stop_reason or "count"
                    break
                for k in schedule.chunk(want):
                    cat = k & 1
                    topic, cb, make = routes[cat]
                    t_ns = clock()
                    if late_ratio and chaos_rnd() < late_ratio:
                        is_late = True
                        ts = fmt_late((t_ns // 1000) - late_us)
                    else:
                        is_late = False
                        sec = t_ns // 1_000_000_000
                        if sec != cur_sec:
                            cur_sec = sec
                            prefix = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
                            if prefix[:13] != hour:
                                close_hour()
                                hour = prefix[:13]
                        ts = f"{prefix}{t_ns // 1000 % 1_000_000:06d}+00:00"
                    key, value = make(ts)
                    try:
                        produce(topic, value, key, -1, cb)
                    except BufferError:
                        if not self._send_blocking(topic, value, key, cb):
                            break
                    produced[cat] += 1
                    n += 1
                    if special:
                        if is_late:
                            late[cat] += 1
                            h = ts[:13]
                            hours = by_hour[cat]
                            hours[h] = hours.get(h, 0) + 1
                        if chaos_on:
                            self._inject(chaos, topic, key, value, cat, callbacks)
                        if paced:
                            if rate:
                                delay = t0 + n / rate - monotonic()
                                if delay > 0:
                                    self._sleep(delay)
                            if msg_sleep:
                                self._sleep(msg_sleep)
                            if iter_sleep and k & LOOP_END:
                                self._sleep(iter_sleep)
                            if self._stop or (deadline is not None and monotonic() >= deadline):
                                break
                    if not n & POLL_MASK:
                        poll(0)  # serve delivery callbacks (batched: every 32 sends)
                        if self._stop or (deadline is not None and monotonic() >= deadline):
                            break
                if deadline is not None and monotonic() >= deadline:
                    st.stop_reason = st.stop_reason or "duration"
                    break
        finally:
            close_hour()
        if not st.stop_reason:
            st.stop_reason = "stopped"

    def _inject(
        self,
        chaos: Chaos,
        topic: str,
        key: str,
        value: str,
        cat: int,
        callbacks: list[Callable[[Any, Any], None]],
    ) -> None:
        rnd = chaos.rng.random
        produced = self.stats.produced
        if chaos.duplicates:
            chaos.remember(topic, key, value, cat)
            if rnd() < chaos.duplicates:
                d_topic, d_key, d_value, _ = chaos.pick_duplicate()
                if self._send(d_topic, d_value, d_key, callbacks[DUPLICATES]):
                    produced[DUPLICATES] += 1
        if chaos.malformed and rnd() < chaos.malformed:
            kind = chaos.pick_kind()
            entity = "users" if cat == USERS else "orders"
            bad = chaos.malformed_value(kind, entity, value)
            idx = MALFORMED0 + MALFORMED_KINDS.index(kind)
            if self._send(topic, bad, key, callbacks[idx]):
                produced[idx] += 1

    def _send(self, topic: str, value: str | bytes, key: str, cb: Callable[[Any, Any], None]) -> bool:
        try:
            self._producer.produce(topic, value, key, on_delivery=cb)
            return True
        except BufferError:
            return self._send_blocking(topic, value, key, cb)

    def _sleep(self, seconds: float) -> None:
        """Sleep while serving delivery callbacks; returns early on a stop request."""
        end = time.monotonic() + seconds
        poll = self._producer.poll
        while not self._stop:
            left = end - time.monotonic()
            if left <= 0:
                return
            poll(min(left, 0.1))

    def _flush(self) -> None:
        p = self._producer
        if p is None:
            return
        deadline = time.monotonic() + self.options.flush_timeout
        while len(p) > 0 and not self._abort_flush:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            p.flush(min(left, 0.5))
        self.stats.unconfirmed = len(p)
        self.stats.finished = time.monotonic()

    def summary(self) -> RunSummary:
        factory = self._factory
        return summarize(
            self.stats,
            self.options,
            seed=self.seed,
            topics=self.topics,
            config=self.config,
            users_made=factory.users_created if factory else 0,
            orders_made=(factory.next_order_id - self.options.first_order_id) if factory else 0,
        )


def run(
    options: ProduceOptions,
    settings: Settings,
    *,
    contract: Contract | None = None,
    bootstrap_servers: str | None = None,
) -> RunSummary:
    """Validate, connect, produce, flush; return the summary (library entry point)."""
    return ProducerRun(options, settings, contract=contract, bootstrap_servers=bootstrap_servers).run()
