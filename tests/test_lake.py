"""shopstream.lake without engines: paths, --as-of / --hour parsing, and the light Delta log reader."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from shopstream import lake

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
    assert lake.AsOf.parse("7") == lake.AsOf(version=7)
    assert lake.AsOf.parse("2026-11-24T10:00:00Z") == lake.AsOf(
        timestamp=dt.datetime(2026, 11, 24, 10, tzinfo=UTC)
    )
    assert lake.AsOf.parse("2026-11-24T19:00:00+09:00").options() == {
        "timestampAsOf": "2026-11-24 10:00:00.000000"
    }
    assert lake.AsOf.parse(None) is None
    with pytest.raises(lake.LakeError):
        lake.AsOf.parse("-1")
    assert lake.parse_hour_filter("2026-11-24T09") == (dt.date(2026, 11, 24), 9)
    assert lake.parse_hour_filter("23") == (None, 23)
    for bad in ("24", "2026-13-01T01", "noon"):
        with pytest.raises(lake.LakeError):
            lake.parse_hour_filter(bad)


def _commit(log: Path, version: int, *actions: dict) -> None:  # type: ignore[type-arg]
    log.mkdir(parents=True, exist_ok=True)
    (log / f"{version:020d}.json").write_text("\n".join(json.dumps(a) for a in actions) + "\n")


def test_light_reader_replays_the_log(tmp_path: Path) -> None:
    t = tmp_path / "t"
    log = t / "_delta_log"
    _commit(
        log,
        0,
        {"commitInfo": {"operation": "CREATE TABLE", "timestamp": 1}},
        {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
        {"metaData": {"id": "x", "partitionColumns": []}},
    )
    _commit(
        log,
        1,
        {"commitInfo": {"operation": "WRITE", "operationMetrics": {"numOutputRows": "5"}}},
        {"txn": {"appId": "a", "version": 3}},
        {"add": {"path": "f1.parquet", "stats": json.dumps({"numRecords": 5})}},
    )
    _commit(
        log,
        2,
        {"commitInfo": {"operation": "OPTIMIZE"}},
        {"remove": {"path": "f1.parquet"}},
        {"add": {"path": "f2.parquet", "stats": json.dumps({"numRecords": 5})}},
    )
    assert lake.versions(None, str(t)) == [0, 1, 2]
    snap = lake.snapshot(None, str(t))
    assert list(snap.files) == ["f2.parquet"] and snap.num_records == 5 and snap.txns == {"a": 3}
    assert list(lake.snapshot(None, str(t), 1).files) == ["f1.parquet"]
    hist = lake.history(None, str(t))
    assert [h["operation"] for h in hist] == ["OPTIMIZE", "WRITE", "CREATE TABLE"]
    assert hist[0]["timestamp"] > hist[1]["timestamp"] > hist[2]["timestamp"]  # strictly increasing
    with pytest.raises(lake.LakeError, match="version 9 does not exist"):
        lake.snapshot(None, str(t), 9)
    with pytest.raises(lake.LakeError, match="not a Delta table"):
        lake.snapshot(None, str(tmp_path / "missing"))


def test_watermark_is_none_without_a_lake(tmp_path: Path) -> None:
    s = _settings(str(tmp_path / "lake"))
    assert lake.watermarks(s) == {}
    assert lake.watermark(s, "users") is None
    assert lake.hour_is_closed(s, "users", dt.datetime(2026, 11, 24, 9)) is False
