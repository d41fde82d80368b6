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
import json
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from producer.chaos import MALFORMED_KINDS, Chaos
from producer.clock import SimulatedClock, TimestampFormatter
from producer.generators import DEFAULT_POOL_SIZE, EventFactory
from producer.schedule import LOOP_END, Schedule
from shopstream.contract import Contract, load_contract

if TYPE_CHECKING:
    from shopstream.config import Settings

# Record categories: each has its own delivery callback so acks are counted exactly per kind.
# delivery counters by category: users, orders, duplicates, then one per malformed kind
_USERS, _ORDERS, _DUPLICATES, _MALFORMED0 = 0, 1, 2, 3
N_CATEGORIES = _MALFORMED0 + len(MALFORMED_KINDS)
CHUNK = 4096  # schedule decisions drawn at once
POLL_MASK = 31  # poll(0) after every 32nd send

PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "compression.type": "lz4",
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "batch.num.messages": 10_000,
    "queue.buffering.max.messages": 200_000,
    "queue.buffering.max.kbytes": 131_072,
    "message.timeout.ms": 120_000,
    "client.id": "shopstream-producer",
}
# settings a user may not override: they are what makes delivery idempotent and accounted
PROTECTED_CONFIG = ("enable.idempotence", "acks", "bootstrap.servers", "on_delivery", "error_cb")


class OptionError(ValueError):
    """An invalid option; the message starts with the flag and is one line."""


