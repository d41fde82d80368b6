"""Event-time clocks (integer microseconds since the epoch) and fast ISO-8601 formatting."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def parse_timestamp(text: str) -> int:
    """An ISO-8601 timestamp -> microseconds since the epoch (naive values are taken as UTC)."""
    try:
        dt = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO-8601 timestamp (e.g. 2026-11-24T10:00:00+00:00)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def wall_clock_us() -> int:
    return time.time_ns() // 1000


class SimulatedClock:
    """Event ``i`` happens at ``start + i * step``: reproducible event times for tests/backfills."""

    __slots__ = ("_next", "_step")

    def __init__(self, start_us: int, step_us: int) -> None:
        self._next = start_us
        self._step = step_us

    def __call__(self) -> int:
        t = self._next
        self._next = t + self._step
        return t


class TimestampFormatter:
    """Microseconds since the epoch -> ``2026-11-24T10:15:03.123456+00:00`` (per-second cache)."""

    __slots__ = ("_prefix", "_sec")

    def __init__(self) -> None:
        self._sec = -1
        self._prefix = ""

    def __call__(self, micros: int) -> str:
        sec, us = divmod(micros, 1_000_000)
        if sec != self._sec:
            self._sec = sec
            self._prefix = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        return f"{self._prefix}{us:06d}+00:00"
