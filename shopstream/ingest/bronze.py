"""Pure transforms of the stream-ingest job: Kafka records -> classified rows -> bronze rows and
quarantine rows.

Everything here is derived from ``conf/contract.yaml`` (never a hand-copied field list) and is a
plain function of its inputs: no SparkSession is created, no configuration is read, no clock is
consulted (the caller passes ``ingested_at`` / ``quarantined_at``). The schemas live in
:mod:`shopstream.ingest.schemas`, the validity rules as Spark expressions in
:mod:`shopstream.ingest.validation`; the streaming query that applies these transforms is
:mod:`shopstream.ingest.stream`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from shopstream.contract import Contract
from shopstream.ingest.proof import proven_valid
from shopstream.ingest.schemas import KAFKA_COLUMNS, PARTITION_COLUMNS, bronze_schema, quarantine_schema
from shopstream.ingest.validation import (
    event_date_hour,
    forbidden_regex,
    interpreted,
    no_errors,
    not_a_string_regex,
    null_regex,
    parse_event_time,
    parse_value,
    raw_error,
    string_fields,
    validation_errors,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

# the classification's flag "valid, proven by the cheap rules" (proof.proven_valid)
PROVEN = "_proven"
# a table's rows of a classified frame: (filter, columns)
Projection = tuple["Column", list["Column"]]


def transform_classify(
    raw: DataFrame, contract: Contract, topics: Mapping[str, str], now: datetime | None = None
) -> DataFrame:
    """Kafka records (``key, value, topic, partition, offset, timestamp``) -> one row per record.

    ``topics`` maps each subscribed topic to its entity. Output columns: ``entity``, the Kafka
    metadata, ``raw_key``/``raw_value``, ``errors`` (array; empty = valid), ``event_<entity>``
    (the parsed struct, only on that entity's rows), ``event_time``, ``event_date``, ``event_hour``.
    ``now`` caps the ingest time (default: the query's ``current_timestamp()``).

    The result is fenced off from the caller's filters: Spark pushes a filter below every
    deterministic projection by inlining the columns it names, so ``.where(size(errors) = 0)``
    on the bare stages became one predicate with the whole classification in it and the parse
    copied into each of its ~180 field references (26x slower per record). An ``observe`` node
    (a cheap row count) is an operator no filter is pushed through; the stages then run once.
    Nor are the caller's projections merged into the stages: a streaming caller's
    ``current_timestamp()`` is a new literal every micro-batch, and inside the classification's
    generated class it made Spark compile that class again for every batch.

    A record in the producer's form is proven valid by a few cheap rules
    (:func:`~shopstream.ingest.proof.proven_valid`, column ``_proven``); only the others
    run the full rules. The verdict is the same either way.
    """
    from pyspark.sql import functions as F

    classified = apply_stages(raw, classify_stages(contract, topics, now))
    return classified.observe(f"classified_{uuid.uuid4().hex}", F.count(F.lit(1)).alias("records"))


def apply_stages(raw: DataFrame, stages: list[list[Column | str]]) -> DataFrame:
    """``raw.select(*stage)`` for each stage in turn (see :func:`classify_stages`)."""
    df = raw
    for cols in stages:
        df = df.select(*cols)
    return df


def classify_stages(
    contract: Contract, topics: Mapping[str, str], now: datetime | None = None
) -> list[list[Column | str]]:
    """The column lists of :func:`transform_classify`, one ``select`` each.

    They reference columns by name only; building them is a few thousand calls into the JVM, so
    a caller builds them once (the stream: once per query, not per micro-batch). The ingest time
    is each record's Kafka timestamp capped at ``now`` (default ``current_timestamp()``, which
    Spark fixes per batch), so a replay judges a record as the first run did.
    """
    from pyspark.sql import functions as F

    names = sorted(set(topics.values()))
    entity_col = F.lit(None).cast("string")
    for topic, name in topics.items():
        entity_col = F.when(F.col("topic") == topic, F.lit(name)).otherwise(entity_col)
    text = F.col("value").cast("string")
    clock = F.current_timestamp() if now is None else F.lit(now).cast("timestamp")
    # stage 1: parse once per record. Later stages reference these as columns; Spark does not
    # re-inline non-cheap expressions that are referenced more than once (CollapseProject).
    stage1: list[Column | str] = [
        entity_col.alias("entity"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("key").alias("raw_key"),
        F.col("value").alias("raw_value"),
        text.alias("_text"),
        # the batch's clock kept out of generated code (see interpreted): its classes were
        # compiled again for every batch, and ran interpreted until the JIT caught up
        interpreted(F.least(F.coalesce(F.col("timestamp"), clock), clock)).alias("_ingest"),
    ]
    per_entity: list[Column | str] = ["*"]
    for n in names:
        ent = contract.entity(n)
        per_entity.append(
            F.when(F.col("entity") == n, parse_value(contract, ent, F.col("_text"))).alias(f"event_{n}")
        )
    # each timestamp field parsed once (three rules and the event time read it)
    times = {n: {f: F.col(c) for f, c in _time_names(contract, n).items()} for n in names}
    parsed_times: list[Column | str] = ["*"]
    for n in names:
        parsed_times += [
            F.when(F.col("entity") == n, parse_event_time(F.col(f"event_{n}")[f])).alias(col)
            for f, col in _time_names(contract, n).items()
        ]
    # stage 1b: the cheap proof that a record is valid (nearly every record); only the others
    # pay for the full rules below (a second parse for the key list and the raw-text regexes)
    proven = F.lit(False)
    for n in names:
        ent = contract.entity(n)
        proof = proven_valid(
            contract, ent, F.col("raw_value"), F.col("_text"), F.col(f"event_{n}"), F.col("_ingest"), times[n]
        )
        proven = F.when(F.col("entity") == n, proof).otherwise(proven)
    fast: list[Column | str] = ["*", proven.alias(PROVEN)]
    full = ~F.col(PROVEN)
    # json_object_keys is interpreted (CodegenFallback): a projection holding one is left out of
    # whole-stage codegen and each task generates its code again, so it gets a small one of its own
    key_list: list[Column | str] = ["*", F.when(full, F.json_object_keys(F.col("_text"))).alias("_keys")]
    slow: list[Column | str] = ["*"]
    for n in names:
        ent = contract.entity(n)
        mine = (F.col("entity") == n) & full
        slow += [
            F.when(mine, F.col("_text").rlike(null_regex(ent))).alias(f"_null_{n}"),
            F.when(mine, F.col("_text").rlike(not_a_string_regex(contract, ent))).alias(f"_nstr_{n}"),
        ]
    # stage 1c: record-level rules and the forbidden-character flag over each entity's strings
    flags: list[Column | str] = [
        "*",
        F.when(full, raw_error(contract, F.col("raw_value"), F.col("_text"), F.col("_keys"))).alias(
            "_raw_err"
        ),
    ]
    for n in names:
        ent = contract.entity(n)
        ev = F.col(f"event_{n}")
        strings = [ev[f] for f in string_fields(contract, ent)]
        flag = F.concat_ws("", *strings).rlike(forbidden_regex(contract)) if strings else F.lit(False)
        flags.append(F.when((F.col("entity") == n) & full, flag).alias(f"_ftxt_{n}"))
    # stage 2: validate
    errors = F.array(F.lit("topic is not mapped to an entity"))
    for n in names:
        errs = validation_errors(
            contract,
            contract.entity(n),
            F.col("_text"),
            F.col("_keys"),
            F.col(f"event_{n}"),
            F.col("_raw_err"),
            F.col(f"_null_{n}"),
            F.col(f"_nstr_{n}"),
            F.col(f"_ftxt_{n}"),
            F.col("_ingest"),
            times[n],
        )
        errors = F.when(F.col("entity") == n, errs).otherwise(errors)
    # The full rules are one big expression tree that only the few unproven records evaluate. It
    # cannot join whole-stage codegen (fused, its method would pass the JVM's 64 KB), and a
    # projection outside it generates its code again in every task: ~100 ms of CPU per task and
    # micro-batch for this tree. Inside a lambda the tree is interpreted and its code is one call.
    errors = F.when(F.col(PROVEN), no_errors()).otherwise(interpreted(errors))
    created_text = F.coalesce(
        *[F.col(f"event_{n}")["created_at"] for n in names],
        F.get_json_object(F.col("_text"), "$.created_at"),  # only where no entity parse has it
    )
    keep = ["entity", *KAFKA_COLUMNS, "raw_key", "raw_value", *[f"event_{n}" for n in names], PROVEN]
    created_times = [
        F.col(c) for n in names for f, c in _time_names(contract, n).items() if f == "created_at"
    ]
    stage2: list[Column | str] = [
        *keep,
        errors.alias("errors"),
        created_text.alias("_created"),
        F.coalesce(*created_times, F.lit(None).cast("timestamp")).alias("_created_t"),
    ]
    # stage 3: event time of valid records (an invalid one is never partitioned or watermarked
    # on); a quarantined record keeps the hour of its created_at when that is a calendar time
    # not before the contract's earliest (the ledger counts quarantine per hour)
    earliest = contract.logical_types["timestamp"].earliest_time
    # the entity's parse of created_at, else (no entity has it) the raw text's
    parsed = F.coalesce(F.col("_created_t"), parse_event_time(F.col("_created")))
    if earliest is not None:
        parsed = F.when(parsed >= F.lit(earliest), parsed)
    stage3: list[Column | str] = [
        "*",
        parsed.alias("_t"),
    ]
    valid = F.size("errors") == 0
    event_date, event_hour = event_date_hour(F.col("_created"), F.col("_t"))
    stage4: list[Column | str] = [
        *keep,
        "errors",
        F.when(valid, F.col("_t")).alias("event_time"),
        event_date.alias("event_date"),
        event_hour.alias("event_hour"),
    ]
    return [stage1, per_entity, parsed_times, fast, key_list, slow, flags, stage2, stage3, stage4]


def _time_names(contract: Contract, entity: str) -> dict[str, str]:
    """The column holding each timestamp field of ``entity`` parsed (:func:`parse_event_time`)."""
    ent = contract.entity(entity)
    return {f.name: f"_time_{entity}_{f.name}" for f in ent.fields if f.type == "timestamp"}


def _time_value(t: datetime | str) -> Column:
    """A fixed time: a datetime (a literal) or the name of a column holding it.

    The stream passes the micro-batch's own timestamp column: a literal differs every batch, so
    Spark would compile the write's projection again for every batch (one class each).
    """
    from pyspark.sql import functions as F

    return F.col(t) if isinstance(t, str) else F.lit(t).cast("timestamp")


def transform_bronze(
    classified: DataFrame,
    contract: Contract,
    entity: str,
    ingested_at: datetime | str,
) -> DataFrame:
    """Valid rows of ``entity`` in the bronze table's column order, one row per ``event_id``.

    Of several records with the same ``event_id`` in one batch, the earliest (partition, offset)
    wins, so a replay of the same offsets always produces the same row. The stream applies
    :func:`bronze_projection` alone: its dedupe (:mod:`shopstream.ingest.dedupe`) already left one
    row per ``(entity, event_id)`` in the batch, so the window (a shuffle and a sort per table and
    batch) would only repeat that work.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    where, columns = bronze_projection(contract, entity, ingested_at)
    rows = classified.where(where).select(*columns)
    first = Window.partitionBy("event_id").orderBy("kafka_partition", "kafka_offset")
    return rows.withColumn("_n", F.row_number().over(first)).where("_n = 1").drop("_n")


def bronze_projection(contract: Contract, entity: str, ingested_at: datetime | str) -> Projection:
    """The filter and the columns of :func:`transform_bronze` (before its one-per-id window).

    Unresolved expressions, valid on any classified frame: the stream builds them once per query
    rather than per batch (each batch it took ~100 calls into the JVM, a type parse per cast).
    """
    from pyspark.sql import functions as F

    ent = contract.entity(entity)
    target = bronze_schema(contract, ent)
    ev = F.col(f"event_{entity}")
    values = {f.name: ev[f.name] for f in ent.fields}
    values["created_at"] = F.col("event_time")
    values["ingested_at"] = _time_value(ingested_at)
    for c in (*PARTITION_COLUMNS, *KAFKA_COLUMNS):
        values[c] = F.col(c)
    where = (F.col("entity") == entity) & (F.size("errors") == 0)
    return where, [values[fld.name].cast(fld.dataType).alias(fld.name) for fld in target.fields]


def transform_quarantine(classified: DataFrame, quarantined_at: datetime | str) -> DataFrame:
    """Invalid records with their raw bytes, Kafka position, the reason and (if parseable) hour.

    ``quarantined_at``: a datetime or the name of a timestamp column (see :func:`_time_value`);
    ``quarantine_date`` is its UTC date."""
    where, columns = quarantine_projection(quarantined_at)
    return classified.where(where).select(*columns)


def quarantine_projection(quarantined_at: datetime | str) -> Projection:
    """The filter and the columns of :func:`transform_quarantine` (see :func:`bronze_projection`)."""
    from pyspark.sql import functions as F

    ts = _time_value(quarantined_at)
    values = {
        "entity": F.coalesce(F.col("entity"), F.lit("unknown")),
        "reason": F.array_join("errors", "; "),
        "quarantined_at": ts,
        "quarantine_date": F.to_date(ts),  # in the session time zone, UTC (spark.spark_conf)
    }
    schema = quarantine_schema()
    columns = [values.get(f.name, F.col(f.name)).cast(f.dataType).alias(f.name) for f in schema.fields]
    return F.size("errors") > 0, columns
