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
from shopstream.hourly.args import hourly_parser
from shopstream.lake import bronze_path, delta_table
from shopstream.storage import write_text
from shopstream.warehouse_schema import columns

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from shopstream.config import Settings


@dataclass(frozen=True)
class ExportResult:
    entity: str
    hour: str
    run_id: str
    path: str
    manifest: str
    rows: int
    checksum: int
    files: int
    bronze_version: int


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
    out = transform_export(bronze, entity, hour)
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
        int(stats["n"]),
        int(stats["c"]),
        len(entries),
        bronze_version,
    )
    write_text(settings, f"{dest}/_export.json", json.dumps(asdict(res), indent=1))
    return res


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
