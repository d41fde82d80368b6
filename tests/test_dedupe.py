"""The stream's dedupe index (shopstream.ingest.dedupe): what it remembers, for how long, and which
copies of a batch it drops. The stream tests (test_stream_ingest, test_stream_crash) run it
against Kafka and Delta; these pin its rules on small inputs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.ingest.dedupe import RecentIds

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


def ids(*values: int) -> tuple[np.ndarray, np.ndarray]:
    hi = np.array(values, dtype=np.int64)
    return hi, hi * 7 + 1


def test_an_id_is_seen_for_the_window_and_forgotten_within_a_bucket_after() -> None:
    recent = RecentIds(dt.timedelta(minutes=10))
    recent.add(*ids(1, 2, 3), T0)
    recent.add(*ids(4), T0 + dt.timedelta(minutes=5))
    assert recent.seen(*ids(1, 4, 5)).tolist() == [True, True, False]
    recent.expire(T0 + dt.timedelta(minutes=10))  # exactly the window: still remembered
    assert recent.seen(*ids(1, 2, 3, 4)).all() and len(recent) == 4
    assert recent.expire(T0 + dt.timedelta(minutes=11, seconds=1)) == 3  # its bucket ended
    assert recent.seen(*ids(1, 4)).tolist() == [False, True] and len(recent) == 1


def test_both_hashes_must_match() -> None:
    """A 64-bit collision of the first hash alone is not a copy."""
    recent = RecentIds(dt.timedelta(hours=1))
    hi = np.array([5, 5, 9], dtype=np.int64)  # two ids sharing the first hash
    recent.add(hi, np.array([50, 51, 90], dtype=np.int64), T0)
    got = recent.seen(np.array([5, 5, 5, 9], dtype=np.int64), np.array([51, 50, 52, 91], dtype=np.int64))
    assert got.tolist() == [True, True, False, False]


def test_many_batches_stay_found_after_their_chunks_are_merged() -> None:
    rng = np.random.default_rng(7)
    recent = RecentIds(dt.timedelta(hours=1))
    batches = [rng.integers(-(2**63), 2**63 - 1, size=500, dtype=np.int64) for _ in range(80)]
    for i, hi in enumerate(batches):
        recent.add(hi, ~hi, T0 + dt.timedelta(seconds=i))
    every = np.concatenate(batches)
    assert recent.seen(every, ~every).all() and len(recent) == every.size
    others = rng.integers(-(2**63), 2**63 - 1, size=2000, dtype=np.int64)
    assert not recent.seen(others, ~others).any()


def test_a_zero_window_remembers_nothing() -> None:
    recent = RecentIds(dt.timedelta(0))
    recent.add(*ids(1), T0)
    assert not recent.seen(*ids(1)).any()


@settings(max_examples=200, deadline=None)
@given(
    window_s=st.integers(min_value=1, max_value=3600),
    adds=st.lists(
        st.tuples(
            st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=20),
            st.integers(min_value=0, max_value=7200),
        ),
        max_size=30,
    ),
    probes=st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=20),
    later_s=st.integers(min_value=0, max_value=7200),
)
def test_the_index_agrees_with_a_set_of_timed_ids(window_s, adds, probes, later_s) -> None:  # type: ignore[no-untyped-def]
    """Against a plain model: an id added at t is seen at `now` if now - t <= window, not seen
    once now - t exceeds the window by a bucket, and an id never added is never seen."""
    window = dt.timedelta(seconds=window_s)
    recent = RecentIds(window)
    landed: dict[int, dt.datetime] = {}  # id -> the latest time it was added
    for values, at_s in sorted(adds, key=lambda a: a[1]):
        at = T0 + dt.timedelta(seconds=at_s)
        hi = np.array(values, dtype=np.int64)
        recent.add(hi, ~hi, at)
        landed.update({v: at for v in values})
    now = T0 + dt.timedelta(seconds=max([a[1] for a in adds], default=0) + later_s)
    recent.expire(now)
    asked = sorted(set(landed) | set(probes))
    hi = np.array(asked, dtype=np.int64)
    got = dict(zip(asked, recent.seen(hi, ~hi).tolist(), strict=True))
    for v in asked:
        if v not in landed:
            assert not got[v]
        elif now - landed[v] <= window:
            assert got[v], (v, landed[v], now)
        elif now - landed[v] > window + recent.width:
            assert not got[v], (v, landed[v], now)
    # the second hash must match too: the same first hashes with another second are never seen
    assert not recent.seen(hi, hi ^ 1).any() or not len(hi)


@pytest.mark.slow
def test_a_batch_keeps_the_earliest_copy_and_drops_what_landed_before(spark) -> None:  # type: ignore[no-untyped-def]
    """batch_ids over a batch's collected rows: valid rows only, earliest (partition, offset) per
    id, ids landed before dropped; the same entity:event_id hashes as a bronze row's (rebuild).
    The same collect gives the summary: counts and max event time per (entity, ok, hour, partition)."""
    from pyspark.sql import Row
    from pyspark.sql import functions as F

    from shopstream.ingest.dedupe import batch_ids, id_hashes, without_positions
    from shopstream.ingest.writer import SummaryRow, batch_summary, collect_batch, facts_columns

    def row(entity: str | None, event_id: str, part: int, off: int, ok: bool = True, minute: int = 0) -> Row:
        ev = Row(event_id=event_id)
        t = T0 + dt.timedelta(minutes=minute)
        return Row(
            entity=entity,
            kafka_topic=f"t.{entity}",
            kafka_partition=part,
            kafka_offset=off,
            errors=[] if ok else ["bad"],
            event_users=ev if entity == "users" else None,
            event_orders=ev if entity == "orders" else None,
            event_time=t if ok else None,
            event_date=t.date() if ok else None,
            event_hour=t.hour if ok else None,
        )

    rows = [
        row("users", "a", 1, 5, minute=3),
        row("users", "a", 0, 9),  # the earliest copy: partition 0 first
        row("users", "b", 2, 1),
        row("orders", "a", 2, 2),  # another entity: not a copy of users:a
        row("users", "c", 0, 3, ok=False),  # invalid: never deduplicated
        row("users", "c", 0, 4, ok=False),
        row("users", "old", 1, 7, minute=7),
        row(None, "x", 0, 11, ok=False),  # a topic no entity maps
    ]
    schema = (
        "entity string, kafka_topic string, kafka_partition int, kafka_offset bigint, errors array<string>, "
        "event_users struct<event_id:string>, event_orders struct<event_id:string>, event_time timestamp, "
        "event_date date, event_hour int"
    )
    df = spark.createDataFrame(rows, schema)
    landed = spark.createDataFrame([("old",)], "event_id string")
    hi, lo = id_hashes(F.lit("users"), F.col("event_id"))  # as the rebuild hashes a bronze row
    old = landed.select(hi.alias("hi"), lo.alias("lo")).collect()[0]
    recent = RecentIds(dt.timedelta(hours=1))
    recent.add(np.array([old.hi], np.int64), np.array([old.lo], np.int64), T0)

    facts = collect_batch(df, facts_columns(["orders", "users"]))
    assert facts is not None
    got = batch_ids(facts.filter(facts.column("ok")), recent)
    assert sorted(got.dropped_positions()) == [("t.users", 1, 5), ("t.users", 1, 7)]
    assert got.duplicates == 2 and len(got.kept()[0]) == 3
    left = without_positions(df, got.dropped_positions())
    assert sorted((r.kafka_partition, r.kafka_offset) for r in left.collect()) == [
        (0, 3),
        (0, 4),
        (0, 9),
        (0, 11),
        (2, 1),
        (2, 2),
    ]
    assert without_positions(df, []) is df

    day, hour = T0.date(), T0.hour
    summary = sorted(batch_summary(facts), key=lambda r: (str(r.entity), r.ok, r.kafka_partition))
    assert summary == [
        SummaryRow(None, False, None, None, 0, 1, None),
        SummaryRow("orders", True, day, hour, 2, 1, T0),
        SummaryRow("users", False, None, None, 0, 2, None),
        SummaryRow("users", True, day, hour, 0, 1, T0),
        SummaryRow("users", True, day, hour, 1, 2, T0 + dt.timedelta(minutes=7)),
        SummaryRow("users", True, day, hour, 2, 1, T0),
    ]
    assert batch_summary(None) == [] and batch_ids(None, recent).duplicates == 0
