"""Validator cost per 10,000 records: the contract's Python validator and the stream's Spark
classification, now and at an earlier git revision (the "before" of a change to validation).

No stack needed: records are built in memory (valid events from the producer's generators plus
``--malformed`` of hostile ones), Spark runs ``local[2]`` on a cached DataFrame shaped like the
Kafka source. Each Spark variant is timed as a ``noop`` write of all its columns over the same
cached input, best of ``--repeat`` runs after one warm-up (the frame is built before the clock;
planning and code generation, which every micro-batch pays, are inside it); ratios are printed
from the same run (timings on a shared machine are noisy: compare ratios, not seconds). The naive
pipeline's transform of ``bench/stream_bench.py`` (``from_json`` per topic, no rule) is timed the
same way: ``spark_now_over_naive`` is what the contract's rules cost over a bare parse. Run it at
two sizes (e.g. 3,000 and 30,000 records) to split the per-batch cost from the per-record one.

The "before" variant is ``shopstream/ingest/bronze.py`` (or ``jobs/bronze.py``) as it was at
``--before`` (a git revision), loaded as a separate module, with the contract of that revision;
only revisions before the ingest split (8db9707), whose bronze.py stands alone.

Example:
    .venv/bin/python bench/validity_bench.py --records 20000 --before main --repeat 3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TOPICS = {"shopstream.users": "users", "shopstream.orders": "orders"}


def records(n: int, malformed: float, seed: int = 7) -> list[tuple[str, bytes, bytes | None]]:
    from producer.chaos import MALFORMED_KINDS, Chaos
    from producer.generators import EventFactory

    f = EventFactory(seed, pool_size=256)
    chaos = Chaos(seed, malformed=1.0)
    t0 = datetime(2026, 11, 24, 10, tzinfo=UTC)
    out: list[tuple[str, bytes, bytes | None]] = []
    for i in range(n):
        ts = (t0 + timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        entity = "users" if i % 3 == 0 else "orders"
        k, v = f.user(ts) if entity == "users" else f.order(ts)
        value = v.encode()
        if malformed and (i % int(1 / malformed)) == 0:
            value = chaos.malformed_value(MALFORMED_KINDS[i % len(MALFORMED_KINDS)], entity, v)
        out.append((entity, value, k.encode()))
    return out


def _git_module(rev: str, tmp: Path) -> tuple[Any, Any]:
    """(bronze module, contract) as of ``rev``."""
    from shopstream.contract import load_contract

    for path in ("shopstream/ingest/bronze.py", "jobs/bronze.py"):
        res = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=REPO, capture_output=True, text=True)
        if res.returncode == 0:
            break
    else:
        raise SystemExit(f"no bronze module at {rev}")
    if "from shopstream.ingest." in res.stdout:
        # since the split (8db9707) bronze.py imports its rules from sibling modules, which would
        # load from this checkout: the "before" would silently be half of now
        raise SystemExit(f"--before {rev}: only revisions before the ingest split (8db9707) load alone")
    src = tmp / "bronze_before.py"
    src.write_text(res.stdout)
    contract_src = subprocess.run(
        ["git", "show", f"{rev}:conf/contract.yaml"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    (tmp / "contract.yaml").write_text(contract_src)
    spec = importlib.util.spec_from_file_location("bronze_before", src)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bronze_before"] = mod  # dataclasses look their module up while it loads
    spec.loader.exec_module(mod)
    try:
        contract = load_contract(tmp / "contract.yaml")
    except Exception:  # an older contract the current loader refuses: judge with today's
        contract = load_contract()
    return mod, contract


def time_spark(df: Any, transform: Any, repeat: int) -> float:
    """Best of ``repeat`` runs of ``transform(df)`` into the ``noop`` sink after a warm-up.

    The frame is built before the clock starts (the classification's columns are thousands of
    calls into the JVM, which the stream makes once per query); the clock covers what a
    micro-batch pays: planning, code generation (the compiled classes are cached) and the run."""

    def run(frame: Any) -> None:  # every column computed (a count would let Spark prune them)
        frame.write.format("noop").mode("overwrite").save()

    run(transform(df))  # warm-up: plan analysis and code generation
    best = float("inf")
    for _ in range(repeat):
        frame = transform(df)
        t = time.perf_counter()
        run(frame)
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=20000)
    p.add_argument("--malformed", type=float, default=0.01)
    p.add_argument("--before", default=None, help="git revision to compare with (e.g. main)")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args(argv)

    from stream_bench import naive_parse  # this directory is the script's first import path

    from shopstream import config
    from shopstream.contract import load_contract
    from shopstream.ingest import bronze
    from shopstream.spark import session

    contract = load_contract()
    recs = records(a.records, a.malformed)
    per10k = 10_000 / a.records
    out: dict[str, Any] = {"records": a.records}

    t = time.perf_counter()
    for entity, value, key in recs:
        contract.validate_record(entity, value, key=key)
    out["python_s_per_10k"] = round((time.perf_counter() - t) * per10k, 3)

    settings = config.load("local")
    spark = session(
        settings,
        "validity-bench",
        extra={"spark.master": "local[2]", "spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false"},
    )
    ts = datetime(2026, 11, 24, 12)
    by_entity = {v: k for k, v in TOPICS.items()}
    df = spark.createDataFrame(
        [(key, value, by_entity[e], i % 3, i, ts) for i, (e, value, key) in enumerate(recs)],
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp",
    ).cache()
    df.count()
    now = bronze.transform_classify
    out["spark_now_s_per_10k"] = round(
        time_spark(df, lambda d: now(d, contract, TOPICS), a.repeat) * per10k, 3
    )
    # the naive pipeline of bench/stream_bench.py: from_json alone, no rule (its per-record floor)
    out["spark_naive_s_per_10k"] = round(
        time_spark(df, lambda d: naive_parse(d, contract, TOPICS), a.repeat) * per10k, 3
    )
    out["spark_now_over_naive"] = round(out["spark_now_s_per_10k"] / out["spark_naive_s_per_10k"], 2)
    if a.before:
        with tempfile.TemporaryDirectory() as tmp:
            mod, old_contract = _git_module(a.before, Path(tmp))
            before = round(
                time_spark(df, lambda d: mod.transform_classify(d, old_contract, TOPICS), a.repeat) * per10k,
                3,
            )
        out["before"] = a.before
        out["spark_before_s_per_10k"] = before
        out["spark_now_over_before"] = round(out["spark_now_s_per_10k"] / before, 2)
    spark.stop()
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
