"""Archive throughput: events/s the Connect S3 sink archives vs a plain consumer on the same topic.

Run against a running local stack (`shopstream up`); it produces N orders-shaped events into the
orders topic with event times in one hour of 2002 (random), then

1. a plain confluent-kafka consumer (new group, from the earliest offset) reads the topic to its
   end: events/s read;
2. the archive worker (`shopstream.archive.start`) archives the topic from its committed offsets;
   the clock stops when every produced event_id is in the bucket: events/s archived.

Both rates are over the events this run produced (the consumer's rate is over all it read).
Example:
    .venv/bin/python bench/archive_bench.py --events 20000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from shopstream import archive
from shopstream import config as config_mod


def produce(settings: config_mod.Settings, topic: str, n: int, hour: datetime) -> set[str]:
    from confluent_kafka import Producer

    p = Producer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "enable.idempotence": True,
            "linger.ms": 20,
        }
    )
    ids: set[str] = set()
    for i in range(n):
        created = hour + timedelta(microseconds=(i * 3_599_000_000) // max(n - 1, 1))
        ev = {
            "event_id": str(uuid.uuid4()),
            "schema_version": 1,
            "order_id": i,
            "created_at": created.isoformat(timespec="microseconds"),
        }
        ids.add(ev["event_id"])
        while True:
            try:
                p.produce(
                    topic,
                    json.dumps(ev).encode(),
                    str(i).encode(),
                    timestamp=int(created.timestamp() * 1000),
                )
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    if p.flush(60) != 0:
        raise SystemExit("bench: producer could not deliver every event")
    return ids


def plain_consumer_rate(settings: config_mod.Settings, topic: str) -> tuple[int, float]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": f"bench-archive-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    md = c.list_topics(topic, timeout=10).topics[topic]
    ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in md.partitions}
    # assign (no group rebalance to wait for), from the beginning of every partition
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.partitions])
    done: dict[int, int] = {}
    n = 0
    start = time.monotonic()
    while len(done) < len([p for p, end in ends.items() if end > 0]):
        for msg in c.consume(1000, timeout=1.0):
            if msg.error():
                continue
            n += 1
            json.loads(msg.value())  # the archive parses every value too (JsonConverter)
            if msg.offset() + 1 >= ends[msg.partition()]:
                done[msg.partition()] = 1
        if time.monotonic() - start > 300:
            raise SystemExit("bench: plain consumer did not reach the end in 300 s")
    elapsed = time.monotonic() - start
    c.close()
    return n, elapsed


def archive_rate(settings: config_mod.Settings, ids: set[str], hour: datetime) -> float:
    start = time.monotonic()
    archive.start(settings)
    while True:
        got = archive.read_hour(settings, hour, ["orders"])["orders"]
        if ids <= got.event_ids:
            return time.monotonic() - start
        if time.monotonic() - start > 600:
            raise SystemExit(f"bench: only {len(ids & got.event_ids)}/{len(ids)} archived after 600 s")
        time.sleep(1.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20000, help="events to produce (default 20000)")
    ap.add_argument("--profile", default="local", help="settings profile (default local)")
    args = ap.parse_args()
    settings = config_mod.load(args.profile)
    topic = archive.topics()["orders"]
    hour = datetime(2002, 1, 1, tzinfo=UTC) + timedelta(hours=random.randrange(0, 24 * 360))

    t0 = time.monotonic()
    ids = produce(settings, topic, args.events, hour)
    print(f"produced {len(ids)} events in {time.monotonic() - t0:.1f}s (event hour {hour:%Y-%m-%dT%H})")
    n, secs = plain_consumer_rate(settings, topic)
    print(f"plain consumer: {n} events in {secs:.1f}s = {n / secs:,.0f} events/s")
    if archive.find_plugin(settings) is None:
        print(
            "archive: not measured: the S3 sink plugin is not in <jars>/connect-plugins "
            "(see conf/connect/README.md)"
        )
        return 2
    secs_a = archive_rate(settings, ids, hour)
    print(
        f"archive (start -> all {len(ids)} in S3, incl. JVM start, "
        f"flush every {archive.flush_interval_ms()} ms): "
        f"{secs_a:.1f}s = {len(ids) / secs_a:,.0f} events/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
