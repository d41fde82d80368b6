"""The bounded recount's plan (shopstream/recount.py): which Kafka offsets can hold an hour (no engine)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shopstream.recount import Mark, Window, plan_ranges, plan_windows

HOUR = datetime(2026, 11, 24, 10, tzinfo=UTC)
MIN = 60_000


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def test_windows_merge_neighbours_and_keep_a_late_arrival_apart() -> None:
    t0 = _ms(datetime(2026, 11, 28, 3, tzinfo=UTC))  # a backfill: arrived days after its event time
    marks = [
        Mark(0, t0, t0 + 4 * MIN, 0, 99),
        Mark(1, t0 + 6 * MIN, t0 + 9 * MIN, 0, 50),  # 2 min after the first: one window
        Mark(2, t0 + 5 * 60 * MIN, t0 + 5 * 60 * MIN, 7, 7),  # a late event 5 h later: its own window
    ]
    w = plan_windows(HOUR, marks, timedelta(minutes=5), timedelta(minutes=10))
    nominal = (_ms(HOUR) - 5 * MIN, _ms(HOUR + timedelta(minutes=75)))
    assert [(x.start_ms, x.end_ms) for x in w] == [
        nominal,
        (t0 - 5 * MIN, t0 + 14 * MIN + 1),
        (t0 + 295 * MIN, t0 + 305 * MIN + 1),
    ]
    assert [len(x.marks) for x in w] == [0, 2, 1]


def test_every_partition_is_read_in_every_window_and_idle_ones_cost_nothing() -> None:
    """Partition 2 holds nothing of the hour in bronze but is still read in both windows;
    partition 1 has no record after the first window (-1: the range ends at its high mark)."""
    windows = [Window(1_000, 2_000), Window(9_000, 10_000)]
    answers = {
        1_000: {0: 10, 1: 5, 2: 100},
        2_000: {0: 20, 1: 5, 2: 130},
        9_000: {0: 80, 1: -1, 2: 400},
        10_000: {0: 90, 1: -1, 2: -1},
    }
    ranges = plan_ranges(windows, {0: (0, 500), 1: (0, 5), 2: (50, 410)}, answers.__getitem__)
    assert ranges == {0: [(10, 20), (80, 90)], 2: [(100, 130), (400, 410)]}


def test_bronze_positions_stretch_a_range_and_overlaps_merge() -> None:
    """Producer timestamps are only roughly ordered: a bronze row at offset 25 with a timestamp
    inside the window stretches the range past Kafka's answer; overlapping ranges merge."""
    mark = Mark(0, 1_500, 1_600, 12, 25)
    windows = [Window(1_000, 2_000, (mark,)), Window(2_100, 3_000)]
    answers = {1_000: {0: 12}, 2_000: {0: 20}, 2_100: {0: 22}, 3_000: {0: 30}}
    assert plan_ranges(windows, {0: (0, 100)}, answers.__getitem__) == {0: [(12, 30)]}


def test_ranges_stay_inside_what_the_partition_still_holds() -> None:
    """Retention deleted the start of the log: the range starts at the low watermark."""
    mark = Mark(0, 1_500, 1_600, 3, 8)
    ranges = plan_ranges([Window(1_000, 2_000, (mark,))], {0: (5, 50)}, lambda _t: {0: -1})
    assert ranges == {0: [(5, 50)]}
