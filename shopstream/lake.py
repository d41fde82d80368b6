"""The lake's layout, its watermark, and time travel over its Delta tables.

Layout (``settings.lake_root`` is a local directory or an ``s3a://`` URI)::

    {lake_root}/bronze/users         Delta, partitioned by event_date, event_hour (UTC, event time)
    {lake_root}/bronze/orders        Delta, partitioned by event_date, event_hour
    {lake_root}/quarantine           Delta, partitioned by quarantine_date
    {lake_root}/_watermarks          Delta, a row per entity and batch that moved it (newest counts)
    {lake_root}/_checkpoints/<query> Structured Streaming checkpoints, one per query

Three kinds of readers:

* :func:`watermark`, :func:`hour_is_closed` and :func:`hour_file_stats` (the per-hour reads of
  the Airflow sensor and the hourly batch) open the latest snapshot with delta-rs
  (:func:`delta_table`): the newest checkpoint plus the commits after it, never the whole log, so
  their cost does not grow with the hours the table has seen. No JVM.
* :func:`history`, :func:`versions` (``shopstream lake history``) read the Delta log's commit
  files themselves (pyarrow and boto3): they are meant to show every version still in the log.
* :func:`read_as_of` and :func:`count_as_of` use Spark's ``versionAsOf`` / ``timestampAsOf``
  (Delta's own time travel) for the ``shopstream lake show|count`` commands.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shopstream.contract import entities
from shopstream.errors import UsageError
from shopstream.hours import parse_hour

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from shopstream.config import Settings

BRONZE = "bronze"
QUARANTINE = "quarantine"
WATERMARKS = "_watermarks"
CHECKPOINTS = "_checkpoints"
STREAM_QUERY = "bronze"  # the stream-ingest query's name (its checkpoint directory)
OTHER_TABLES = ("quarantine", "watermarks")  # besides one bronze table per entity of the contract
# Table properties that keep each table's Delta log and state bounded (``ensure_properties``).
# Bronze and quarantine: the log keeps 7 days of commits (Delta's default is 30: a month of the
# stream's commits, each 5 s, to list and keep), as many as the data files VACUUM keeps
# (jobs/compact.py's minimum), so time travel reaches back 7 days in both; removed-file entries
# (tombstones, mostly the stream's small files that compaction replaced) stay in the state for
# the same 7 days, which VACUUM needs to spare files a reader of an older version may still use;
# a checkpoint every 10 commits bounds what a reader replays after the newest checkpoint.
LAKE_PROPERTIES = {
    "delta.logRetentionDuration": "interval 7 days",
    "delta.deletedFileRetentionDuration": "interval 7 days",
    "delta.checkpointInterval": "10",
}
# _watermarks: only its newest rows matter and nothing time-travels it, so one day of log and of
# tombstones (the stream rewrites it every few dozen appends) is plenty.
WATERMARK_PROPERTIES = {
    "delta.logRetentionDuration": "interval 1 days",
    "delta.deletedFileRetentionDuration": "interval 1 days",
    "delta.checkpointInterval": "10",
}
_COMMIT = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(?:\.(\d{10})\.(\d{10}))?\.parquet$")


class LakeError(UsageError):
    """A table, version or timestamp that does not exist (exit code 2 in the CLI)."""


# --- paths --------------------------------------------------------------------------------------
def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def bronze_path(settings: Settings, entity: str) -> str:
    return _join(settings.lake_root, BRONZE, entity)


def quarantine_path(settings: Settings) -> str:
    return _join(settings.lake_root, QUARANTINE)


def warehouse_deadletter_path(settings: Settings) -> str:
    """Bronze rows the warehouse cannot load (the export's dead letters, per entity and hour)."""
    return _join(settings.lake_root, "deadletter", "warehouse")


def watermarks_path(settings: Settings) -> str:
    return _join(settings.lake_root, WATERMARKS)


def checkpoint_path(settings: Settings, query: str = STREAM_QUERY) -> str:
    return _join(settings.lake_root, CHECKPOINTS, query)


def table_path(settings: Settings, table: str) -> str:
    """Path of a table by its CLI name: users, orders, quarantine, watermarks (or bronze.<entity>)."""
    name = table.strip().lower()
    for prefix in ("bronze.", "bronze/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if name in ("_watermarks",):
        name = "watermarks"
    tables = (*entities(), *OTHER_TABLES)
    if name not in tables:
        raise LakeError(f"unknown table {table!r}; allowed: {', '.join(tables)}")
    if name == "quarantine":
        return quarantine_path(settings)
    if name == "watermarks":
        return watermarks_path(settings)
    return bronze_path(settings, name)


def ensure_properties(spark: SparkSession, path: str, properties: dict[str, str]) -> bool:
    """Set ``properties`` on the Delta table at ``path`` where they differ (one commit, or none
    when they are already set). True when it committed."""
    current = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").collect()[0]["properties"] or {}
    missing = {k: v for k, v in properties.items() if current.get(k) != v}
    if not missing:
        return False
    pairs = ", ".join(f"'{k}' = '{v}'" for k, v in sorted(missing.items()))
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({pairs})")
    return True


# --- a small Delta log reader (no JVM) ---------------------------------------------------------
class _Files:
    """Read-only file access for a local directory or an s3a:// / s3:// URI."""

    def __init__(self, settings: Settings | None, root: str) -> None:
        self.root = root.rstrip("/")
        m = re.match(r"^s3a?://([^/]+)/?(.*)$", self.root)
        self.s3: Any = None
        if m:
            if settings is None:
                raise LakeError(f"{root}: reading S3 needs the profile's settings")
            from shopstream.aws import boto_client

            self.s3 = boto_client(settings, "s3")
            self.bucket, self.prefix = m.group(1), m.group(2)
        elif root.startswith("file:"):
            self.root = re.sub(r"^file:(//)?", "", self.root)

    def list(self, sub: str) -> list[str]:
        if self.s3 is None:
            from pathlib import Path

            d = Path(self.root, sub)
            return sorted(p.name for p in d.iterdir()) if d.is_dir() else []
        prefix = "/".join(p for p in (self.prefix, sub) if p) + "/"
        names: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            names.extend(obj["Key"][len(prefix) :] for obj in page.get("Contents", []))
        return sorted(n for n in names if "/" not in n)

    def read(self, sub: str) -> bytes:
        if self.s3 is None:
            from pathlib import Path

            return Path(self.root, sub).read_bytes()
        key = "/".join(p for p in (self.prefix, sub) if p)
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def mtime_ms(self, sub: str) -> int:
        if self.s3 is None:
            from pathlib import Path

            return Path(self.root, sub).stat().st_mtime_ns // 1_000_000
        key = "/".join(p for p in (self.prefix, sub) if p)
        return int(self.s3.head_object(Bucket=self.bucket, Key=key)["LastModified"].timestamp() * 1000)


@dataclass
class Snapshot:
    """Active files and metadata of a Delta table at one version."""

    version: int
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> add action
    metadata: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    txns: dict[str, int] = field(default_factory=dict)

    @property
    def num_records(self) -> int | None:
        """Sum of the files' ``numRecords`` statistics (None if a file has none)."""
        total = 0
        for add in self.files.values():
            stats = json.loads(add.get("stats") or "{}")
            if "numRecords" not in stats:
                return None
            total += int(stats["numRecords"])
        return total


def _log_listing(files: _Files) -> tuple[list[int], dict[int, list[str]]]:
    commits: list[int] = []
    checkpoints: dict[int, list[str]] = {}
    for name in files.list("_delta_log"):
        if m := _COMMIT.match(name):
            commits.append(int(m.group(1)))
        elif m := _CHECKPOINT.match(name):
            checkpoints.setdefault(int(m.group(1)), []).append(name)
    return sorted(commits), checkpoints


def _complete_checkpoint(names: list[str]) -> bool:
    parts = [_CHECKPOINT.match(n) for n in names]
    if any(p and p.group(2) is None for p in parts):
        return True
    total = {int(p.group(3)) for p in parts if p}
    return len(total) == 1 and len(names) == total.pop()


def _apply(snap: Snapshot, action: dict[str, Any]) -> None:
    if add := action.get("add"):
        snap.files[add["path"]] = add
    elif rm := action.get("remove"):
        snap.files.pop(rm["path"], None)
    elif md := action.get("metaData"):
        snap.metadata = md
    elif proto := action.get("protocol"):
        snap.protocol = proto
    elif txn := action.get("txn"):
        snap.txns[txn["appId"]] = int(txn["version"])


def snapshot(settings: Settings | None, path: str, version: int | None = None) -> Snapshot:
    """The table's state at ``version`` (default: latest). Raises LakeError if there is none."""
    import pyarrow.parquet as pq

    files = _Files(settings, path)
    commits, checkpoints = _log_listing(files)
    if not commits and not checkpoints:
        raise LakeError(f"{path} is not a Delta table (no _delta_log); has the stream run yet?")
    latest = max(commits or [max(checkpoints)])
    if version is None:
        version = latest
    usable = [v for v, names in checkpoints.items() if v <= version and _complete_checkpoint(names)]
    start = max(usable) if usable else -1
    if (
        version > latest
        or (start < 0 and (not commits or commits[0] != 0))
        or version < min(usable or commits)
    ):
        raise LakeError(
            f"{path}: version {version} does not exist; available: {min(usable or commits)}..{latest}"
        )
    snap = Snapshot(version)
    if start >= 0:
        for name in sorted(checkpoints[start]):
            table = pq.read_table(io.BytesIO(files.read(f"_delta_log/{name}")))
            for row in table.to_pylist():
                for key in ("protocol", "metaData", "txn", "add", "remove"):
                    if row.get(key):
                        value = row[key]
                        if key == "add" and isinstance(value.get("partitionValues"), list):
                            value = {**value, "partitionValues": dict(value["partitionValues"])}
                        if key != "remove":
                            _apply(snap, {key: value})
    for v in range(start + 1, version + 1):
        for line in files.read(f"_delta_log/{v:020d}.json").decode().splitlines():
            if line.strip():
                _apply(snap, json.loads(line))
    features = snap.protocol.get("readerFeatures") or []
    if int(snap.protocol.get("minReaderVersion", 1)) > 1 and set(features) - {"timestampNtz"}:
        raise LakeError(f"{path}: reader features {features} are not supported by the light reader")
    return snap


def storage_options(settings: Settings | None, path: str) -> dict[str, str]:
    """delta-rs's object-store options for ``path`` (the S3 API endpoint, region, credentials)."""
    if settings is None or not path.startswith(("s3a://", "s3://")):
        return {}
    from shopstream.aws import client_kwargs, is_local_endpoint

    kw = client_kwargs(settings)
    opts = {"AWS_REGION": kw["region_name"]}
    if "endpoint_url" in kw:
        opts["AWS_ENDPOINT_URL"] = kw["endpoint_url"]
        if kw["endpoint_url"].startswith("http://"):
            opts["AWS_ALLOW_HTTP"] = "true"
    if is_local_endpoint(settings):
        opts["AWS_S3_ADDRESSING_STYLE"] = "path"
        opts["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "false"
    for key in ("aws_access_key_id", "aws_secret_access_key"):
        if key in kw:
            opts[key.upper()] = kw[key]
    return opts


def delta_table(settings: Settings | None, path: str, version: int | None = None) -> Any:
    """The table's latest snapshot (or ``version``) opened with delta-rs: the newest checkpoint
    plus the commits after it. Raises LakeError when there is no table at ``path``."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    uri = re.sub(r"^s3a://", "s3://", path.rstrip("/"))
    uri = re.sub(r"^file:(//)?", "", uri)
    try:
        return DeltaTable(uri, version=version, storage_options=storage_options(settings, path) or None)
    except TableNotFoundError:
        raise LakeError(f"{path} is not a Delta table (no _delta_log); has the stream run yet?") from None


def hour_file_stats(
    settings: Settings | None, path: str, start: datetime, end: datetime
) -> dict[datetime, int | None]:
    """Rows per event hour in [start, end) of a bronze table, from the latest snapshot's file
    statistics (``numRecords`` of the live files; None for an hour with a file without stats).
    Reads no data file. Empty when the table does not exist yet."""
    import pyarrow as pa

    try:
        adds = pa.table(delta_table(settings, path).get_add_actions(flatten=True)).to_pylist()
    except LakeError:
        return {}
    out: dict[datetime, int | None] = {}
    for add in adds:
        d, h = add["partition.event_date"], add["partition.event_hour"]
        if d is None or h is None:
            continue
        hour = datetime(d.year, d.month, d.day, int(h), tzinfo=UTC)
        if not (start <= hour < end):
            continue
        n = add.get("num_records")
        prev = out.get(hour, 0)
        out[hour] = None if n is None or prev is None else prev + int(n)
    return out


def read_rows(settings: Settings | None, path: str, version: int | None = None) -> list[dict[str, Any]]:
    """All rows of a (small) table at a version, partition columns included, with pyarrow."""
    import pyarrow.parquet as pq

    snap = snapshot(settings, path, version)
    files = _Files(settings, path)
    rows: list[dict[str, Any]] = []
    for rel, add in sorted(snap.files.items()):
        from urllib.parse import unquote

        table = pq.read_table(io.BytesIO(files.read(unquote(rel))))
        for row in table.to_pylist():
            rows.append({**row, **(add.get("partitionValues") or {})})
    return rows


def versions(settings: Settings | None, path: str) -> list[int]:
    """Versions whose commit file is still in the log (what history and time travel can show)."""
    commits, _ = _log_listing(_Files(settings, path))
    return commits


def history(settings: Settings | None, path: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Delta's history (each commit's ``commitInfo``), newest first, like ``DESCRIBE HISTORY``."""
    files = _Files(settings, path)
    commits, _ = _log_listing(files)
    if not commits:
        raise LakeError(f"{path} is not a Delta table (no _delta_log); has the stream run yet?")
    out: list[dict[str, Any]] = []
    previous_ms = -1
    for v in commits[-limit:] if limit else commits:
        info: dict[str, Any] = {}
        name = f"_delta_log/{v:020d}.json"
        for line in files.read(name).decode().splitlines():
            if line.strip() and "commitInfo" in (action := json.loads(line)):
                info = action["commitInfo"]
        # Delta's commit time (what DESCRIBE HISTORY shows and timestampAsOf resolves against) is
        # the in-commit timestamp if enabled, else the commit file's modification time, made
        # strictly increasing
        ms = int(info.get("inCommitTimestamp") or files.mtime_ms(name))
        ms = previous_ms = max(ms, previous_ms + 1)
        out.append(
            {
                "version": v,
                "timestamp": datetime.fromtimestamp(ms / 1000, UTC),
                "operation": info.get("operation", ""),
                "parameters": info.get("operationParameters", {}),
                "metrics": info.get("operationMetrics", {}),
                "txn": info.get("txnId", ""),
            }
        )
    return out[::-1]


# --- the watermark ------------------------------------------------------------------------------
def _aware(value: datetime) -> datetime:
    """A datetime read from Parquet (naive = UTC; pandas Timestamps for ns precision) -> aware UTC."""
    to_py = getattr(value, "to_pydatetime", None)
    if to_py is not None:
        value = to_py()
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def watermarks(settings: Settings) -> dict[str, dict[str, Any]]:
    """The current row of every entity in ``_watermarks`` (empty before the stream's first batch).

    The stream appends one row per entity whenever the watermark moves (and rewrites the table
    every few dozen appends); an entity's current row is the one with the highest batch id. Read
    with delta-rs from the latest checkpoint on: the table's log is kept short
    (:data:`WATERMARK_PROPERTIES`), so a sensor's poke costs the same after a month as after a day.
    """
    try:
        rows = delta_table(settings, watermarks_path(settings)).to_pyarrow_table().to_pylist()
    except LakeError:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        row = dict(row)
        for key in ("complete_until", "updated_at"):
            if isinstance(row.get(key), datetime):
                row[key] = _aware(row[key])
        pm = row.get("partition_max_event_time") or []
        row["partition_max_event_time"] = {
            int(k): _aware(v) for k, v in (pm.items() if isinstance(pm, dict) else pm)
        }
        cur = out.get(row["entity"])
        if cur is None or (row["batch_id"], row["updated_at"]) > (cur["batch_id"], cur["updated_at"]):
            out[row["entity"]] = row  # the stream appends a row per batch; the newest one counts
    return out


def watermark(settings: Settings, entity: str) -> datetime | None:
    """Event time (UTC) up to which bronze ``entity`` is complete, or None if not known yet.

    It is min over the topic's partitions of the max event time ingested, minus the stream's
    allowed lateness, committed right after the batch's data (so it never runs ahead of it).
    """
    row = watermarks(settings).get(entity)
    return row["complete_until"] if row and row.get("complete_until") else None


def hour_is_closed(settings: Settings, entity: str, hour_start: datetime) -> bool:
    """True when every event of the UTC hour starting at ``hour_start`` has landed in bronze.

    A naive ``hour_start`` is taken as UTC. Events later than the stream's lateness still land
    (in their own hour) after the hour was closed; the ledger counts them.
    """
    start = _aware(hour_start).replace(minute=0, second=0, microsecond=0)
    wm = watermark(settings, entity)
    return wm is not None and wm >= start + timedelta(hours=1)


# --- time travel with Spark ---------------------------------------------------------------------
@dataclass(frozen=True)
class AsOf:
    """A parsed ``--as-of``: a version number or a timestamp (UTC)."""

    version: int | None = None
    timestamp: datetime | None = None

    @classmethod
    def parse(cls, text: str | None) -> AsOf | None:
        if text is None or text == "":
            return None
        s = text.strip()
        if s.isdigit():
            return cls(version=int(s))
        try:
            ts = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise LakeError(
                f"--as-of {text!r}: not a version number or an ISO-8601 timestamp (e.g. 2026-11-24T10:00:00Z)"
            ) from None
        return cls(timestamp=_aware(ts))

    def options(self) -> dict[str, str]:
        if self.version is not None:
            return {"versionAsOf": str(self.version)}
        if self.timestamp is not None:
            return {"timestampAsOf": self.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f")}
        return {}


def parse_hour_filter(text: str | None) -> tuple[date | None, int] | None:
    """``--hour`` of ``lake show|count``: ``2026-11-24T10`` (that UTC hour, read by
    :func:`shopstream.hours.parse_hour`) or ``10`` (that hour on every date)."""
    if text is None or text == "":
        return None
    s = text.strip()
    if s.isdigit() and 0 <= int(s) <= 23:
        return None, int(s)
    try:
        hour = parse_hour(s)
    except ValueError:
        raise LakeError(
            f"--hour {text!r}: expected an hour 0-23 or a UTC date and hour like 2026-11-24T10"
        ) from None
    return hour.date(), hour.hour


def check_as_of(settings: Settings, path: str, as_of: AsOf | None) -> None:
    """Fail fast (exit 2, no JVM) on a missing table or a version that is not in the log."""
    available = versions(settings, path)
    if not available:
        raise LakeError(f"{path} is not a Delta table (no _delta_log); has the stream run yet?")
    if as_of and as_of.version is not None and as_of.version not in available:
        raise LakeError(
            f"version {as_of.version} does not exist; available versions: {available[0]}..{available[-1]}"
        )


def read_as_of(
    spark: SparkSession,
    settings: Settings,
    table: str,
    as_of: AsOf | None = None,
    hour: tuple[date | None, int] | None = None,
) -> DataFrame:
    """The table as of a version or timestamp (Delta time travel), optionally one event hour."""
    from pyspark.errors import AnalysisException, IllegalArgumentException
    from pyspark.sql import functions as F

    path = table_path(settings, table)
    check_as_of(settings, path, as_of)
    reader = spark.read.format("delta")
    for key, value in (as_of.options() if as_of else {}).items():
        reader = reader.option(key, value)
    try:
        df = reader.load(path)
        _ = df.schema  # resolve now, so a bad timestamp fails here as a LakeError
    except (AnalysisException, IllegalArgumentException) as exc:
        raise LakeError(_first_line(str(exc))) from None
    except Exception as exc:  # py4j errors from Delta's time travel (e.g. timestamp too early)
        msg = _first_line(str(exc))
        if "timestamp" in msg.lower() or "version" in msg.lower():
            raise LakeError(msg) from None
        raise
    if hour is not None:
        if "event_hour" not in df.columns:
            raise LakeError(
                f"table {table!r} has no event hour (--hour applies to users, orders, quarantine)"
            )
        d, h = hour
        df = df.where(F.col("event_hour") == h)
        if d is not None:
            df = df.where(F.col("event_date") == F.lit(d.isoformat()).cast("date"))
    return df


def count_as_of(
    spark: SparkSession,
    settings: Settings,
    table: str,
    as_of: AsOf | None = None,
    hour: tuple[date | None, int] | None = None,
) -> int:
    return read_as_of(spark, settings, table, as_of, hour).count()


def _first_line(message: str) -> str:
    for line in message.splitlines():
        line = line.strip()
        if line and not line.startswith(("at ", "JVM stacktrace")):
            return re.sub(r"^\[[A-Z_.]+\]\s*", "", line)
    return message.strip()
