"""The ingest's Spark schemas, all derived from ``conf/contract.yaml``: the wire schema a record
is parsed with, the bronze table of each entity, the quarantine table and ``_watermarks``.

Plain functions (no SparkSession needed, nothing read but the contract passed in).
"""

from __future__ import annotations

from pyspark.sql import types as T
from pyspark.sql.types import (
    BinaryType,
    DataType,
    DateType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from shopstream.contract import Contract, EntitySpec, FieldSpec

CORRUPT = "_corrupt_record"
KAFKA_COLUMNS = ("kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp")
PARTITION_COLUMNS = ("event_date", "event_hour")
QUARANTINE_PARTITION_COLUMNS = ("quarantine_date",)


# --- schemas (from the contract) --------------------------------------------------------------
def spark_type(name: str) -> DataType:
    """A Spark SQL type name as used in the contract (``int``, ``long``, ...) -> DataType.

    (``_parse_datatype_string`` would need a running SparkContext; schemas are built without one.)
    """

    types: dict[str, DataType] = {
        "boolean": T.BooleanType(),
        "short": T.ShortType(),
        "int": T.IntegerType(),
        "integer": T.IntegerType(),
        "long": T.LongType(),
        "bigint": T.LongType(),
        "float": T.FloatType(),
        "double": T.DoubleType(),
        "string": T.StringType(),
        "date": T.DateType(),
        "timestamp": T.TimestampType(),
        "binary": T.BinaryType(),
    }
    try:
        return types[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unsupported Spark type {name!r} in the contract; allowed: {', '.join(types)}"
        ) from None


def _spark_type(contract: Contract, f: FieldSpec, wire: bool) -> DataType:
    if wire and f.type == "timestamp":
        return spark_type("string")  # parsed by us (exact pattern), not by the lenient JSON reader
    return spark_type(contract.logical_types[f.type].spark)


def wire_schema(contract: Contract, entity: EntitySpec) -> StructType:
    """Schema to parse one entity's JSON value with ``from_json`` (+ the corrupt-record column)."""

    fields = [StructField(f.name, _spark_type(contract, f, wire=True), True) for f in entity.fields]
    return StructType([*fields, StructField(CORRUPT, StringType(), True)])


def _kafka_position() -> list[StructField]:
    """Where a record was read: the columns bronze and quarantine rows both carry."""

    return [
        StructField("kafka_topic", StringType(), False),
        StructField("kafka_partition", IntegerType(), False),
        StructField("kafka_offset", LongType(), False),
        StructField("kafka_timestamp", TimestampType(), False),
    ]


def bronze_schema(contract: Contract, entity: EntitySpec) -> StructType:
    """The bronze table of one entity: contract fields, partitions, Kafka metadata, ingest time."""

    fields = [
        StructField(f.name, _spark_type(contract, f, wire=False), not f.required) for f in entity.fields
    ]
    return StructType(
        [
            *fields,
            StructField("event_date", DateType(), False),
            StructField("event_hour", IntegerType(), False),
            *_kafka_position(),
            StructField("ingested_at", TimestampType(), False),
        ]
    )


def quarantine_schema() -> StructType:

    return StructType(
        [
            StructField("entity", StringType(), False),
            *_kafka_position(),
            StructField("raw_key", BinaryType(), True),
            StructField("raw_value", BinaryType(), True),
            StructField("reason", StringType(), False),
            StructField("quarantined_at", TimestampType(), False),
            StructField("quarantine_date", DateType(), False),
            StructField("event_date", DateType(), True),
            StructField("event_hour", IntegerType(), True),
        ]
    )


def watermark_schema() -> StructType:

    return StructType(
        [
            StructField("entity", StringType(), False),
            StructField("complete_until", TimestampType(), True),
            StructField("batch_id", LongType(), False),
            StructField("updated_at", TimestampType(), False),
            StructField("lateness_seconds", LongType(), False),
            StructField("partition_max_event_time", MapType(IntegerType(), TimestampType(), True), False),
        ]
    )
