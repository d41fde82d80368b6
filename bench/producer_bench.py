"""Producer benchmark: events/s acknowledged by a local broker, three ways, in one run.

(a) ``shopstream produce``'s code path (producer.runner.ProducerRun, as the CLI runs it),
(b) a seed-style baseline: kafka-python, Faker called per event, ``random.choices`` per field,
    JSON serializer, no sleeps (the original system's producer without its sleeps),
(c) the ceiling: confluent-kafka with (a)'s configuration sending one pre-built payload of (a)'s
    mean record size, same poll cadence, same delivery callback.

Each role runs in its own process (so RSS and the GIL are its own). Also reports (a)'s RSS after
the first 100k events and its peak after that (target: peak - rss@100k <= 50 MB). Topics are
created with a unique prefix and deleted afterwards.

    .venv/bin/python bench/producer_bench.py                       # short run (~1 min)
    .venv/bin/python bench/producer_bench.py --events 5000000      # the full RSS measurement

Targets: a >= 25 x b and a >= 0.5 x c. Results also go to bench/results/producer.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RSS_MARK = 100_000  # RSS is taken once this many events were produced


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _mean_record_size(n: int = 4000) -> int:
    from producer.generators import EventFactory
    from producer.schedule import Schedule

    f = EventFactory(1, pool_size=512)
    s = Schedule(1)
    ts = "2026-11-24T10:15:03.123456+00:00"
    sizes = [len((f.user if k & 1 == 0 else f.order)(ts)[1].encode()) for k in s.chunk(n)]
    return round(sum(sizes) / len(sizes))


# --- roles (each in its own process) -----------------------------------------------------------


def role_a(bootstrap: str, prefix: str, events: int) -> dict[str, Any]:
    from producer.options import ProduceOptions
    from producer.runner import ProducerRun
    from shopstream import config

    settings = config.load("local")
    run = ProducerRun(
        ProduceOptions(count=events, seed=1, topic_prefix=prefix), settings, bootstrap_servers=bootstrap
    )
    run.prepare()
    st = run.stats
    marks: dict[str, int] = {"rss_start": _rss()}
    done = threading.Event()

    def sample() -> None:
        peak_after = 0
        while not done.wait(0.02):
            rss, produced = _rss(), sum(st.produced)
            if produced >= min(RSS_MARK, events) and "rss_at_100k" not in marks:
                marks["rss_at_100k"] = rss
            if "rss_at_100k" in marks:
                peak_after = max(peak_after, rss)
                marks["rss_peak_after_100k"] = peak_after

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    summary = run.run()
    done.set()
    t.join()
    return {
        "role": "a",
        "events": summary.acked["total"],
        "failed": summary.failed["total"] + summary.unconfirmed,
        "seconds": summary.elapsed_seconds,
        "events_per_second": summary.acked_per_second,
        "rss_mb": {k: round(v / 2**20, 1) for k, v in marks.items()},
    }


def role_b(bootstrap: str, prefix: str, events: int) -> dict[str, Any]:
    """The seed's way: every field from a Faker call per event, kafka-python defaults, JSON."""
    from collections import OrderedDict
    from datetime import datetime

    from faker import Faker
    from kafka import KafkaProducer

    from shopstream.contract import load_contract

    c = load_contract()
    users_t, orders_t = prefix + c.entity("users").topic, prefix + c.entity("orders").topic
    domains = OrderedDict((k, v / 100) for k, v in c.weights("users", "email").items())
    gender = OrderedDict((k, v / 100) for k, v in c.weights("users", "gender").items())
    region = OrderedDict((k, v / 100) for k, v in c.weights("users", "address").items())
    first = OrderedDict((k, v / 100) for k, v in c.weights("orders", "first_category").items())
    second = {
        cat: OrderedDict((k, v / 100) for k, v in c.weights("orders", "second_category", given=cat).items())
        for cat in first
    }
    fake = Faker("ko_KR")
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, value_serializer=lambda m: json.dumps(m).encode("utf-8")
    )
    acked, failed = [0], [0]

    def ok(_md: Any) -> None:
        acked[0] += 1

    def err(_exc: Any) -> None:
        failed[0] += 1

    user_id = order_id = 0
    start = time.perf_counter()
    for i in range(events):
        if i % 4 == 0 or user_id == 0:  # the same 1 user : 3 orders mix as (a)'s defaults
            user_id += 1
            value: dict[str, Any] = {
                "user_id": user_id,
                "name": fake.name(),
                "email": fake.user_name() + "@" + fake.random_element(domains),
                "phone_number": fake.phone_number(),
                "gender": fake.random_element(gender),
                "address": fake.random_element(region),
                "created_at": datetime.now().isoformat(),
            }
            topic = users_t
        else:
            order_id += 1
            cat = fake.random_element(first)
            value = {
                "order_id": order_id,
                "user_id": fake.random_int(1, user_id),
                "product_id": fake.random_int(1, 1000),
                "price": fake.random_int(10, 400) * 500,
                "first_category": cat,
                "second_category": fake.random_element(second[cat]),
                "created_at": datetime.now().isoformat(),
            }
            topic = orders_t
        producer.send(topic, value=value).add_callback(ok).add_errback(err)
    producer.flush()
    elapsed = time.perf_counter() - start
    producer.close()
    return {
        "role": "b",
        "events": acked[0],
        "failed": failed[0],
        "seconds": round(elapsed, 3),
        "events_per_second": round(acked[0] / elapsed, 1),
    }


