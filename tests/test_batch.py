"""The hourly batch against real Kafka, Spark/Delta and PostgreSQL (warehouse + mart)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.batch_helpers import REPO, ingest, produce

pytestmark = pytest.mark.slow


@pytest.fixture()
def lake_settings(stack, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The test stack's settings with a lake of this test's own."""
    root = str(tmp_path_factory.mktemp("lake"))
    return stack.model_copy(update={"lake": stack.lake.model_copy(update={"root": root})})


def _unique_hour() -> datetime:
    """A distinct past hour per test run, so tests never share an hour in Kafka or the DBs."""
    n = int(uuid.uuid4().int % 20000)
    return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=n)


def _warehouse_hash(settings, hour: datetime) -> str:  # type: ignore[no-untyped-def]
    from shopstream.warehouse import PostgresWarehouse

    h = hashlib.sha256()
    with PostgresWarehouse(settings).connect() as conn, conn.cursor() as cur:
        for table in ("users_dim", "orders_fact"):
            cur.execute(f"select * from {table} where hour_start = %s order by event_id", (hour,))
            for row in cur.fetchall():
                h.update(repr(row).encode())
    return h.hexdigest()


def _mart_values(settings, hour: datetime) -> dict[str, list]:  # type: ignore[no-untyped-def]
    from shopstream import mart

    return {e: mart.hour_rows(settings, e, hour) for e in ("users", "orders")}


def _batch_cli(settings, hour: datetime, *extra: str, env_extra=None) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "SHOPSTREAM_LAKE__ROOT": settings.lake.root, **(env_extra or {})}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "shopstream",
            "batch",
            "run",
            "--hour",
            f"{hour:%Y-%m-%dT%H}",
            "--ignore-watermark",
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
        check=False,
    )


def test_rerun_and_kill_mid_load_give_identical_results(spark, lake_settings) -> None:
    from shopstream import batch, ledger

    hour = _unique_hour()
    summary = produce(
        lake_settings, 3000, hour + timedelta(minutes=1), seed=uuid.uuid4().int % 1_000_000, step="500ms"
    )
    ingest(spark, lake_settings)

    hashes, marts = [], []
    for _ in range(3):
        batch.run_hour(lake_settings, hour)
        hashes.append(_warehouse_hash(lake_settings, hour))
        marts.append(_mart_values(lake_settings, hour))
    assert len(set(hashes)) == 1
    assert marts[0] == marts[1] == marts[2]
    total_users = marts[0]["users"][[r[0] for r in marts[0]["users"]].index("total")][2]
    total_orders = marts[0]["orders"][[r[0] for r in marts[0]["orders"]].index("total")][2]
    assert total_users + total_orders == summary["acked"]["users"] + summary["acked"]["orders"]
    assert total_users > 0 and total_orders > 0

    # one ledger entry per stage per run (3 runs), and the latest reconcile to zero difference
    for entity in ("users", "orders"):
        runs = ledger.runs(lake_settings, hour, entity)
        per_stage: dict[str, int] = {}
        for e in runs:
            per_stage[e.stage] = per_stage.get(e.stage, 0) + 1
        # warehouse_deadletter: rows the warehouse refused (0 here), recorded by every load (#12)
        assert per_stage == {
            "bronze": 3,
            "quarantine": 3,
            "warehouse": 3,
            "warehouse_deadletter": 3,
            "mart": 3,
            "kafka": 3,
        }, per_stage
        assert ledger.differences(ledger.latest(lake_settings, hour, entity)) == []

    # kill -9 a run in the middle of its load, then rerun: same rows, same mart values
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shopstream",
            "batch",
            "run",
            "--hour",
            f"{hour:%Y-%m-%dT%H}",
            "--ignore-watermark",
        ],
        cwd=REPO,
        env={**os.environ, "SHOPSTREAM_LAKE__ROOT": lake_settings.lake.root},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # the export of users is done when its line appears; load follows
        if line.startswith("export") and "users" in line:
            time.sleep(0.3)
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert _warehouse_hash(lake_settings, hour) == hashes[0]  # the half-done load changed nothing
    res = _batch_cli(lake_settings, hour)
    assert res.returncode == 0, res.stderr
    assert _warehouse_hash(lake_settings, hour) == hashes[0]
    assert _mart_values(lake_settings, hour) == marts[0]


def test_mart_equals_direct_computation_from_bronze(spark, lake_settings) -> None:
    from pyspark.sql import functions as F

    from shopstream import batch, mart

    hour = _unique_hour()
    produce(lake_settings, 2000, hour, seed=uuid.uuid4().int % 1_000_000, step="1s")
    ingest(spark, lake_settings)
    batch.run_hour(lake_settings, hour)

    def bronze(entity: str):  # type: ignore[no-untyped-def]
        return (
            spark.read.format("delta")
            .load(f"{lake_settings.lake_root}/bronze/{entity}")
            .where((F.col("event_date") == F.lit(hour.date())) & (F.col("event_hour") == hour.hour))
        )

    users = bronze("users")
    expected_users = {("total", "all"): users.count()}
    for dim, col in (("gender", "gender"), ("region", "address")):
        for r in users.groupBy(col).count().collect():
            expected_users[(dim, r[col])] = r["count"]
    for r in users.groupBy(F.substring_index("email", "@", -1).alias("d")).count().collect():
        expected_users[("email_domain", r["d"])] = r["count"]
    assert {(d, v): n for d, v, n in mart.hour_rows(lake_settings, "users", hour)} == expected_users

    orders = bronze("orders")
    tot = orders.agg(F.count("*").alias("n"), F.sum("price").alias("r")).collect()[0]
    expected_orders = {("total", "all"): (tot["n"], tot["r"])}
    for dim, col in (
        ("first_category", F.col("first_category")),
        ("second_category", F.concat_ws("/", "first_category", "second_category")),
        ("region", F.col("user_region")),
        ("gender", F.col("user_gender")),
    ):
        for r in (
            orders.groupBy(col.alias("v")).agg(F.count("*").alias("n"), F.sum("price").alias("r")).collect()
        ):
            expected_orders[(dim, r["v"])] = (r["n"], r["r"])
    assert {
        (d, v): (n, rev) for d, v, n, rev in mart.hour_rows(lake_settings, "orders", hour)
    } == expected_orders


