"""What shapes a producer run: the options (validated before anything connects) and the
librdkafka configuration built from them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from producer.generators import DEFAULT_POOL_SIZE
from shopstream.kafka_admin import client_config

if TYPE_CHECKING:
    from shopstream.config import Settings

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


def producer_config(
    settings: Settings, options: ProduceOptions, bootstrap_servers: str | None = None
) -> dict[str, Any]:
    """The librdkafka configuration of a run (defaults, then ``--producer-config`` overrides)."""

    cfg = {**client_config(settings, bootstrap_servers), **PRODUCER_DEFAULTS}
    cfg.update(options.producer_config)
    return cfg