@dataclass
class ProduceOptions:
    """Everything that shapes a run. ``validate()`` before connecting to anything."""

    count: int | None = None
    duration: float | None = None
    rate: float | None = None
    orders_per_user: float | None = None
    ratio_order_user: float | None = None
    initial_users: int = 100
    users_per_loop: int = 10
    inter_message_second: float = 0.0
    inter_iter_second: float = 0.0
    seed: int | None = None
    malformed: float = 0.0
    duplicates: float = 0.0
    late: float = 0.0
    late_by: float = 7200.0
    start_time_us: int | None = None
    time_step: float = 0.001
    first_user_id: int = 1
    first_order_id: int = 1
    topic_prefix: str = ""
    pool_size: int = DEFAULT_POOL_SIZE
    producer_config: dict[str, str] = field(default_factory=dict)
    create_topics: bool = True
    flush_timeout: float = 130.0

    DEFAULT_ORDERS_PER_USER = 3.0

    def validate(self) -> ProduceOptions:
        def bad(flag: str, msg: str) -> OptionError:
            return OptionError(f"{flag}: {msg}")

        def finite(flag: str, v: float | None) -> None:
            if v is not None and not math.isfinite(v):
                raise bad(flag, f"must be a finite number, got {v}")

        for flag, v in (
            ("--duration", self.duration),
            ("--rate", self.rate),
            ("--orders-per-user", self.orders_per_user),
            ("--ratio-order-user", self.ratio_order_user),
            ("--inter-message-second", self.inter_message_second),
            ("--inter-iter-second", self.inter_iter_second),
            ("--late-by", self.late_by),
            ("--time-step", self.time_step),
        ):
            finite(flag, v)
        if self.count is not None and self.count < 0:
            raise bad("--count", f"must be >= 0, got {self.count}")
        if self.duration is not None and self.duration <= 0:
            raise bad("--duration", f"must be > 0, got {self.duration:g}s")
        if self.rate is not None and self.rate <= 0:
            raise bad("--rate", f"must be > 0 events/s, got {self.rate:g}")
        if self.orders_per_user is not None and self.ratio_order_user is not None:
            raise bad("--orders-per-user", "give either --orders-per-user or --ratio-order-user, not both")
        if self.orders_per_user is not None and self.orders_per_user < 0:
            raise bad("--orders-per-user", f"must be >= 0, got {self.orders_per_user:g}")
        if self.ratio_order_user is not None and self.ratio_order_user < 0:
            raise bad("--ratio-order-user", f"must be >= 0, got {self.ratio_order_user:g}")
        if self.initial_users < 0:
            raise bad("--initial-users", f"must be >= 0, got {self.initial_users}")
        if self.users_per_loop < 0:
            raise bad("--users-per-loop", f"must be >= 0, got {self.users_per_loop}")
        if self.initial_users == 0 and self.users_per_loop == 0:
            raise bad("--users-per-loop", "no user would ever be produced (--initial-users is 0 too)")
        if self.users_per_loop == 0 and self.ratio_order_user is None:
            raise bad("--users-per-loop", "0 makes every loop empty; use --ratio-order-user for orders only")
        for flag, v in (
            ("--inter-message-second", self.inter_message_second),
            ("--inter-iter-second", self.inter_iter_second),
        ):
            if v < 0:
                raise bad(flag, f"must be >= 0 seconds, got {v:g}")
        for flag, v in (
            ("--malformed", self.malformed),
            ("--duplicates", self.duplicates),
            ("--late", self.late),
        ):
            if not math.isfinite(v) or not 0.0 <= v <= 1.0:
                raise bad(flag, f"ratio must be within [0, 1], got {v:g}")
        if self.late_by <= 0:
            raise bad("--late-by", f"must be > 0, got {self.late_by:g}s")
        if self.time_step <= 0:
            raise bad("--time-step", f"must be > 0, got {self.time_step:g}s")
        if self.first_user_id < 1:
            raise bad("--first-user-id", f"must be >= 1, got {self.first_user_id}")
        if self.first_order_id < 1:
            raise bad("--first-order-id", f"must be >= 1, got {self.first_order_id}")
        if self.pool_size < 1:
            raise bad("--pool-size", f"must be >= 1, got {self.pool_size}")
        if self.flush_timeout <= 0:
            raise bad("--flush-timeout", f"must be > 0, got {self.flush_timeout:g}s")
        if self.topic_prefix and not all(c.isalnum() or c in "._-" for c in self.topic_prefix):
            raise bad(
                "--topic-prefix", f"only letters, digits, '.', '_' and '-' allowed, got {self.topic_prefix!r}"
            )
        for key in self.producer_config:
            if key in PROTECTED_CONFIG:
                raise bad(
                    "--producer-config", f"{key} cannot be overridden (idempotent delivery depends on it)"
                )
        return self

    @property
    def effective_orders_per_user(self) -> float | None:
        if self.ratio_order_user is not None:
            return None
        return self.DEFAULT_ORDERS_PER_USER if self.orders_per_user is None else self.orders_per_user


class Stats:
    """Live counters (read by the progress display from another thread; plain ints)."""

    def __init__(self) -> None:
        n = N_CATEGORIES
        self.produced = [0] * n
        self.acked = [0] * n
        self.failed = [0] * n
        self.late = [0, 0]
        self.delivery_errors: dict[str, int] = {}
        self.client_errors: dict[str, int] = {}
        self.last_client_error = ""
        self.by_hour: tuple[dict[str, int], dict[str, int]] = ({}, {})
        self.started = time.monotonic()
        self.finished: float | None = None
        self.stop_reason = ""
        self.unconfirmed = 0
        self.queued: Callable[[], int] = lambda: 0

    def callback(self, category: int) -> Callable[[Any, Any], None]:
        acked, failed, errors = self.acked, self.failed, self.delivery_errors

        def on_delivery(err: Any, _msg: Any) -> None:
            if err is None:
                acked[category] += 1
            else:
                failed[category] += 1
                name = err.name()
                errors[name] = errors.get(name, 0) + 1

        return on_delivery

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started


@dataclass
class RunSummary:
    ok: bool
    exit_code: int
    seed: int
    topics: dict[str, str]
    stop_reason: str
    elapsed_seconds: float
    acked_per_second: float
    produced: dict[str, Any]
    acked: dict[str, Any]
    failed: dict[str, Any]
    unconfirmed: int
    late: dict[str, int]
    late_by_seconds: float
    produced_valid_by_hour: dict[str, dict[str, int]]
    ids: dict[str, int | None]
    delivery_errors: dict[str, int]
    client_errors: dict[str, int]
    producer_config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write_json(self, path: str | Path) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        tmp.replace(p)


