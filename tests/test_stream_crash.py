"""Crash safety: kill -9 the stream driver at random points while producing; nothing lost or doubled.

The job runs as a real background process (``shopstream.streaming``, i.e. ``python
jobs/run_stream.py``); each crash is SIGKILL to its whole process group (Python driver and
JVM, no shutdown hook runs): three at random moments, then one exactly between two commits of
one batch (the job's test failpoint kills it right after bronze/users committed in the second
batch of that run, one committed without Delta's txnVersion check; bronze/orders, the
quarantine, the watermark and Spark's own commit of that batch may or may not have happened).
Every restart resumes from the same checkpoint and its dedupe state. At the end one graceful
stop (SIGTERM) must leave the checkpoint with no half-done batch.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from shopstream.ingest.params import StreamParams
from shopstream.ingest.writer import KILL_AFTER_COMMIT_ENV

pytestmark = pytest.mark.slow


def _batches_logged(log: Path, since: int) -> int:
    if not log.exists():
        return 0
    return log.read_text(errors="replace")[since:].count("[stream] batch=")


def _wait_for_batch(log: Path, since: int, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while _batches_logged(log, since) == 0:
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)


def _last_commit(settings: Any) -> int:
    """The last batch id Spark's checkpoint committed (-1 before the first)."""
    from shopstream import lake

    commits = Path(lake.checkpoint_path(settings)) / "commits"
    return max((int(p.name) for p in commits.iterdir() if p.name.isdigit()), default=-1)


@pytest.mark.timeout(2400)  # five JVM starts; under a loaded shared machine each takes minutes
def test_kill_9_at_random_points_then_restart_loses_and_doubles_nothing(
    stack, spark, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from producer.options import ProduceOptions
    from producer.runner import ProducerRun
    from shopstream import config, kafka_admin, lake, streaming
    from shopstream.ingest import stream as stream_ingest

    monkeypatch.setenv("SHOPSTREAM_LAKE__ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("SHOPSTREAM_STATE_DIR", str(tmp_path / "state"))
    settings = config.load("local")
    prefix = f"c{uuid.uuid4().hex[:8]}."
    kafka_admin.ensure_topics(settings, topic_prefix=prefix)
    rnd = random.Random()
    result: dict[str, Any] = {}
    run = ProducerRun(
        ProduceOptions(
            topic_prefix=prefix,
            count=2400,
            rate=50.0,
            seed=7,
            malformed=0.05,
            duplicates=0.05,
            initial_users=20,
        ),
        settings,
    )
    producer = threading.Thread(target=lambda: result.update(run.run().to_dict()), daemon=True)
    producer.start()
    extra = ["--trigger", "1s", "--max-offsets-per-trigger", "120", "--topic-prefix", prefix]
    log = streaming.log_file(settings)
    kills = 0
    try:
        for _ in range(3):
            since = len(log.read_text(errors="replace")) if log.exists() else 0
            st = streaming.start(settings, extra, wait_seconds=180)
            assert st.running, log.read_text(errors="replace")[-3000:]
            _wait_for_batch(log, since)  # at least one batch committed, then die at a random point
            time.sleep(rnd.uniform(0.0, 3.0))
            streaming.stop(settings, force=True, timeout=30)
            kills += 1
        # a kill between two commits of one batch: right after bronze/users committed in the
        # second batch of the run (the first is the one a restart checks; fresh events first, 4+
        # batches of them, so the restarted job surely has a second batch to die in)
        more = ProducerRun(
            ProduceOptions(
                topic_prefix=prefix, count=600, seed=8, first_user_id=50_000, first_order_id=50_000
            ),
            settings,
        ).run()
        assert more.ok
        last_before = _last_commit(settings)
        monkeypatch.setenv(KILL_AFTER_COMMIT_ENV, "users:2")
        try:
            streaming.start(settings, extra)
        finally:
            monkeypatch.delenv(KILL_AFTER_COMMIT_ENV)
        deadline = time.monotonic() + 300
        while streaming.status(settings).running:
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        users_txn = max(lake.snapshot(settings, lake.bronze_path(settings, "users")).txns.values())
        # died in the run's second batch (its first is last_before + 1), after its users commit
        assert users_txn >= last_before + 2 and users_txn > _last_commit(settings), (users_txn, last_before)
        kills += 1
        # one more start, then a graceful stop (SIGTERM) while the producer may still be running
        since = len(log.read_text(errors="replace"))
        streaming.start(settings, extra, wait_seconds=180)
        _wait_for_batch(log, since)
        time.sleep(rnd.uniform(0.0, 2.0))
        streaming.stop(settings, timeout=180)
        assert not streaming.status(settings).running
        # graceful: every Delta commit belongs to a batch Spark's checkpoint has committed
        cp = Path(lake.checkpoint_path(settings))
        last_commit = max(int(p.name) for p in (cp / "commits").iterdir() if p.name.isdigit())
        for path in (lake.bronze_path(settings, "users"), lake.bronze_path(settings, "orders")):
            txns = lake.snapshot(settings, path).txns
            assert txns and max(txns.values()) <= last_commit, (txns, last_commit)
        assert "[stream] stopped" in log.read_text(errors="replace")[since:]
    finally:
        streaming.stop(settings, force=True, timeout=30)
        producer.join(timeout=120)
    assert kills == 4 and result.get("ok"), result
    # drain what is left in Kafka on the same checkpoint (in this process: no extra JVM start)
    params = StreamParams(topic_prefix=prefix, available_now=True, max_offsets_per_trigger=2000).validate()
    handle = stream_ingest.start(spark, settings, params, log=lambda _l: None)
    handle.wait(timeout=300)
    for entity in ("users", "orders"):
        df = spark.read.format("delta").load(lake.bronze_path(settings, entity))
        n = result["acked"][entity] + more.acked[entity]
        assert df.select("event_id").distinct().count() == n
        assert df.count() == n, "duplicates in bronze"
    q = spark.read.format("delta").load(lake.quarantine_path(settings))
    assert q.count() == result["acked"]["malformed_total"] + more.acked["malformed_total"]
    assert q.select("kafka_topic", "kafka_partition", "kafka_offset").distinct().count() == q.count()
    assert result["acked"]["duplicates"] > 0
