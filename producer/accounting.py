"""What a producer run counts: per-category delivery counters (live) and the run's summary."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from producer.chaos import MALFORMED_KINDS

if TYPE_CHECKING:
    from producer.options import ProduceOptions

# Record categories: each has its own delivery callback so acks are counted exactly per kind:
# users, orders, duplicates, then one per malformed kind.
USERS, ORDERS, DUPLICATES, MALFORMED0 = 0, 1, 2, 3
N_CATEGORIES = MALFORMED0 + len(MALFORMED_KINDS)


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


def by_category(counts: list[int]) -> dict[str, Any]:
    malformed = {k: counts[MALFORMED0 + i] for i, k in enumerate(MALFORMED_KINDS)}
    return {
        "users": counts[USERS],
        "orders": counts[ORDERS],
        "duplicates": counts[DUPLICATES],
        "malformed": malformed,
        "malformed_total": sum(malformed.values()),
        "total": sum(counts),
    }


def summarize(
    st: Stats,
    o: ProduceOptions,
    *,
    seed: int,
    topics: dict[str, str],
    config: dict[str, Any],
    users_made: int,
    orders_made: int,
) -> RunSummary:
    """The summary of a finished run (the client configuration without callbacks or secrets)."""
    failed_total = sum(st.failed) + st.unconfirmed

    def hourly(hours: dict[str, int]) -> dict[str, int]:
        return {f"{h}:00:00+00:00": c for h, c in sorted(hours.items())}

    by_hour = {"users": hourly(st.by_hour[USERS]), "orders": hourly(st.by_hour[ORDERS])}
    cfg = {k: v for k, v in config.items() if not callable(v) and "password" not in k and "secret" not in k}
    elapsed = st.elapsed
    return RunSummary(
        ok=failed_total == 0,
        exit_code=0 if failed_total == 0 else 1,
        seed=seed,
        topics=dict(topics),
        stop_reason=st.stop_reason,
        elapsed_seconds=round(elapsed, 3),
        acked_per_second=round(sum(st.acked) / elapsed, 1) if elapsed > 0 else 0.0,
        produced=by_category(st.produced),
        acked=by_category(st.acked),
        failed=by_category(st.failed),
        unconfirmed=st.unconfirmed,
        late={"users": st.late[USERS], "orders": st.late[ORDERS]},
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