def role_c(bootstrap: str, prefix: str, events: int, size: int) -> dict[str, Any]:
    from confluent_kafka import Producer

    from producer.generators import EventFactory
    from producer.options import PRODUCER_DEFAULTS
    from producer.runner import POLL_MASK

    f = EventFactory(1, pool_size=16)
    f.user("2026-11-24T10:15:03.123456+00:00")
    base = f.order("2026-11-24T10:15:03.123456+00:00")[1].encode()
    payload = base[:-1] + b" " * max(0, size - len(base)) + b"}"  # a real order, padded to the size
    p = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    topic = prefix + "ceiling"
    acked, failed = [0], [0]

    def cb(err: Any, _msg: Any) -> None:
        if err is None:
            acked[0] += 1
        else:
            failed[0] += 1

    produce, poll = p.produce, p.poll
    start = time.perf_counter()
    for i in range(1, events + 1):
        key = str(i)
        try:
            produce(topic, payload, key, -1, cb)
        except BufferError:
            while True:
                poll(0.05)
                try:
                    produce(topic, payload, key, -1, cb)
                    break
                except BufferError:
                    continue
        if not i & POLL_MASK:
            poll(0)
    p.flush()
    elapsed = time.perf_counter() - start
    return {
        "role": "c",
        "events": acked[0],
        "failed": failed[0] + len(p),
        "seconds": round(elapsed, 3),
        "events_per_second": round(acked[0] / elapsed, 1),
        "payload_bytes": len(payload),
    }


# --- orchestration -----------------------------------------------------------------------------


