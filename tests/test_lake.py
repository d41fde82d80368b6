"""shopstream.lake without engines: paths, --as-of / --hour parsing, and the light Delta log reader."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from shopstream import lake, time_travel

UTC = dt.UTC


def _settings(root: str):  # type: ignore[no-untyped-def]
    from shopstream import config

    s = config.load("local")
    return s.model_copy(update={"lake": s.lake.model_copy(update={"root": root})})


def test_layout_paths() -> None:
    s = _settings("s3a://lake-bucket/bronze-root/")
    assert lake.bronze_path(s, "users") == "s3a://lake-bucket/bronze-root/bronze/users"
    assert lake.quarantine_path(s) == "s3a://lake-bucket/bronze-root/quarantine"
    assert lake.watermarks_path(s) == "s3a://lake-bucket/bronze-root/_watermarks"
    assert lake.checkpoint_path(s) == "s3a://lake-bucket/bronze-root/_checkpoints/bronze"
    assert lake.table_path(s, "bronze.orders") == lake.bronze_path(s, "orders")
    assert lake.table_path(s, "watermarks") == lake.watermarks_path(s)
    with pytest.raises(
        lake.LakeError, match="unknown table 'x'; allowed: users, orders, quarantine, watermarks"
    ):
        lake.table_path(s, "x")


def test_as_of_and_hour_parsing() -> None:
    assert time_travel.AsOf.parse("7") == time_travel.AsOf(version=7)
    assert time_travel.AsOf.parse("2026-11-24T10:00:00Z") == time_travel.AsOf(
        timestamp=dt.datetime(2026, 11, 24, 10, tzinfo=UTC)
    )
    assert time_travel.AsOf.parse("2026-11-24T19:00:00+09:00").options() == {
        "timestampAsOf": "2026-11-24 10:00:00.000000"
    }
    assert time_travel.AsOf.parse(None) is None
    with pytest.raises(lake.LakeError):
        time_travel.AsOf.parse("-1")
    assert time_travel.parse_hour_filter("2026-11-24T09") == (dt.date(2026, 11, 24), 9)
    assert time_travel.parse_hour_filter("23") == (None, 23)
    for bad in ("24", "2026-13-01T01", "noon"):
        with pytest.raises(lake.LakeError):
            time_travel.parse_hour_filter(bad)


def _write(path: Path, rows: list[int], app: str | None = None, batch: int = 0) -> None:
    import pyarrow as pa
    from deltalake import CommitProperties, Transaction, write_deltalake

    txns = [Transaction(app, batch)] if app else []
    write_deltalake(
        str(path),
        pa.table({"n": rows}),
        mode="append",
        commit_properties=CommitProperties(app_transactions=txns),
    )


def _stream_checkpoint(settings, query_id: str) -> None:  # type: ignore[no-untyped-def]
    cp = Path(lake.checkpoint_path(settings))
    cp.mkdir(parents=True)
    (cp / "metadata").write_text(json.dumps({"id": query_id}) + "\n")


def test_delta_reads_go_through_delta_rs(tmp_path: Path) -> None:
    """snapshot / history / versions of a real Delta table (written by delta-rs), at every version."""
    from deltalake import DeltaTable

    s = _settings(str(tmp_path / "lake"))
    t = Path(lake.bronze_path(s, "users"))
    app = lake.app_id(lake.STREAM_QUERY, "q-1")
    _write(t, [1, 2], app, 0)  # v0
    _write(t, [3, 4, 5], app, 1)  # v1
    _write(t, [6], app, 2)  # v2
    DeltaTable(str(t)).optimize.compact()  # v3: one file replaces three
    assert lake.stream_app_id(s) is None  # no checkpoint yet: the stream's writes are not known
    assert lake.snapshot(s, str(t)).txns == {}
    _stream_checkpoint(s, "q-1")
    assert lake.stream_app_id(s) == app
    snap = lake.snapshot(s, str(t))
    assert snap.version == 3 and snap.num_records == 6 and len(snap.files) == 1 and snap.txns == {app: 2}
    old = lake.snapshot(s, str(t), 1)
    assert old.version == 1 and old.num_records == 5 and len(old.files) == 2 and old.txns == {app: 1}
    assert lake.versions(s, str(t)) == [0, 1, 2, 3]
    hist = lake.history(s, str(t))
    assert [h["version"] for h in hist] == [3, 2, 1, 0]
    assert [h["operation"] for h in hist][:2] == ["OPTIMIZE", "WRITE"]
    assert hist[0]["timestamp"] > hist[1]["timestamp"] > hist[2]["timestamp"]  # strictly increasing
    assert [h["version"] for h in lake.history(s, str(t), limit=2)] == [3, 2]
    with pytest.raises(lake.LakeError, match=re.escape("version 9 does not exist; available versions: 0..3")):
        lake.snapshot(s, str(t), 9)
    with pytest.raises(lake.LakeError, match="not a Delta table"):
        lake.snapshot(s, str(tmp_path / "missing"))


def test_reads_start_at_the_checkpoint(tmp_path: Path) -> None:
    """With a checkpoint, the commits before it are not needed (their log files may be gone): the
    reads cost the checkpoint plus the commits after it, whatever the table's age."""
    from deltalake import DeltaTable

    t = tmp_path / "t"
    for i in range(6):
        _write(t, [i])
    DeltaTable(str(t)).create_checkpoint()  # at v5
    _write(t, [6])  # v6
    for v in range(5):
        (t / "_delta_log" / f"{v:020d}.json").unlink()
    snap = lake.snapshot(None, str(t))
    assert snap.version == 6 and snap.num_records == 7
    assert lake.snapshot(None, str(t), 5).num_records == 6
    assert [h["version"] for h in lake.history(None, str(t), limit=1)] == [6]
    assert lake.versions(None, str(t))[-1] == 6
    with pytest.raises(lake.LakeError, match="version 2 does not exist"):
        lake.snapshot(None, str(t), 2)


def test_watermark_is_none_without_a_lake(tmp_path: Path) -> None:
    s = _settings(str(tmp_path / "lake"))
    assert lake.watermarks(s) == {}
    assert lake.watermark(s, "users") is None
    assert lake.hour_is_closed(s, "users", dt.datetime(2026, 11, 24, 9)) is False


def test_hour_file_stats_counts_rows_per_event_hour_from_file_stats(tmp_path: Path) -> None:
    import pyarrow as pa
    from deltalake import write_deltalake

    t = tmp_path / "orders"
    d = dt.date(2026, 11, 24)
    rows = pa.table(
        {
            "n": list(range(6)),
            "event_date": [d] * 6,
            "event_hour": pa.array([9, 10, 10, 10, 11, 11], pa.int32()),
        }
    )
    write_deltalake(str(t), rows, partition_by=["event_date", "event_hour"])
    write_deltalake(str(t), rows.slice(1, 2), mode="append", partition_by=["event_date", "event_hour"])
    hour = dt.datetime(2026, 11, 24, 10, tzinfo=UTC)
    got = lake.hour_file_stats(None, str(t), hour, hour + dt.timedelta(hours=2))
    assert got == {hour: 5, hour + dt.timedelta(hours=1): 2}  # hour 9 is outside [start, end)
    assert lake.hour_file_stats(None, str(tmp_path / "missing"), hour, hour) == {}
