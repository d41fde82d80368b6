"""Archive throughput: events/s the project's S3 sink plugin archives vs a plain consumer, same topics.

Needs a running stack (``shopstream up``, or the test stack with its SHOPSTREAM_* variables) and
the plugin (``shopstream jars``). Everything goes to fresh topics (``--topic-prefix``) and a fresh
key prefix in the archive bucket, all deleted at the end.

1. ``shopstream produce`` sends N real events (users + orders) to each of two sets of bench
   topics ("cold" and "warm" rounds, same generator and count).
2. Plain consumer (confluent-kafka, assigned from the beginning), once per set: first record
   received -> last record received, and its CPU time. It only reads: the ceiling of what
   anything can do with these topics.
3. The archive: a Connect standalone worker with the project's S3 sink, one bench connector per
   set (the repository's connector properties, a bench name, key prefix and dead-letter topic).
   Clock, for each: the task's first "archiving <partition> from offset" log line (first record
   read, as the plain consumer's clock: the JVM start and the consumer group join are excluded)
   -> the connector's committed offsets reach the end of its topics (committed only after every
   upload of the flush: every object is visible), polled every 0.1 s. Full buffers
   (``flush.size``) upload in the background while the task reads; the worker's offset flush
   (``offset.flush.interval.ms``) is made 1 s, so the wait for the last flush is at most ~1 s of
   the measured time (included, not subtracted). "cold" runs in the freshly started worker JVM
   (JIT warm-up included); "warm" is a second connector added through the worker's REST API
   once "cold" caught up: the same JVM, JIT-compiled code (steady state). The worker's CPU time
   (all its threads, /proc) over each window gives CPU per record, less noisy than wall time
   on a shared machine.
4. Checks the bucket: exactly N records, N distinct event_ids per round.

Target: archive >= 0.5 x plain consumer. Also prints the plugin's size (directory and zip).

Example:
    .venv/bin/python bench/archive_bench.py --events 200000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from shopstream import config as config_mod
from shopstream import connect_plugin
from shopstream.archive import connector, local_worker, reader
from shopstream.contract import load_contract

CLI = [sys.executable, "-m", "shopstream"]
_FIRST_READ = re.compile(
    r"^\[(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3})\] INFO archiving (\S+) from offset", re.MULTILINE
)


def produce(prefix: str, events: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "s.json"
        subprocess.run(
            [
                *CLI,
                "produce",
                "--topic-prefix",
                prefix,
                "--count",
                str(events),
                "--seed",
                str(int(time.time())),
                "--start-time",
                "2026-10-01T00:00:00+00:00",
                "--time-step",
                "20ms",
                "--summary-json",
                str(summary),
                "--no-progress",
            ],
            check=True,
            capture_output=True,
        )
        data: dict[str, Any] = json.loads(summary.read_text())
        return data


def end_offsets(settings: config_mod.Settings, topics: list[str]) -> dict[tuple[str, int], int]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": "bench-archive-ends"})
    try:
        out = {}
        for t in topics:
            for p in c.list_topics(t, timeout=10).topics[t].partitions:
                out[(t, p)] = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1]
        return out
    finally:
        c.close()


def plain_consumer(
    settings: config_mod.Settings, ends: dict[tuple[str, int], int]
) -> tuple[int, float, float]:
    """Records read, seconds from the first record received to the last, and CPU seconds used."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": f"bench-archive-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    c.assign([TopicPartition(t, p, OFFSET_BEGINNING) for (t, p), end in ends.items() if end > 0])
    left = {tp for tp, end in ends.items() if end > 0}
    n, first, last, cpu0 = 0, 0.0, 0.0, 0.0
    deadline = time.monotonic() + 600
    try:
        while left and time.monotonic() < deadline:
            for msg in c.consume(5000, timeout=1.0):
                if msg.error():
                    continue
                if not n:
                    first, cpu0 = time.monotonic(), time.process_time()
                n += 1
                if msg.offset() + 1 >= ends[(msg.topic(), msg.partition())]:
                    left.discard((msg.topic(), msg.partition()))
            last, cpu1 = time.monotonic(), time.process_time()
    finally:
        c.close()
    if left:
        raise SystemExit(f"bench: the plain consumer did not reach the end of {sorted(left)}")
    return n, last - first, cpu1 - cpu0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def committed_lag(settings: config_mod.Settings, group: str, ends: dict[tuple[str, int], int]) -> int:
    from confluent_kafka import Consumer, TopicPartition

    servers = settings.kafka.bootstrap_servers
    c = Consumer({"bootstrap.servers": servers, "group.id": group, "enable.auto.commit": False})
    try:
        got = c.committed([TopicPartition(t, p) for (t, p) in ends], timeout=10)
        return sum(max(ends[(tp.topic, tp.partition)] - max(tp.offset, 0), 0) for tp in got)
    finally:
        c.close()