def _by_category(counts: list[int]) -> dict[str, Any]:
    malformed = {k: counts[_MALFORMED0 + i] for i, k in enumerate(MALFORMED_KINDS)}
    return {
        "users": counts[_USERS],
        "orders": counts[_ORDERS],
        "duplicates": counts[_DUPLICATES],
        "malformed": malformed,
        "malformed_total": sum(malformed.values()),
        "total": sum(counts),
    }


def producer_config(
    settings: Settings, options: ProduceOptions, bootstrap_servers: str | None = None
) -> dict[str, Any]:
    """The librdkafka configuration of a run (defaults, then ``--producer-config`` overrides)."""
    from shopstream.kafka_admin import client_config

    cfg = {**client_config(settings, bootstrap_servers), **PRODUCER_DEFAULTS}
    cfg.update(options.producer_config)
    return cfg


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
        from confluent_kafka import KafkaException, Producer

        from shopstream.errors import UsageError
        from shopstream.kafka_admin import KafkaAdminError, ensure_topics

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
            try:
                producer.list_topics(timeout=10)
            except KafkaException as exc:
                raise KafkaAdminError(
                    f"Kafka at {self.bootstrap_servers} did not answer within 10s ({exc.args[0]})"
                ) from None
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
            (self.topics["users"], callbacks[_USERS], factory.user),
            (self.topics["orders"], callbacks[_ORDERS], factory.order),
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
                for cat in (_USERS, _ORDERS):
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
                if self._send(d_topic, d_value, d_key, callbacks[_DUPLICATES]):
                    produced[_DUPLICATES] += 1
        if chaos.malformed and rnd() < chaos.malformed:
            kind = chaos.pick_kind()
            entity = "users" if cat == _USERS else "orders"
            bad = chaos.malformed_value(kind, entity, value)
            idx = _MALFORMED0 + MALFORMED_KINDS.index(kind)
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
        st = self.stats
        o = self.options
        failed_total = sum(st.failed) + st.unconfirmed
        factory = self._factory
        users_made = factory.users_created if factory else 0
        orders_made = (factory.next_order_id - o.first_order_id) if factory else 0

        def hourly(hours: dict[str, int]) -> dict[str, int]:
            return {f"{h}:00:00+00:00": c for h, c in sorted(hours.items())}

        by_hour = {"users": hourly(st.by_hour[_USERS]), "orders": hourly(st.by_hour[_ORDERS])}
        cfg = {
            k: v
            for k, v in self.config.items()
            if not callable(v) and "password" not in k and "secret" not in k
        }
        elapsed = st.elapsed
        return RunSummary(
            ok=failed_total == 0,
            exit_code=0 if failed_total == 0 else 1,
            seed=self.seed,
            topics=dict(self.topics),
            stop_reason=st.stop_reason,
            elapsed_seconds=round(elapsed, 3),
            acked_per_second=round(sum(st.acked) / elapsed, 1) if elapsed > 0 else 0.0,
            produced=_by_category(st.produced),
            acked=_by_category(st.acked),
            failed=_by_category(st.failed),
            unconfirmed=st.unconfirmed,
            late={"users": st.late[_USERS], "orders": st.late[_ORDERS]},
            late_by_seconds=o.late_by,
            produced_valid_by_hour=by_hour,
            ids={
                "first_user_id": o.first_user_id,
                "last_user_id": o.first_user_id + users_made - 1 if users_made else None,
                "first_order_id": o.first_order_id,
                "last_order_id": o.first_order_id + orders_made - 1 if orders_made else None,
            },
            delivery_errors=dict(st.delivery_errors),
            client_errors=dict(st.client_errors),
            producer_config=cfg,
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
