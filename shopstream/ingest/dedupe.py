"""Duplicates within the dedupe window land once: Spark's streaming state drops later copies of
a valid ``(entity, event_id)``, and no row may ever be dropped by a watermark.

The watermark of :func:`transform_dedupe` is on the batch's *processing* time
(``current_timestamp``), never on event time: a late event is never "late" to it. An event_id is
remembered for the dedupe window (RocksDB state store, checkpointed with the query); a copy
arriving later than that lands again and the hourly export dedupes it per hour. Every batch reads
its plan's ``numRowsDroppedByWatermark`` (:func:`batch_dropped_by_watermark`) and fails before
any commit if it is not 0 (:class:`RowsDroppedByWatermark`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


DEDUPE_KEY = "_dedupe_key"
SEEN_AT = "_seen_at"
STATE_STORE = {
    # the dedupe state (event_ids of the last --dedupe-window) lives off-heap in RocksDB and only
    # its changes are checkpointed per batch, not a full snapshot
    "spark.sql.streaming.stateStore.providerClass": (
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
    ),
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    # no extra micro-batch without data just to evict expired ids after the watermark moved (it
    # would be one more foreachBatch with its Delta work after nearly every batch): expired ids
    # go with the next batch that has data
    "spark.sql.streaming.noDataMicroBatches.enabled": "false",
}


def transform_dedupe(classified: DataFrame, entities: list[str], window: timedelta) -> DataFrame:
    """Drop later copies of a valid ``(entity, event_id)`` seen within ``window`` (streaming state).

    The watermark is on the batch's processing time, never on event time (a late event is never
    late to it); an invalid record keeps a key of its own (its Kafka position), so it always
    reaches the quarantine.
    """
    from pyspark.sql import functions as F

    event_id = F.coalesce(*[F.col(f"event_{e}")["event_id"] for e in entities])
    position = F.concat_ws(":", F.lit("@"), "kafka_topic", "kafka_partition", "kafka_offset")
    key = F.when(F.size("errors") == 0, F.concat_ws(":", F.col("entity"), event_id)).otherwise(position)
    return (
        classified.withColumn(SEEN_AT, F.current_timestamp())
        .withColumn(DEDUPE_KEY, key)
        .withWatermark(SEEN_AT, f"{max(0, int(window.total_seconds() * 1000))} milliseconds")
        .dropDuplicatesWithinWatermark([DEDUPE_KEY])
    )


DROPPED_METRIC = "numRowsDroppedByWatermark"


def dropped_by_watermark(progress: Mapping[str, Any]) -> int:
    """Rows a watermark dropped in one batch (every stateful operator of its progress)."""
    return sum(int(op.get(DROPPED_METRIC, 0)) for op in progress.get("stateOperators", []))


def batch_dropped_by_watermark(query: Any) -> int:
    """Rows a watermark dropped in the micro-batch ``query`` (a JVM StreamingQuery) is running.

    ``foreachBatch`` hands over a DataFrame over the batch's RDD; the stateful operators and their
    SQL metrics live in the query's current execution. Read inside the batch after it was
    materialised and before any write, so a batch that lost a row fails before it commits.
    """
    execution = query.streamingQuery().lastExecution()
    if execution is None:
        return 0
    total = 0
    todo = [execution.executedPlan()]
    while todo:
        node = todo.pop()
        metric = node.metrics().get(DROPPED_METRIC)
        if metric.isDefined():
            total += int(metric.get().value())
        children = node.children()
        todo.extend(children.apply(i) for i in range(children.size()))
    return total


class RowsDroppedByWatermark(RuntimeError):
    """A watermark dropped rows: they would reach neither bronze nor the quarantine."""
