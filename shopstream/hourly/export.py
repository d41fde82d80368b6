"""Export one hour of one entity for the warehouse (spark-submit entry point).

Reads hour H from bronze (event time), deduplicates on ``event_id``, shapes the warehouse
columns (derived from the contract, see ``shopstream/warehouse_schema.py``) and writes them as
a small Delta table under an append-only prefix per hour and run::

    <export_root>/<entity>/dt=2026-11-24/hh=10/run=<run_id>/

The Redshift COPY manifest next to it lists exactly the data files of that table's snapshot —
read from its Delta log, never from listing a prefix — with the content lengths Redshift
requires for Parquet. ``_export.json`` records rows, checksum and the bronze version read.

    spark-submit jobs/export.py --profile local --entity users --hour 2026-11-24T10 --run-id r1
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote

from shopstream import config, mart
from shopstream.contract import load_contract
from shopstream.hourly.args import hourly_parser
from shopstream.lake import bronze_path, delta_table, warehouse_deadletter_path
from shopstream.storage import write_text
from shopstream.validity import forbidden_text_class
from shopstream.warehouse_schema import columns

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from shopstream.config import Settings


@dataclass(frozen=True)
class ExportResult:
    entity: str
    hour: str
    run_id: str
    path: str
    manifest: str
    rows: int  # distinct events of the hour in bronze (exported + dead letters)
    checksum: int
    files: int
    bronze_version: int
    dead_letters: int = 0  # rows the warehouse could not load: in the dead-letter table instead
    dead_checksum: int = 0


def run_path(export_root: str, entity: str, hour: datetime, run_id: str) -> str:
    return f"{export_root}/{entity}/dt={hour:%Y-%m-%d}/hh={hour:%H}/run={run_id}"


def checksum_expr(column: str = "event_id") -> str:
    """Spark SQL for the ledger checksum: sum of the first 8 hex digits of md5(event_id).
    The same formula is in sql/redshift/hour_checksum.sql (Redshift and PostgreSQL)."""
    return f"coalesce(sum(cast(conv(substring(md5({column}), 1, 8), 16, 10) as bigint)), 0)"


def transform_export(bronze: DataFrame, entity: str, hour: datetime | None) -> DataFrame:
    """Hour H of a bronze table (every hour if None) → the warehouse's columns, one row per
    event_id (pure)."""
    from pyspark.sql import functions as F

    df = bronze
    if hour is not None:
        df = df.where((F.col("event_date") == F.lit(hour.date())) & (F.col("event_hour") == F.lit(hour.hour)))
    df = df.dropDuplicates(["event_id"])
    df = df.withColumn("hour_start", F.date_trunc("hour", F.col("created_at")))
    if entity == "users":
        df = df.withColumn("email_domain", F.substring_index(F.col("email"), "@", -1))
    cols = columns(entity)
    return df.select(*[F.col(c.name).cast(c.spark_type_for_export()) for c in cols])


def unloadable_reason(entity: str, ingested_col: str = "ingested_at") -> Column:
    """Why a bronze row cannot be loaded (null = loadable): the contract's rules on typed columns.

    The stream only lands valid events, so this is empty for every row it wrote; it catches rows
    an older validator let through (a U+0000 that PostgreSQL/Redshift COPY refuse, a year-0000
    timestamp, a string longer than its VARCHAR), which would otherwise fail the hour's load on
    every retry. Such a row goes to the warehouse dead-letter table and the ledger counts it.
    """
    from pyspark.sql import functions as F

    contract = load_contract()
    forbidden = forbidden_text_class(contract.validity.forbidden_text, "java")
    reasons = []
    for f in contract.entity(entity).fields:
        c, lt = F.col(f.name), contract.logical_types[f.type]
        if not f.nullable:
            reasons.append(F.when(c.isNull(), F.lit(f"{f.name}: null")))
        if lt.wire == "string" and f.type != "timestamp":
            reasons.append(F.when(c.rlike(forbidden), F.lit(f"{f.name}: forbidden character")))
            if lt.pattern is not None:
                whole = f"^(?:{lt.pattern})\\z"
                reasons.append(F.when(~c.rlike(whole), F.lit(f"{f.name}: not a valid {f.type}")))
        if f.max_length is not None:
            too_long = F.char_length(c) > f.max_length
            reasons.append(F.when(too_long, F.lit(f"{f.name}: longer than {f.max_length}")))
        for bound, op in ((f.min, "<"), (f.max, ">")):
            if bound is not None:
                bad = c < F.lit(bound) if op == "<" else c > F.lit(bound)
                reasons.append(F.when(bad, F.lit(f"{f.name}: {op} {bound}")))
        if f.type == "timestamp":
            if lt.earliest_time is not None:
                reasons.append(F.when(c < F.lit(lt.earliest_time), F.lit(f"{f.name}: before {lt.earliest}")))
            if lt.max_future_skew_seconds is not None:
                late = F.col(ingested_col) + F.expr(f"INTERVAL {int(lt.max_future_skew_seconds)} SECONDS")
                reasons.append(F.when(c > late, F.lit(f"{f.name}: later than its ingest time + skew")))
    # concat_ws skips nulls itself; no filter(array(...)): a higher-order function is evaluated
    # interpreted (CodegenFallback), every check inside it with it, on every row of the hour
    joined = F.concat_ws("; ", *reasons)
    return F.when(joined != "", joined)


def manifest_entries(settings: Settings, table_path: str) -> list[dict[str, object]]:
    """Data files of the export table's latest snapshot, read from its Delta log (a retried
    export into the same run folder overwrites: only the current snapshot's files count)."""
    import pyarrow as pa  # here, not at the top: heavy, and only the manifest needs it

    adds = pa.table(delta_table(settings, table_path).get_add_actions(flatten=True)).to_pylist()
    base = table_path.replace("s3a://", "s3://")
    return [
        {
            "url": f"{base}/{unquote(add['path'])}",
            "mandatory": True,
            "meta": {"content_length": int(add["size_bytes"])},
        }
        for add in sorted(adds, key=lambda a: a["path"])
    ]