def test_late_event_corrects_the_processed_hour(spark, lake_settings) -> None:
    from shopstream import batch, ledger, mart

    hour = _unique_hour()
    produce(lake_settings, 1000, hour, seed=uuid.uuid4().int % 1_000_000, step="1s")
    ingest(spark, lake_settings)
    batch.run_hour(lake_settings, hour)
    before = {e: mart.hour_rows(lake_settings, e, hour) for e in ("users", "orders")}

    # one more user sign-up and its order arrive late, with event times inside the processed hour
    # (one initial user, then orders-only loops: the same two events whatever the seed)
    late = produce(
        lake_settings,
        2,
        hour + timedelta(minutes=59),
        seed=uuid.uuid4().int % 1_000_000,
        step="1s",
        extra=("--initial-users", "1", "--users-per-loop", "0", "--ratio-order-user", "1"),
    )
    assert (late["acked"]["users"], late["acked"]["orders"]) == (1, 1), late
    ingest(spark, lake_settings)
    batch.run_hour(lake_settings, hour + timedelta(hours=1))  # the NEXT hour's run detects it

    after = {e: mart.hour_rows(lake_settings, e, hour) for e in ("users", "orders")}
    tot = lambda rows: {(d, v): rest for d, v, *rest in rows}  # noqa: E731
    b, a = tot(before["users"]), tot(after["users"])
    assert a[("total", "all")][0] == b[("total", "all")][0] + 1
    changed = {k for k in a if a.get(k) != b.get(k)}
    assert len(changed) == 4  # total, one gender, one region, one email domain: each +1
    bo, ao = tot(before["orders"]), tot(after["orders"])
    assert ao[("total", "all")][0] == bo[("total", "all")][0] + 1
    corrections = [e for e in ledger.runs(lake_settings, hour, "users") if e.is_correction]
    assert {e.stage for e in corrections} >= {"bronze", "warehouse", "mart", "kafka"}
    assert ledger.differences(ledger.latest(lake_settings, hour, "users")) == []


def test_compaction_while_a_stream_appends(spark, lake_settings, tmp_path: Path) -> None:
    from shopstream.hourly.compact import compact_hour
    from shopstream.hourly.export import checksum_expr

    hour = _unique_hour()
    produce(lake_settings, 600, hour, seed=uuid.uuid4().int % 1_000_000, step="1s")
    path = f"{lake_settings.lake_root}/bronze/users"
    for _ in range(4):  # several small appends → several files in the hour
        ingest(spark, lake_settings)
        produce(
            lake_settings, 150, hour + timedelta(minutes=30), seed=uuid.uuid4().int % 1_000_000, step="1s"
        )
    ingest(spark, lake_settings)

    def hour_stats():  # type: ignore[no-untyped-def]
        df = (
            spark.read.format("delta")
            .load(path)
            .where(f"event_date = '{hour:%Y-%m-%d}' AND event_hour = {hour.hour}")
        )
        row = df.selectExpr("count(distinct event_id) as n", f"{checksum_expr()} as c").collect()[0]
        return len(df.inputFiles()), row["n"], row["c"]

    files_before, n_before, c_before = hour_stats()
    assert files_before > 1
    # a real Structured Streaming query keeps appending later hours to the same table
    later = (
        spark.readStream.format("rate")
        .option("rowsPerSecond", 20)
        .load()
        .selectExpr(
            "uuid() as event_id",
            "1 as schema_version",
            "value + 900000000 as user_id",
            "'n' as name",
            "'a@gmail.com' as email",
            "'010' as phone_number",
            "'Men' as gender",
            "'Seoul' as address",
            "timestamp as created_at",
            "to_date(timestamp) as event_date",
            "hour(timestamp) as event_hour",
            "'rate' as kafka_topic",
            "0 as kafka_partition",
            "value as kafka_offset",
            "timestamp as kafka_timestamp",
            "timestamp as ingested_at",
        )
    )
    bronze_schema = spark.read.format("delta").load(path).schema
    later = later.select(*[later[f.name].cast(f.dataType) for f in bronze_schema.fields])
    q = (
        later.writeStream.format("delta")
        .option("checkpointLocation", str(tmp_path / "ckpt"))
        .trigger(processingTime="1 second")
        .start(path)
    )
    try:
        time.sleep(4)
        res = compact_hour(spark, path, hour)
        time.sleep(3)
        assert q.isActive and q.exception() is None
        progressed = q.lastProgress["batchId"]
    finally:
        q.stop()
    files_after, n_after, c_after = hour_stats()
    assert (n_after, c_after) == (n_before, c_before)
    assert files_after < files_before and res.files_after == files_after
    assert progressed >= 2