def first_read(log_file: Path, since: int, topics: list[str]) -> float:
    """Epoch seconds of the task's first 'archiving ... from offset' line of the bench topics."""
    text = log_file.read_bytes()[since:].decode("utf-8", "replace")
    stamps = [
        datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        for line in text.splitlines()
        if (m := _FIRST_READ.match(line)) and any(m.group(2).startswith(t + "-") for t in topics)
    ]
    if not stamps:
        raise SystemExit(f"bench: no 'archiving ... from offset' line in {log_file}")
    return min(stamps)


def bucket_check(settings: config_mod.Settings, key_prefix: str) -> tuple[int, int, int]:
    """(objects, records, distinct event_ids) under the bench's key prefix."""
    from shopstream.aws import boto_client

    s3 = boto_client(settings, "s3")
    objects, records, ids = 0, 0, set()
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.s3.archive_bucket, Prefix=key_prefix
    ):
        for obj in page.get("Contents", []):
            objects += 1
            body = s3.get_object(Bucket=settings.s3.archive_bucket, Key=obj["Key"])["Body"].read()
            if obj["Key"].endswith(".gz"):
                body = gzip.decompress(body)
            for raw in reader.records(body):
                records += 1
                ids.add(json.loads(raw)["event_id"])
    return objects, records, len(ids)


