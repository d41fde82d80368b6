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
"""

from __future__ import annotations

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

    specs: list[tuple[str, Any, tuple[str, ...]]] = [
        (
            lake.bronze_path(settings, e),
            bronze_schema(contract, contract.entity(e)),
            PARTITION_COLUMNS,
        )
        for e in entities
    ]
    specs.append((lake.quarantine_path(settings), quarantine_schema(), QUARANTINE_PARTITION_COLUMNS))
    specs.append((lake.watermarks_path(settings), watermark_schema(), ()))
    for path, schema, parts in specs:
        props = lake.WATERMARK_PROPERTIES if path == lake.watermarks_path(settings) else lake.LAKE_PROPERTIES
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


def commit_append(df: DataFrame, path: str, app_id: str, batch_id: int) -> None:
    """A blind append carrying ``SetTransaction(app_id, batch_id)``, without reading it first.

    The same commit as :func:`write_append`'s (the files, the app's version, a ``WRITE``
    operation; the table's NOT NULL invariants are checked while writing), minus the check and
    the state rebuild it needs. Only for a batch known not to be committed yet.
    """
    spark = df.sparkSession
    jvm: Any = spark._jvm  # type: ignore[attr-defined]
    delta = jvm.org.apache.spark.sql.delta
    convert = jvm.scala.collection.JavaConverters
    txn = delta.DeltaLog.forTable(spark._jsparkSession, path).startTransaction()
    actions = jvm.java.util.ArrayList(convert.seqAsJavaListConverter(txn.writeFiles(df._jdf)).asJava())
    now_ms = jvm.scala.Some(jvm.java.lang.Long.valueOf(jvm.java.lang.System.currentTimeMillis()))
    actions.add(delta.actions.SetTransaction(app_id, batch_id, now_ms))
    none = jvm.scala.Option.empty()
    append = jvm.org.apache.spark.sql.SaveMode.Append
    operation = getattr(delta, "DeltaOperations$Write")(append, none, none, none)
    txn.commit(convert.asScalaBufferConverter(actions).asScala().toSeq(), operation)


def warm_snapshot(spark: SparkSession, path: str) -> None:
    """Compute the state of the table's latest snapshot (what :func:`write_append` checks first)."""
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, path).detail().collect()


def release_blocks(df: DataFrame) -> None:
    """Drop the blocks of a ``localCheckpoint`` DataFrame now (memory, then disk, per batch)."""
    df._jdf.queryExecution().logical().rdd().unpersist(False)
