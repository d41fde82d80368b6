"""The ingest's Delta tables: created once (bronze per entity, quarantine, ``_watermarks``, with
the lake's table properties), written with idempotent blind appends (``txnAppId`` +
``txnVersion``: a replayed batch skips a commit it already made), and their snapshot state warmed
before a write needs it.
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


def warm_snapshot(spark: SparkSession, path: str) -> None:
    """Compute the state of the table's latest snapshot (what a txnAppId write checks first)."""
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, path).detail().collect()


def release_blocks(df: DataFrame) -> None:
    """Drop the blocks of a ``localCheckpoint`` DataFrame now (memory, then disk, per batch)."""
    df._jdf.queryExecution().logical().rdd().unpersist(False)
