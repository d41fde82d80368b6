"""Spark with the Maven-resolved jars: Delta round trip (checked by delta-rs too) and Kafka batch read."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_delta_roundtrip_read_by_spark_and_delta_rs(spark, tmp_path: Path) -> None:
    from deltalake import DeltaTable
    from pyspark.sql import Row
    from pyspark.testing import assertDataFrameEqual

    rows = [
        Row(
            event_id=str(uuid.UUID(int=i)),
            user_id=i,
            gender=g,
            created_at=dt.datetime(2026, 11, 24, 10, i, tzinfo=dt.UTC),
        )
        for i, g in enumerate(["Men", "Women", "Men"])
    ]
    df = spark.createDataFrame(rows)
    path = str(tmp_path / "users")
    df.write.format("delta").mode("overwrite").save(path)

    back = spark.read.format("delta").load(path)
    assertDataFrameEqual(back, df)
    history = spark.sql(f"describe history delta.`{path}`").collect()
    assert [h.operation for h in history] == ["WRITE"]

    table = DeltaTable(path)
    assert table.version() == 0
    by_rs = sorted(table.to_pyarrow_table().to_pylist(), key=lambda r: r["user_id"])
    by_spark = sorted((r.asDict() for r in back.collect()), key=lambda r: r["user_id"])
    assert [(r["event_id"], r["user_id"], r["gender"]) for r in by_rs] == [
        (r["event_id"], r["user_id"], r["gender"]) for r in by_spark
    ]
    assert [r["created_at"].astimezone(dt.UTC) for r in by_rs] == [
        r["created_at"].astimezone(dt.UTC) for r in by_spark
    ]


def test_spark_reads_kafka_topic_as_batch(spark, stack) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"test-spark-{uuid.uuid4().hex[:8]}"
    bootstrap = stack.kafka.bootstrap_servers
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(15)
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i in range(50):
        p.produce(topic, key=str(i), value=json.dumps({"n": i}))
    assert p.flush(15) == 0

    df = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )
    got = sorted((r.key.decode(), json.loads(r.value)["n"]) for r in df.select("key", "value").collect())
    assert got == sorted((str(i), i) for i in range(50))
    assert {r.partition for r in df.select("partition").distinct().collect()} == {0, 1}


def test_a_local_session_keeps_its_scratch_under_the_state_dir_and_copies_no_jars(spark, settings) -> None:
    """A killed session (the stream on kill -9, a crashed job) leaves its scratch behind; that
    must be inside the project's state directory, and small: the engines' ~300 MB of jars are
    read from the cache in place, never copied per session (``spark.jars`` would copy them)."""
    from pyspark import SparkFiles

    from shopstream.spark import local_tmp_dir

    tmp = local_tmp_dir(settings).resolve()
    files_root = Path(SparkFiles.getRootDirectory()).resolve()
    jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
    assert files_root.is_relative_to(tmp), files_root
    assert Path(jvm.java.lang.System.getProperty("java.io.tmpdir")).resolve() == tmp
    assert not [p.name for p in files_root.rglob("*.jar")]
    # the jars are on the class path all the same: Delta and the Kafka source load
    for cls in ("io.delta.tables.DeltaTable", "org.apache.spark.sql.kafka010.KafkaSourceProvider"):
        jvm.java.lang.Class.forName(cls)


def test_an_unchecked_append_carries_its_batch_so_a_checked_replay_skips_it(spark, tmp_path: Path) -> None:
    """``commit_append`` (every batch after a run's first) records the same ``SetTransaction`` as
    Delta's checked write, so the batch replayed after a crash finds it; NOT NULL still holds."""
    from delta.tables import DeltaTable as SparkDeltaTable
    from deltalake import DeltaTable
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    from shopstream.ingest.tables import commit_append, write_append

    schema = StructType([StructField("id", LongType(), False), StructField("h", StringType(), False)])
    path = str(tmp_path / "t")
    SparkDeltaTable.createIfNotExists(spark).location(path).addColumns(schema).partitionedBy("h").execute()

    def rows(first: int, n: int, h: str = "a") -> object:
        return spark.range(first, first + n).select("id", F.lit(h).alias("h"))

    commit_append(rows(0, 5), path, "app-1", 7)
    commit_append(rows(5, 3, "b"), path, "app-1", 8)
    assert DeltaTable(path).transaction_version("app-1") == 8  # what delta-rs reads too
    write_append(rows(5, 3, "b"), path, "app-1", 8)  # the restart's replay of batch 8: skipped
    write_append(rows(0, 5), path, "app-2", 7)  # another app's batch 7 is not
    back = spark.read.format("delta").load(path)
    assert back.count() == 13 and back.where("h = 'b'").count() == 3
    history = spark.sql(f"describe history delta.`{path}`").orderBy("version").collect()
    assert [h.operation for h in history] == ["CREATE TABLE", "WRITE", "WRITE", "WRITE"]
    assert history[1].isBlindAppend and history[1].operationParameters["mode"] == "Append"

    null_h = spark.range(1).select("id", F.lit(None).cast("string").alias("h"))
    with pytest.raises(Exception, match="NOT NULL"):
        commit_append(null_h, path, "app-1", 9)
    assert spark.read.format("delta").load(path).count() == 13


def test_an_unchecked_append_leaves_the_due_checkpoint_to_the_background_thread(
    spark, tmp_path: Path
) -> None:
    """With ``BackgroundCheckpoints``, a commit at a multiple of ``delta.checkpointInterval``
    writes no checkpoint inside the commit call (the batch does not wait for it); the thread
    writes it, so the log stays exactly as bounded as Delta's own hook keeps it."""
    from delta.tables import DeltaTable as SparkDeltaTable
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    from shopstream.ingest.tables import BackgroundCheckpoints, commit_append

    schema = StructType([StructField("id", LongType(), False), StructField("h", StringType(), False)])
    path = str(tmp_path / "t")
    (
        SparkDeltaTable.createIfNotExists(spark)
        .location(path)
        .addColumns(schema)
        .partitionedBy("h")
        .property("delta.checkpointInterval", "3")
        .execute()
    )
    log_dir = Path(path, "_delta_log")

    def checkpoints() -> list[int]:
        return sorted(int(p.name.split(".")[0]) for p in log_dir.glob("*.checkpoint.parquet"))

    class Recorded(BackgroundCheckpoints):
        def __init__(self) -> None:
            super().__init__(log=lambda _line: None)
            self.requests: list[str] = []

        def request(self, spark_: object, path_: str) -> None:
            self.requests.append(path_)

    def rows(first: int) -> object:
        return spark.range(first, first + 4).select("id", F.lit("a").alias("h"))

    held = Recorded()
    versions = [commit_append(rows(4 * b), path, "app-1", b, checkpoints=held) for b in range(4)]
    assert versions == [1, 2, 3, 4]
    assert checkpoints() == []  # version 3 was due: not written inside the commit...
    assert held.requests == [path]  # ...but handed over, once

    background = BackgroundCheckpoints(log=lambda _line: None)
    more = [commit_append(rows(4 * b), path, "app-1", b, checkpoints=background) for b in range(4, 7)]
    background.close()
    assert more == [5, 6, 7] and checkpoints() == [6]  # the thread wrote the one due at 6
    assert background.written == {path: 1}
    assert spark.read.format("delta").load(path).count() == 28

    commit_append(rows(28), path, "app-1", 7)  # without it, Delta's own hook: none due at 8
    commit_append(rows(32), path, "app-1", 8)
    assert checkpoints() == [6, 9]  # due at 9: written inside the commit, as before
