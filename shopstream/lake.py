"""The lake's layout, its watermark, and the reading of its Delta tables' state (no JVM).

Layout (``settings.lake_root`` is a local directory or an ``s3a://`` URI)::

    {lake_root}/bronze/users         Delta, partitioned by event_date, event_hour (UTC, event time)
    {lake_root}/bronze/orders        Delta, partitioned by event_date, event_hour
    {lake_root}/quarantine           Delta, partitioned by quarantine_date
    {lake_root}/_watermarks          Delta, a row per entity and batch that moved it (newest counts)
    {lake_root}/_checkpoints/<query> Structured Streaming checkpoints, one per query

Every read goes through delta-rs (:func:`delta_table`), which opens a version from the newest
checkpoint at or before it plus the commits after it, never the whole log:

* :func:`watermark`, :func:`hour_is_closed` and :func:`hour_file_stats` (the per-hour reads of
  the Airflow sensor and the hourly batch) open the latest snapshot with delta-rs
  (:func:`delta_table`): the newest checkpoint plus the commits after it, never the whole log, so
  their cost does not grow with the hours the table has seen. No JVM.
* :func:`snapshot` (a version's live files and the stream's last ``txnVersion``) reads the same way.
* :func:`history` (``shopstream lake history``) reads the newest ``limit`` commits' ``commitInfo``
  (all commits still in the log without a limit, as :func:`versions` does).

Spark's time travel for ``shopstream lake show|count`` is :mod:`shopstream.time_travel`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopstream.aws import boto_client, client_kwargs, is_local_endpoint
from shopstream.contract import entities
from shopstream.errors import UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

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
# a checkpoint every 100 commits bounds what a reader replays after the newest checkpoint (100
# small JSON commits, a few minutes of the stream). Not Delta's 10: at each checkpoint version a
# commit computes the table's whole state (the commit statistics Delta collects for the
# checkpoint) and the checkpoint writes all of it, seconds of a 2-core machine on a table a week
# old (bench/README.md, table state); every 10th stream batch (15 s) that was a third of a core.
LAKE_PROPERTIES = {
    "delta.logRetentionDuration": "interval 7 days",
    "delta.deletedFileRetentionDuration": "interval 7 days",
    "delta.checkpointInterval": "100",
}
# The columns Delta keeps min/max/null-count statistics for in each file of the ingest's tables:
# time and Kafka position, what a reader filters these tables on (ingest time: the dedupe index's
# rebuild; event time, offsets: an audit). Delta's default, the first 32 columns, made every
# stream write task generate and run a statistics projection over all of them: half of a small
# batch's write time. numRecords is kept for every file either way (the ledger's counts read it).
STATS_COLUMNS = {
    "bronze": "created_at,kafka_partition,kafka_offset,kafka_timestamp,ingested_at",
    "quarantine": "kafka_partition,kafka_offset,kafka_timestamp,quarantined_at",
}
STATS_PROPERTY = "delta.dataSkippingStatsColumns"
# _watermarks: only its newest rows matter and nothing time-travels it, so one day of log and of
# tombstones (the stream rewrites it every few dozen appends) is plenty.
WATERMARK_PROPERTIES = {
    "delta.logRetentionDuration": "interval 1 days",
    "delta.deletedFileRetentionDuration": "interval 1 days",
    "delta.checkpointInterval": "10",
}


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


# --- objects beside the Delta log (local directory or S3) ---------------------------------------
def _local(path: str) -> str | None:
    """The local directory of ``path`` (None for an S3 URI)."""
    if path.startswith(("s3a://", "s3://")):
        return None
    return re.sub(r"^file:(//)?", "", path)


def _s3_object(settings: Settings | None, uri: str) -> tuple[Any, str, str]:
    m = re.match(r"^s3a?://([^/]+)/?(.*)$", uri)
    if m is None:
        raise LakeError(f"{uri}: not an S3 URI")
    if settings is None:
        raise LakeError(f"{uri}: reading S3 needs the profile's settings")
    return boto_client(settings, "s3"), m.group(1), m.group(2)


def _read_text(settings: Settings | None, uri: str) -> str | None:
    """A small object's text (None when it does not exist)."""
    local = _local(uri)
    if local is not None:
        return Path(local).read_text() if Path(local).is_file() else None
    s3, bucket, key = _s3_object(settings, uri)
    try:
        return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())
    except s3.exceptions.NoSuchKey:
        return None


def _mtime_ms(settings: Settings | None, uri: str) -> int:
    local = _local(uri)
    if local is not None:
        return Path(local).stat().st_mtime_ns // 1_000_000
    s3, bucket, key = _s3_object(settings, uri)
    return int(s3.head_object(Bucket=bucket, Key=key)["LastModified"].timestamp() * 1000)


