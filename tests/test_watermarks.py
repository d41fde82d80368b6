"""The stream's watermark tracker (shopstream/ingest/watermarks.py) without Spark: when a batch's
watermark is written, that the write runs behind the batch, and that a failed write fails the
next batch (before it commits) instead of being lost."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest

from shopstream import config
from shopstream.ingest.params import StreamParams
from shopstream.ingest.watermarks import WatermarkTracker

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 24, 10, 0, 5, tzinfo=UTC)


def _tracker(tmp_path: Path, **params: Any) -> tuple[WatermarkTracker, list[tuple[int, bool]]]:
    """A tracker on an empty lake whose table writes are recorded (batch id, rewrite), not made."""
    settings = config.load("local")
    settings = settings.model_copy(update={"lake": settings.lake.model_copy(update={"root": str(tmp_path)})})
    tracker = WatermarkTracker(settings, {"users": 1}, StreamParams(**params))
    written: list[tuple[int, bool]] = []

    def commit(_spark: Any, _marks: Any, batch_id: int, _now: dt.datetime, rewrite: bool) -> None:
        written.append((batch_id, rewrite))

    tracker._commit = commit  # type: ignore[method-assign]
    return tracker, written


def test_written_first_when_the_hour_moves_and_every_n_seconds(tmp_path: Path) -> None:
    tracker, written = _tracker(tmp_path, lateness=dt.timedelta(0), watermark_every=dt.timedelta(seconds=30))
    t0 = dt.datetime(2026, 11, 24, 10, 59, 40, tzinfo=UTC)
    for i, (seconds, now) in enumerate(
        [
            (0, 0),  # the first: written (a rewrite of the table)
            (5, 5),  # moved within the hour, 5 s after the last write: not yet
            (25, 25),  # entered 11:00, 25 s after the last write: at once
            (30, 30),  # moved, 5 s: not yet
            (60, 60),  # moved, 35 s since the last write: written
            (60, 200),  # unchanged: never
        ]
    ):
        at = t0 + dt.timedelta(seconds=seconds)
        tracker.after_batch(None, [("users", 0, at)], i, t0 + dt.timedelta(seconds=now))  # type: ignore[arg-type]
        tracker.flush()
    assert written == [(0, True), (2, False), (4, False)]
    assert tracker.marks["users"].complete_until == t0 + dt.timedelta(seconds=60)


def test_a_batch_does_not_wait_for_its_watermark_write(tmp_path: Path) -> None:
    tracker, written = _tracker(tmp_path)
    release = threading.Event()

    def slow(_spark: Any, _marks: Any, batch_id: int, _now: dt.datetime, rewrite: bool) -> None:
        assert release.wait(30)
        written.append((batch_id, rewrite))

    tracker._commit = slow  # type: ignore[method-assign]
    assert tracker.after_batch(None, [("users", 0, T0)], 0, T0)  # type: ignore[arg-type]
    assert written == []  # returned while the write still runs
    tracker.check()  # nothing failed (yet): the next batch may commit
    release.set()
    tracker.flush()
    assert written == [(0, True)]


def test_a_failed_watermark_write_fails_the_next_batch(tmp_path: Path) -> None:
    tracker, _written = _tracker(tmp_path)

    def broken(*_args: Any) -> None:
        raise OSError("lake unavailable")

    tracker._commit = broken  # type: ignore[method-assign]
    tracker.after_batch(None, [("users", 0, T0)], 0, T0)  # type: ignore[arg-type]
    assert tracker._pending is not None
    tracker._pending.exception(timeout=30)  # the background write has failed by now
    with pytest.raises(OSError, match="lake unavailable"):
        tracker.check()  # what BatchWriter calls before a batch's first commit
