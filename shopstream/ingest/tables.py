"""The ingest's Delta tables: created once (bronze per entity, quarantine, ``_watermarks``, with
the lake's table properties), written with idempotent blind appends: every commit carries the
batch's ``SetTransaction`` (``txnAppId`` + ``txnVersion``), so a replayed batch skips a commit it
already made.

Two ways to make that append (:func:`write_append`, :func:`commit_append`): Delta's checked write
asks the table's state for the app's last version first, and that state is a rebuild (a Spark job
over the last checkpoint and the commits after it) for every new version, i.e. for every batch.
Only the first batch a run of the query sees can have been committed before (Spark plans batch
``n + 1`` only after batch ``n`` is in its commit log), so that batch is checked and every later
one commits directly, with the same action in the same commit.

A commit that completes ``delta.checkpointInterval`` commits makes Delta write a checkpoint of
the whole table state right after it, inside the commit call: seconds on a table a week old, on
the batch's critical path every 10th commit of every table. :func:`commit_append` given a
:class:`BackgroundCheckpoints` leaves that checkpoint to it: the same versions are checkpointed,
by a thread beside the next batches (the log stays exactly as bounded; a reader only replays a
few more commits for a few seconds).

Delta's other post-commit hook, the checksum file (``<version>.crc``), stays although it is half
of a small append's commit: a transaction whose snapshot was loaded from disk (after a checkpoint
or another writer's commit) derives its new checksum from the previous version's file, and
without it rebuilds the whole table state inside the commit (tried: 0.07 s saved per commit, then
the first commit after the background checkpoint at version 100 ran a state reconstruction and
failed in its writer thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from shopstream import lake
from shopstream.contract import Contract
from shopstream.ingest.schemas import (
    PARTITION_COLUMNS,
    QUARANTINE_PARTITION_COLUMNS,
    bronze_schema,
    quarantine_schema,
    watermark_schema,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from shopstream.config import Settings


def ensure_tables(spark: SparkSession, settings: Settings, contract: Contract, entities: list[str]) -> None:
    """Create the bronze, quarantine and watermark tables if they do not exist (idempotent)."""
    from delta.tables import DeltaTable

    bronze = {**lake.LAKE_PROPERTIES, lake.STATS_PROPERTY: lake.STATS_COLUMNS["bronze"]}
    quarantine = {**lake.LAKE_PROPERTIES, lake.STATS_PROPERTY: lake.STATS_COLUMNS["quarantine"]}
    specs: list[tuple[str, Any, tuple[str, ...], dict[str, str]]] = [
        (
            lake.bronze_path(settings, e),
            bronze_schema(contract, contract.entity(e)),
            PARTITION_COLUMNS,
            bronze,
        )
        for e in entities
    ]
    specs.append(
        (lake.quarantine_path(settings), quarantine_schema(), QUARANTINE_PARTITION_COLUMNS, quarantine)
    )
    specs.append((lake.watermarks_path(settings), watermark_schema(), (), lake.WATERMARK_PROPERTIES))
    for path, schema, parts, props in specs:
        builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
        for key, value in props.items():
            builder = builder.property(key, value)
        if parts:
            builder = builder.partitionedBy(*parts)
        builder.execute()
        lake.ensure_properties(spark, path, props)  # tables created before these settings existed


def write_append(df: DataFrame, path: str, app_id: str, batch_id: int, mode: str = "append") -> None:
    """A blind append (or full overwrite) made idempotent with txnAppId/txnVersion."""
    (
        df.write.format("delta")
        .mode(mode)
        .option("txnAppId", app_id)
        .option("txnVersion", str(batch_id))
        .save(path)
    )


def commit_append(
    df: DataFrame,
    path: str,
    app_id: str,
    batch_id: int,
    checkpoints: BackgroundCheckpoints | None = None,
) -> int:
    """A blind append carrying ``SetTransaction(app_id, batch_id)``, without reading it first.

    The same commit as :func:`write_append`'s (the files, the app's version, a ``WRITE``
    operation; the table's NOT NULL invariants are checked while writing), minus the check and
    the state rebuild it needs. Only for a batch known not to be committed yet. With
    ``checkpoints``, a checkpoint due at this version is handed to it instead of written inside
    the commit. Returns the committed version.
    """
    spark = df.sparkSession
    jvm: Any = spark._jvm  # type: ignore[attr-defined]
    delta = jvm.org.apache.spark.sql.delta
    convert = jvm.scala.collection.JavaConverters
    txn = delta.DeltaLog.forTable(spark._jsparkSession, path).startTransaction()
    if checkpoints is not None:
        _drop_checkpoint_hook(txn)
    actions = jvm.java.util.ArrayList(convert.seqAsJavaListConverter(txn.writeFiles(df._jdf)).asJava())
    now_ms = jvm.scala.Some(jvm.java.lang.Long.valueOf(jvm.java.lang.System.currentTimeMillis()))
    actions.add(delta.actions.SetTransaction(app_id, batch_id, now_ms))
    none = jvm.scala.Option.empty()
    append = jvm.org.apache.spark.sql.SaveMode.Append
    operation = getattr(delta, "DeltaOperations$Write")(append, none, none, none)
    version = int(txn.commit(convert.asScalaBufferConverter(actions).asScala().toSeq(), operation))
    if checkpoints is not None:
        interval = int(delta.DeltaConfigs.CHECKPOINT_INTERVAL().fromMetaData(txn.metadata()))
        if version != 0 and version % interval == 0:  # where Delta's own hook would write one
            checkpoints.request(spark, path)
    return version


_CHECKPOINT_HOOK = "org.apache.spark.sql.delta.hooks.CheckpointHook$"


def _drop_checkpoint_hook(txn: Any) -> None:
    """Unregister Delta's post-commit checkpoint from a transaction (registered when it starts)."""
    hooks = txn.postCommitHooks()
    for i in reversed(range(hooks.size())):
        if hooks.apply(i).getClass().getName() == _CHECKPOINT_HOOK:
            hooks.remove(i)
            return
    raise RuntimeError(f"Delta registered no {_CHECKPOINT_HOOK} on its transaction (a Delta upgrade?)")


