"""Real-time path benchmark: the local consumer vs raw ``_bulk``, and produce -> searchable latency.

Needs a running stack (``shopstream up``, or the test stack with its SHOPSTREAM_* variables).
Everything goes to a fresh topic prefix and index prefix, deleted at the end.

1. throughput: N events are produced first; then
   * the consumer (``shopstream.realtime.consumer.run``, 1 worker, --max-events N) from the first
     batch received to the last commit (Kafka fetch + contract check + transforms + bulk + commit);
   * raw ``_bulk`` of the very same documents, pre-built and pre-serialized (NDJSON bodies of the
     consumer's batch size), POSTed one after another into the same node with the same template
     and the same response filter as the consumer (so neither side parses the full response).
   Target: consumer >= 0.7 x raw.
2. latency: the consumer runs (``shopstream realtime`` subprocess) while ``shopstream produce --rate R``
   sends for D seconds; on top, 20 probe sign-ups/s with known send times go to the same topic and
   an ``ids`` search every 50 ms records when each became searchable (search, not GET: refreshed).
   Target: p95 <= 2 s at 2,000 events/s.

Example:
    .venv/bin/python bench/realtime_bench.py --events 40000 --rate 2000 --duration 20
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opensearchpy import TransportError

from shopstream import config
from shopstream.realtime.bulk import BULK_RESPONSE_FILTER
from shopstream.realtime.consumer import run
from shopstream.realtime.opensearch import client, install_templates
from shopstream.realtime.options import RunOptions
from shopstream.realtime.spec import entity_indexes

CLI = [sys.executable, "-m", "shopstream"]
Docs = list[tuple[str, str, dict[str, Any]]]  # (index, _id, _source)


def produce(prefix: str, args: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "s.json"
        subprocess.run(
            [
                *CLI,
                "produce",
                "--topic-prefix",
                prefix,
                "--summary-json",
                str(summary),
                "--no-progress",
                *args,
            ],
            check=True,
            capture_output=True,
        )
        data: dict[str, Any] = json.loads(summary.read_text())
        return data


def read_docs(settings: config.Settings, prefix: str) -> Docs:
    """(index, _id, _source) of every document the consumer wrote under ``prefix``."""
    c = client(settings)
    out: Docs = []
    res = c.search(index=f"{prefix}shopstream-users-*,{prefix}shopstream-orders-*", scroll="2m", size=5000)
    while res["hits"]["hits"]:
        out.extend((h["_index"], h["_id"], h["_source"]) for h in res["hits"]["hits"])
        res = c.scroll(scroll_id=res["_scroll_id"], scroll="2m")
    c.clear_scroll(scroll_id=res["_scroll_id"])
    return out


def raw_bulk(settings: config.Settings, docs: Docs, prefix: str, batch: int) -> float:
    """POST ``docs`` (index names without prefix) under ``prefix`` in bodies of ``batch``; seconds."""
    bodies = []
    for i in range(0, len(docs), batch):
        lines = []
        for index, doc_id, source in docs[i : i + batch]:
            lines.append(json.dumps({"index": {"_index": prefix + index, "_id": doc_id}}))
            lines.append(json.dumps(source, ensure_ascii=False))
        bodies.append(("\n".join(lines) + "\n").encode())
    c = client(settings)
    t0 = time.perf_counter()
    for body in bodies:
        res = c.bulk(body=body, filter_path=BULK_RESPONSE_FILTER)
        if res["errors"]:
            raise SystemExit("raw _bulk reported item errors")
    return time.perf_counter() - t0


def _probe(i: int) -> dict[str, Any]:
    """A contract-valid sign-up whose send time is known (user_id far above the producer's)."""
    return {
        "event_id": str(uuid.uuid4()),
        "schema_version": 1,
        "user_id": 10**12 + i,
        "name": "프로브",
        "email": f"probe{i}@naver.com",
        "phone_number": "010-0000-0000",
        "gender": "Women",
        "address": "Seoul",
        "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
    }


def latency(settings: config.Settings, rate: float, duration: float) -> dict[str, float]:
    """p50/p95/p99 of send -> searchable for probe events sent amid a --rate background load."""
    from confluent_kafka import Producer

    from shopstream.kafka_admin import client_config

    prefix, ns = f"lat{uuid.uuid4().hex[:6]}.", f"lat{uuid.uuid4().hex[:6]}-"
    produce(prefix, ["--count", "1"])  # creates the topics
    consumer = subprocess.Popen(
        [
            *CLI,
            "realtime",
            "--topic-prefix",
            prefix,
            "--index-prefix",
            ns,
            "--group-id",
            f"{ns}g",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    c = client(settings)
    alias = ns + entity_indexes()["users"].alias
    time.sleep(8)  # let the consumer join its group before the clock starts
    load = subprocess.Popen(
        [
            *CLI,
            "produce",
            "--topic-prefix",
            prefix,
            "--rate",
            str(rate),
            "--duration",
            f"{duration:g}s",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    producer = Producer(
        {**client_config(settings), "enable.idempotence": True, "acks": "all", "linger.ms": 5}
    )
    topic = prefix + entity_indexes()["users"].topic
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    t_end = time.monotonic() + duration
    i = 0
    while time.monotonic() < t_end or (set(sent) - set(seen) and time.monotonic() < t_end + 30):
        if time.monotonic() < t_end and i < duration * 20:
            ev = _probe(i)
            producer.produce(topic, json.dumps(ev, ensure_ascii=False).encode(), key=str(ev["user_id"]))
            producer.poll(0)
            sent[ev["event_id"]] = time.time()
            i += 1
        pending = [e for e in sent if e not in seen]
        if pending:
            try:
                res = c.search(
                    index=alias,
                    body={"size": len(pending), "_source": False, "query": {"ids": {"values": pending}}},
                )
            except TransportError as exc:
                if exc.status_code not in (404, 503):  # the index may not exist / be active yet
                    raise
                res = {"hits": {"hits": []}}
            now = time.time()
            for h in res["hits"]["hits"]:
                seen.setdefault(h["_id"], now)
        time.sleep(0.05)
    producer.flush(30)
    load.wait(timeout=duration + 120)
    consumer.send_signal(signal.SIGTERM)
    consumer.communicate(timeout=60)
    c.indices.delete(index=f"{ns}*", allow_no_indices=True, ignore_unavailable=True)
    lat = sorted(seen[e] - sent[e] for e in seen)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))]

    return {
        "probes": len(sent),
        "searchable": len(seen),
        "rate": rate,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "max": lat[-1],
    }


def throughput_round(
    settings: config.Settings, prefix: str, events: int, batch: int, previous: Docs | None
) -> tuple[float, float, Docs]:
    """One round over the produced topics: the consumer (a new group and index prefix) and raw
    ``_bulk`` of the same documents (another index prefix); docs/s of each and the documents.

    Given the ``previous`` round's documents (the same, by contract) raw ``_bulk`` goes first, else
    second: alternated between rounds, neither side always meets the node first (a fresh
    OpenSearch ran whichever side came first at a third of its later speed)."""
    c = client(settings)
    ns, raw_ns = f"b{uuid.uuid4().hex[:6]}-", f"r{uuid.uuid4().hex[:6]}-"
    try:
        raw_seconds = None if previous is None else _raw_round(settings, previous, raw_ns, batch)
        summary = run(
            settings,
            RunOptions(
                topic_prefix=prefix,
                index_prefix=ns,
                group_id=f"{ns}g",
                max_events=events,
                batch_size=batch,
                progress=False,
            ),
        )
        c.indices.refresh(index=f"{ns}*")
        docs = [(index.removeprefix(ns), doc_id, source) for index, doc_id, source in read_docs(settings, ns)]
        if raw_seconds is None:
            raw_seconds = _raw_round(settings, docs, raw_ns, batch)
        return summary.records / summary.busy_seconds, len(docs) / raw_seconds, docs
    finally:
        c.indices.delete(index=f"{ns}*,{raw_ns}*", allow_no_indices=True, ignore_unavailable=True)
        for t in c.indices.get_index_template().get("index_templates", []):
            if t["name"].startswith((ns, raw_ns)):
                c.indices.delete_index_template(name=t["name"])


def _raw_round(settings: config.Settings, docs: Docs, ns: str, batch: int) -> float:
    install_templates(settings, index_prefix=ns)
    return raw_bulk(settings, docs, ns, batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=40000, help="valid events for the throughput run")
    ap.add_argument("--batch", type=int, default=2000, help="bulk batch size (both sides)")
    ap.add_argument("--rate", type=float, default=2000.0, help="events/s for the latency run")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of producing for the latency run")
    ap.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="counted throughput rounds (after one warm-up round); median ratio",
    )
    args = ap.parse_args()
    settings = config.load(os.environ.get("SHOPSTREAM_PROFILE", "local"))

    prefix = f"bench{uuid.uuid4().hex[:6]}."
    produce(prefix, ["--count", str(args.events), "--seed", "1"])
    ratios: list[float] = []
    docs = None
    for r in range(args.rounds + 1):  # round 0 warms OpenSearch's (and the consumer's) JIT; not counted
        raw_first = docs is not None and r % 2 == 0
        consumer_rate, raw_rate, docs = throughput_round(
            settings, prefix, args.events, args.batch, docs if raw_first else None
        )
        if r == 0:
            print(f"warm-up (not counted): consumer {consumer_rate:,.0f}, raw _bulk {raw_rate:,.0f} docs/s")
            continue
        ratios.append(consumer_rate / raw_rate)
        first = "raw first" if raw_first else "consumer first"
        print(
            f"round {r} ({first}): consumer {consumer_rate:,.0f} docs/s, raw _bulk {raw_rate:,.0f} docs/s, "
            f"ratio {ratios[-1]:.2f}"
        )
    print(
        f"ratio consumer / raw = {statistics.median(ratios):.2f} median of {len(ratios)} rounds "
        f"({min(ratios):.2f}-{max(ratios):.2f}) (target >= 0.70)"
    )
    lat = latency(settings, args.rate, args.duration)
    print(
        f"latency at {lat['rate']:,.0f} ev/s: {lat['searchable']:,}/{lat['probes']:,} probes searchable; "
        f"p50 {lat['p50']:.2f}s p95 {lat['p95']:.2f}s p99 {lat['p99']:.2f}s max {lat['max']:.2f}s "
        "(target p95 <= 2 s)"
    )


if __name__ == "__main__":
    main()