def cleanup(settings: config_mod.Settings, topics: list[str], key_prefix: str) -> None:
    from confluent_kafka.admin import AdminClient

    from shopstream.aws import boto_client

    AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers}).delete_topics(topics)
    s3 = boto_client(settings, "s3")
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.s3.archive_bucket, Prefix=key_prefix
    ):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=settings.s3.archive_bucket, Delete={"Objects": keys})


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def add_connector(props: dict[str, str]) -> None:
    """Start one more connector in the running standalone worker (its REST API, loopback)."""
    import urllib.request

    body = json.dumps({"name": props["name"], "config": props}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{local_worker.rest_port()}/connectors",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        resp.read()


def measure_archive(
    settings: config_mod.Settings,
    pid: int,
    name: str,
    topics: list[str],
    ends: dict[tuple[str, int], int],
    log_file: Path,
    since: int,
) -> tuple[float, float]:
    """(seconds, worker CPU seconds) from the task's first read of ``topics`` to committed = end."""
    deadline = time.monotonic() + 900
    cpu_first = None  # the worker's CPU when this connector's first read shows in the log
    while committed_lag(settings, f"connect-{name}", ends):
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {name} did not catch up in 900 s")
        if cpu_first is None:
            text = log_file.read_bytes()[since:].decode("utf-8", "replace")
            if any(any(m.group(2).startswith(t + "-") for t in topics) for m in _FIRST_READ.finditer(text)):
                cpu_first = cpu_seconds(pid)
        time.sleep(0.1)
    done, cpu_done = time.time(), cpu_seconds(pid)
    began = first_read(log_file, since, topics)
    return done - began, cpu_done - (cpu_first if cpu_first is not None else cpu_done)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000, help="events per round (default 200000)")
    ap.add_argument("--profile", default="local", help="settings profile (default local)")
    ap.add_argument(
        "--compression", choices=("none", "gzip"), default="none", help="file.compression.type (default none)"
    )
    args = ap.parse_args()
    settings = config_mod.load(args.profile)
    if local_worker.find_plugin(settings) is None:
        raise SystemExit("bench: the archive plugin is not built; run `shopstream jars`")
    run = uuid.uuid4().hex[:8]
    entities = [e.topic for e in load_contract().entities.values()]
    rounds = {}  # "cold" / "warm" -> (topic prefix, topics, ends)
    for label in ("cold", "warm"):
        prefix = f"bench-archive-{run}-{label}."
        topics = [prefix + t for t in entities]
        summary = produce(prefix, args.events)
        ends = end_offsets(settings, topics)
        rounds[label] = (prefix, topics, ends)
        total = sum(ends.values())
        sent = summary.get("total", total)
        print(f"{label}: produced {sent} events into {', '.join(topics)} ({total} records)")
    key_prefix = f"bench/{run}/"

    plain: dict[str, tuple[int, float, float]] = {}
    for label, (_, _, ends) in rounds.items():
        n, secs, cpu_plain = plain_consumer(settings, ends)
        plain[label] = (n, secs, cpu_plain)
        print(
            f"plain consumer ({label} topics): {n} records in {secs:.2f}s = {n / secs:,.0f} records/s "
            f"(CPU {cpu_plain:.2f}s = {cpu_plain / n * 1e6:.2f} us/record)"
        )

    def props(label: str) -> dict[str, str]:
        prefix, topics, _ = rounds[label]
        return {
            **connector.connector_properties(settings, load_contract().entity_names[0], "local"),
            "name": f"bench-archive-{run}-{label}",
            "topics": ",".join(topics),
            "aws.s3.prefix": f"{key_prefix}{label}/",
            "flush.interval.ms": "0",
            "file.compression.type": args.compression,
            "errors.deadletterqueue.topic.name": f"{prefix}dlq",
        }

    os.environ[local_worker.FLUSH_ENV] = "1000"
    log_file = local_worker.workdir(settings) / "connect.log"
    since = log_file.stat().st_size if log_file.exists() else 0
    measured: dict[str, tuple[float, float]] = {}
    # cold: a fresh worker JVM (JVM start and group join excluded, JIT warm-up included);
    # warm: a second connector added to the same worker once the first caught up (JIT warm)
    pid = local_worker.launch(settings, with_connectors=False, extra_connectors=[props("cold")])
    try:
        _, topics, ends = rounds["cold"]
        name = props("cold")["name"]
        measured["cold"] = measure_archive(settings, pid, name, topics, ends, log_file, since)
        since = log_file.stat().st_size
        add_connector(props("warm"))
        _, topics, ends = rounds["warm"]
        name = props("warm")["name"]
        measured["warm"] = measure_archive(settings, pid, name, topics, ends, log_file, since)
    finally:
        local_worker.stop(settings, timeout=30)
    ok = True
    for label, (secs_a, cpu_a) in measured.items():
        total = sum(rounds[label][2].values())
        n, secs, cpu_plain = plain[label]
        objects, records, distinct = bucket_check(settings, f"{key_prefix}{label}/")
        ok = ok and records == total and distinct == total
        print(
            f"archive ({label}): {total} records in {secs_a:.2f}s = {total / secs_a:,.0f} records/s "
            f"(first read -> committed; worker CPU {cpu_a:.2f}s = {cpu_a / total * 1e6:.2f} us/record); "
            f"bucket: {objects} objects, {records} records, {distinct} distinct event_ids"
        )
        print(
            f"ratio archive / plain consumer ({label}): {total / secs_a / (n / secs):.2f}x (target >= 0.5x);"
            f" CPU per record plain {cpu_plain / n * 1e6:.2f} us vs worker {cpu_a / total * 1e6:.2f} us"
        )
    for label, (prefix, topics, _) in rounds.items():
        cleanup(settings, [*topics, f"{prefix}dlq"], f"{key_prefix}{label}/")
    jar_dir = connect_plugin.plugin_dir(settings)
    print(
        f"plugin: {size_mb(jar_dir):.1f} MB in {len(list(jar_dir.glob('*.jar')))} jars, "
        f"zip {size_mb(connect_plugin.zip_path(settings)):.1f} MB"
    )
    if not ok:
        print("bench: the bucket does not hold every record exactly once", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