class BackgroundCheckpoints:
    """Delta checkpoints written by one thread beside the stream's batches.

    ``request`` returns at once; a table already waiting for its checkpoint is not queued twice
    (the one it gets covers every version before it). A failed checkpoint is reported through
    ``log`` and never fails the stream, as Delta treats a failed post-commit checkpoint; the next
    due version tries again. ``close`` waits for the one in flight.
    """

    def __init__(self, log: Callable[[str], None] = print) -> None:
        self.log = log
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="delta-checkpoint")
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self.written: dict[str, int] = {}  # table -> checkpoints written

    def request(self, spark: SparkSession, path: str) -> None:
        with self._lock:
            if path in self._pending:
                return
            self._pending.add(path)
        self._pool.submit(self._checkpoint, spark, path)

    def _checkpoint(self, spark: SparkSession, path: str) -> None:
        with self._lock:
            self._pending.discard(path)  # a commit from now on asks for a newer checkpoint
        try:
            jvm: Any = spark._jvm  # type: ignore[attr-defined]
            jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path).checkpoint()
            self.written[path] = self.written.get(path, 0) + 1
        except Exception as exc:
            first = next((ln for ln in str(exc).splitlines() if ln.strip()), repr(exc))
            self.log(f"[stream] warning: Delta checkpoint of {path} failed (the next one retries): {first}")

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def warm_snapshot(spark: SparkSession, path: str) -> None:
    """Compute the state of the table's latest snapshot (what :func:`write_append` checks first)."""
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, path).detail().collect()


def release_blocks(df: DataFrame) -> None:
    """Drop the blocks of a ``localCheckpoint`` DataFrame now (memory, then disk, per batch)."""
    df._jdf.queryExecution().logical().rdd().unpersist(False)