def export_hour(
    spark: SparkSession, settings: Settings, entity: str, hour: datetime, run_id: str
) -> ExportResult:
    src = bronze_path(settings, entity)
    bronze_version = int(spark.sql(f"DESCRIBE HISTORY delta.`{src}` LIMIT 1").collect()[0]["version"])
    bronze = spark.read.format("delta").option("versionAsOf", bronze_version).load(src)
    from pyspark.sql import functions as F

    hour_rows = bronze.where(
        (F.col("event_date") == F.lit(hour.date())) & (F.col("event_hour") == F.lit(hour.hour))
    ).withColumn("_unloadable", unloadable_reason(entity))
    dead = write_dead_letters(spark, settings, entity, hour, run_id, hour_rows)
    out = transform_export(hour_rows.where(F.col("_unloadable").isNull()), entity, hour)
    dest = run_path(settings.export_root, entity, hour, run_id)
    # One run = one new folder: a retried run writes a new one; the manifest names which files count.
    target_files = max(1, settings.spark.shuffle_partitions // 2)
    out.coalesce(target_files).write.format("delta").mode("overwrite").save(dest)
    written = spark.read.format("delta").load(dest)
    stats = written.selectExpr("count(*) as n", f"{checksum_expr()} as c").collect()[0]
    entries = manifest_entries(settings, dest)
    manifest = f"{dest}/manifest.json"
    write_text(settings, manifest, json.dumps({"entries": entries}, indent=1))
    res = ExportResult(
        entity,
        f"{hour:%Y-%m-%dT%H}",
        run_id,
        dest,
        manifest,
        int(stats["n"]) + dead[0],
        int(stats["c"]) + dead[1],
        len(entries),
        bronze_version,
        dead[0],
        dead[1],
    )
    write_text(settings, f"{dest}/_export.json", json.dumps(asdict(res), indent=1))
    return res


def write_dead_letters(
    spark: SparkSession, settings: Settings, entity: str, hour: datetime, run_id: str, hour_rows: DataFrame
) -> tuple[int, int]:
    """Replace (entity, hour) in the warehouse dead-letter table with this run's unloadable rows.

    Returns their (count, checksum). Idempotent: a rerun of the hour rewrites the same partition.
    """
    from pyspark.sql import functions as F

    bad = hour_rows.where(F.col("_unloadable").isNotNull()).dropDuplicates(["event_id"])
    rows = bad.select(
        F.lit(entity).alias("entity"),
        F.lit(hour.replace(tzinfo=None)).cast("timestamp").alias("hour_start"),
        F.col("event_id"),
        F.col("_unloadable").alias("reason"),
        F.to_json(F.struct(*[c for c in hour_rows.columns if c != "_unloadable"])).alias("row"),
        F.lit(run_id).alias("run_id"),
        F.current_timestamp().alias("dead_lettered_at"),
    ).cache()
    try:
        stats = rows.selectExpr("count(*) as n", f"{checksum_expr()} as c").collect()[0]
        n, c = int(stats["n"]), int(stats["c"])
        if n:  # bronze only ever gains valid rows: a rerun finds the same ones (or none)
            where = f"entity = '{entity}' AND hour_start = '{hour:%Y-%m-%d %H}:00:00'"
            rows.write.format("delta").mode("overwrite").option("replaceWhere", where).save(
                warehouse_deadletter_path(settings)
            )
        return n, c
    finally:
        rows.unpersist()


def main(argv: list[str] | None = None) -> int:
    """spark-submit entry point: the batch's export step (it also records the ledger's bronze and
    quarantine entries), exactly what ``shopstream batch run --step export`` does."""
    # here, not at the top: shopstream.batch imports this module (the two stay acyclic at import)
    from shopstream.batch import Runner

    args = hourly_parser("Export one hour of one entity for the warehouse.").parse_args(argv)
    settings = config.load(args.profile)
    mart.ensure_schema(settings)
    out = Runner(settings, args.run_id, report=print).run_step("export", args.entity, args.hour)
    print(json.dumps(out, default=str))
    return 0


# Parquet timestamps as INT64 microseconds (what Redshift COPY and pyarrow read natively).
EXPORT_CONF = {"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS"}


if __name__ == "__main__":
    sys.exit(main())