def storage_options(settings: Settings | None, path: str) -> dict[str, str]:
    """delta-rs's object-store options for ``path`` (the S3 API endpoint, region, credentials)."""
    if settings is None or not path.startswith(("s3a://", "s3://")):
        return {}
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
    (at or before it) plus the commits after it. Raises LakeError when there is no table at
    ``path`` or no such version."""
    # deltalake (~0.2 s) loads when a table is read: the CLI imports this module at start-up
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    uri = re.sub(r"^file:(//)?", "", re.sub(r"^s3a://", "s3://", path.rstrip("/")))
    options = storage_options(settings, path) or None
    try:
        table = DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        raise LakeError(f"{path} is not a Delta table (no _delta_log); has the stream run yet?") from None
    latest = int(table.version())
    if version is not None and version != latest:
        try:
            table.load_as_version(version)
        except (DeltaError, ValueError):  # the error path reads every commit still in the log
            commits = [int(c["version"]) for c in DeltaTable(uri, storage_options=options).history()]
            oldest = min(commits, default=latest)
            raise LakeError(
                f"{path}: version {version} does not exist; available versions: {oldest}..{latest}"
            ) from None
    return table


def hour_file_stats(
    settings: Settings | None, path: str, start: datetime, end: datetime
) -> dict[datetime, int | None]:
    """Rows per event hour in [start, end) of a bronze table, from the latest snapshot's file
    statistics (``numRecords`` of the live files; None for an hour with a file without stats).
    Reads no data file. Empty when the table does not exist yet."""
    try:
        adds = add_actions(delta_table(settings, path))
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


def app_id(query: str, query_id: str) -> str:
    """The ``txnAppId`` every write of the streaming query ``query`` carries (with the batch id as
    ``txnVersion``): ``shopstream-<query>-<query id>``; the id is the checkpoint's, stable across
    restarts."""
    return f"shopstream-{query}-{query_id}"


def stream_app_id(settings: Settings | None, query: str = STREAM_QUERY) -> str | None:
    """The stream query's ``txnAppId``, from its checkpoint's metadata (None before its first start)."""
    if settings is None:
        return None
    text = _read_text(settings, _join(checkpoint_path(settings, query), "metadata"))
    if not text:
        return None
    return app_id(query, json.loads(text.splitlines()[0])["id"])


@dataclass
class Snapshot:
    """A Delta table at one version, as delta-rs reads it (checkpoint + the commits after it)."""

    version: int
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> delta-rs add action
    txns: dict[str, int] = field(default_factory=dict)  # the stream's txnAppId -> its last txnVersion

    @property
    def num_records(self) -> int | None:
        """Sum of the files' ``numRecords`` statistics (None if a file has none)."""
        counts = [f["num_records"] for f in self.files.values()]
        return None if any(n is None for n in counts) else sum(counts)


def add_actions(table: Any) -> list[dict[str, Any]]:
    """The live files of an opened table (delta-rs add actions, flattened: ``path``,
    ``num_records``, ``partition.<column>``, ...)."""
    # pyarrow (~0.4 s) loads when a table is read: the CLI imports this module at start-up
    import pyarrow as pa

    return list(pa.table(table.get_add_actions(flatten=True)).to_pylist())


def snapshot(settings: Settings | None, path: str, version: int | None = None) -> Snapshot:
    """The table's live files at ``version`` (default: latest) and the stream's last ``txnVersion``
    on it. Raises LakeError when there is no table or no such version."""
    table = delta_table(settings, path, version)
    files = {a["path"]: a for a in add_actions(table)}
    txns = {}
    if (aid := stream_app_id(settings)) is not None and (v := table.transaction_version(aid)) is not None:
        txns[aid] = int(v)
    return Snapshot(int(table.version()), files, txns)


def history(settings: Settings | None, path: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Delta's history (each commit's ``commitInfo``), newest first, like ``DESCRIBE HISTORY``:
    delta-rs reads the newest ``limit`` commits (every commit still in the log without a limit)."""
    commits = sorted(delta_table(settings, path).history(limit), key=lambda c: int(c["version"]))
    out: list[dict[str, Any]] = []
    previous_ms = -1
    for info in commits:
        v = int(info["version"])
        # Delta's commit time (what DESCRIBE HISTORY shows and timestampAsOf resolves against) is
        # the in-commit timestamp if enabled, else the commit file's modification time (not the
        # commitInfo's timestamp, taken before the file was written), made strictly increasing
        ms = info.get("inCommitTimestamp") or _mtime_ms(settings, _join(path, "_delta_log", f"{v:020d}.json"))
        ms = previous_ms = max(int(ms), previous_ms + 1)
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


def versions(settings: Settings | None, path: str) -> list[int]:
    """Versions whose commit is still in the log (what history shows), oldest first. Reads every
    commit: for the latest version alone, ``delta_table(...).version()`` reads from the checkpoint."""
    return sorted(h["version"] for h in history(settings, path))


# --- the watermark ------------------------------------------------------------------------------
def aware(value: datetime) -> datetime:
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
                row[key] = aware(row[key])
        pm = row.get("partition_max_event_time") or []
        row["partition_max_event_time"] = {
            int(k): aware(v) for k, v in (pm.items() if isinstance(pm, dict) else pm)
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
    start = aware(hour_start).replace(minute=0, second=0, microsecond=0)
    wm = watermark(settings, entity)
    return wm is not None and wm >= start + timedelta(hours=1)