def _child(role: str, args: argparse.Namespace, prefix: str, extra: list[str]) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--role",
        role,
        "--bootstrap-servers",
        args.bootstrap_servers,
        "--prefix",
        prefix,
        *extra,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"role {role} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _topics(bootstrap: str, prefix: str, create: bool) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    from shopstream import config
    from shopstream.kafka_admin import ensure_topics

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 5})
    if create:
        settings = config.load("local")
        ensure_topics(settings, topic_prefix=prefix, bootstrap_servers=bootstrap)
        ensure_topics(settings, topic_prefix=prefix + "baseline.", bootstrap_servers=bootstrap)
        fut = admin.create_topics([NewTopic(prefix + "ceiling", settings.kafka.partitions, 1)])
        for f in fut.values():
            f.result()
        return
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    if names:
        for f in admin.delete_topics(names, operation_timeout=30).values():
            f.result()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap-servers", help="Kafka brokers [default: the local profile's].")
    parser.add_argument("--events", type=int, default=400_000, help="Events for (a) [default: 400000].")
    parser.add_argument(
        "--baseline-events", type=int, default=30_000, help="Events for (b) [default: 30000]."
    )
    parser.add_argument(
        "--ceiling-events", type=int, default=None, help="Events for (c) [default: --events]."
    )
    parser.add_argument(
        "--output", default=str(REPO / "bench" / "results" / "producer.json"), help="JSON results."
    )
    parser.add_argument("--repeat", type=int, default=3, help="Rounds; the median is reported [default: 3].")
    parser.add_argument("--role", choices=("a", "b", "c"), help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bootstrap_servers is None:
        from shopstream import config

        args.bootstrap_servers = config.load("local").kafka.bootstrap_servers
    if args.role:
        if args.role == "a":
            result = role_a(args.bootstrap_servers, args.prefix, args.events)
        elif args.role == "b":
            result = role_b(args.bootstrap_servers, args.prefix + "baseline.", args.events)
        else:
            result = role_c(args.bootstrap_servers, args.prefix, args.events, args.size)
        print(json.dumps(result))
        return

    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    size = _mean_record_size()
    _topics(args.bootstrap_servers, prefix, create=True)
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"a": [], "b": [], "c": []}
    try:
        # interleaved rounds, so a machine whose load drifts affects the three paths alike
        for _ in range(args.repeat):
            runs["c"].append(
                _child(
                    "c",
                    args,
                    prefix,
                    ["--events", str(args.ceiling_events or args.events), "--size", str(size)],
                )
            )
            runs["a"].append(_child("a", args, prefix, ["--events", str(args.events)]))
            runs["b"].append(_child("b", args, prefix, ["--events", str(args.baseline_events)]))
    finally:
        _topics(args.bootstrap_servers, prefix, create=False)

    def median(role: str) -> dict[str, Any]:
        ordered = sorted(runs[role], key=lambda r: r["events_per_second"])
        best = dict(ordered[len(ordered) // 2])
        best["all_events_per_second"] = [r["events_per_second"] for r in runs[role]]
        best["failed"] = sum(r["failed"] for r in runs[role])
        return best

    a, b, c = median("a"), median("b"), median("c")
    a["rss_mb"] = max((r["rss_mb"] for r in runs["a"]), key=lambda m: m.get("rss_peak_after_100k", 0))
    rss = a["rss_mb"]
    growth = round(rss.get("rss_peak_after_100k", 0) - rss.get("rss_at_100k", 0), 1)
    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "mean_record_bytes": size,
        "a_shopstream_produce": a,
        "b_seed_baseline": b,
        "c_ceiling": c,
        # ratios per round (the three paths of a round ran back to back, under the same load)
        "a_over_b_rounds": [
            round(x["events_per_second"] / y["events_per_second"], 1)
            for x, y in zip(runs["a"], runs["b"], strict=True)
        ],
        "a_over_c_rounds": [
            round(x["events_per_second"] / y["events_per_second"], 3)
            for x, y in zip(runs["a"], runs["c"], strict=True)
        ],
        "rss_growth_after_100k_mb": growth,
    }
    result["a_over_b"] = sorted(result["a_over_b_rounds"])[args.repeat // 2]
    result["a_over_c"] = sorted(result["a_over_c_rounds"])[args.repeat // 2]
    result["targets"] = {
        "a_over_b >= 25": result["a_over_b"] >= 25,
        "a_over_c >= 0.5": result["a_over_c"] >= 0.5,
        "rss_growth <= 50 MB": growth <= 50,
        "no failed deliveries": a["failed"] == b["failed"] == c["failed"] == 0,
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")

    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"producer bench · {size} B mean record · {os.cpu_count()} CPUs · "
        f"load {load_before[0]:.2f} · median of {args.repeat}"
    )
    for col in ("path", "events", "seconds", "acked events/s", "all rounds", "failed"):
        table.add_column(col, justify="left" if col == "path" else "right")
    for name, r in (("(a) shopstream produce", a), ("(b) seed-style kafka-python", b), ("(c) ceiling", c)):
        rounds = " ".join(f"{x / 1000:,.1f}k" for x in r["all_events_per_second"])
        table.add_row(
            name,
            f"{r['events']:,}",
            f"{r['seconds']:.2f}",
            f"{r['events_per_second']:,.0f}",
            rounds,
            str(r["failed"]),
        )
    console = Console(width=max(Console().width, 120))
    console.print(table)
    console.print(
        f"a/b = {result['a_over_b']}x (target >= 25; rounds {result['a_over_b_rounds']}) · "
        f"a/c = {result['a_over_c']} (target >= 0.5; rounds {result['a_over_c_rounds']}) (median of rounds)"
    )
    at, peak = rss.get("rss_at_100k"), rss.get("rss_peak_after_100k")
    console.print(
        f"(a) RSS: {at} MB after 100k, peak {peak} MB after that -> growth {growth} MB (target <= 50)"
    )
    for name, ok in result["targets"].items():
        console.print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    console.print(f"results: {out}")


if __name__ == "__main__":
    main()
