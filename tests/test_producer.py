"""shopstream produce / topics: flag errors without a broker; delivery, keys, chaos, SIGTERM with one.

Tests marked slow need Kafka: the session's ``kafka_bootstrap`` fixture (tests/conftest.py), or
an already running broker named by ``SHOPSTREAM_TEST_KAFKA_BOOTSTRAP`` (handy while developing).
Every test uses its own topic prefix, so runs never see each other's records.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shopstream.cli import cli
from shopstream.contract import load_contract

REPO = Path(__file__).resolve().parent.parent
UNREACHABLE = "127.0.0.1:9"  # discard port: nothing listens; a connection attempt would hang/fail


@pytest.fixture(scope="session")
def broker(request: pytest.FixtureRequest) -> str:
    env = os.environ.get("SHOPSTREAM_TEST_KAFKA_BOOTSTRAP")
    if env:
        return env
    return str(request.getfixturevalue("kafka_bootstrap"))


def _prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


def _consume(bootstrap: str, topics: list[str], expected: int, idle: float = 5.0) -> list[Any]:
    """Every record of ``topics`` (stops ``idle`` seconds after the last one, or at ``expected``)."""
    from confluent_kafka import Consumer

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    c.subscribe(topics)
    out: list[Any] = []
    last = time.monotonic()
    try:
        while time.monotonic() - last < idle and len(out) < expected:
            batch = c.consume(num_messages=10_000, timeout=0.5)
            for m in batch:
                assert m.error() is None, m.error()
                out.append(m)
            if batch:
                last = time.monotonic()
        extra = c.consume(num_messages=100, timeout=1.0)  # nothing beyond the expected count
        out.extend(m for m in extra if m.error() is None)
    finally:
        c.close()
    return out


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shopstream", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


# --- without a broker -------------------------------------------------------------------------


def test_every_command_has_help_and_an_example() -> None:
    runner = CliRunner()
    for args in (["produce"], ["topics"], ["topics", "create"], ["topics", "describe"]):
        result = runner.invoke(cli, [*args, "--help"])
        assert result.exit_code == 0, result.output
        assert "Example:" in result.output
    produce = cli.commands["produce"]
    for p in produce.params:
        assert p.help, f"--{p.name} has no help"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "-5"], "--rate: must be > 0"),
        (["--rate", "nan"], "--rate: must be a finite number"),
        (["--malformed", "1.5"], "--malformed: ratio must be within [0, 1]"),
        (["--duplicates", "-0.1"], "--duplicates: ratio must be within [0, 1]"),
        (["--late", "2"], "--late: ratio must be within [0, 1]"),
        (["--count", "-1"], "--count: must be >= 0"),
        (["--duration", "soon"], "--duration: 'soon' is not a duration"),
        (["--late-by", "0s"], "--late-by: must be > 0"),
        (["--orders-per-user", "2", "--ratio-order-user", "0.1"], "not both"),
        (["--initial-users", "0", "--users-per-loop", "0"], "no user would ever be produced"),
        (["--start-time", "tomorrow"], "--start-time:"),
        (["--frobnicate"], "No such option: --frobnicate"),
        (["--count", "ten"], "'ten' is not a valid integer"),
        (["-X", "not-a-pair"], "--producer-config: expected KEY=VALUE"),
        (["-X", "acks=1"], "acks cannot be overridden"),
        (["-X", "no.such.setting=1"], "--producer-config: No such configuration property"),
    ],
)
def test_bad_flags_fail_fast_with_one_line_and_exit_2(args: list[str], message: str) -> None:
    started = time.monotonic()
    result = _cli("produce", "--bootstrap-servers", UNREACHABLE, "--count", "10", *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert time.monotonic() - started < 20  # never waited for a broker


def test_unreachable_broker_is_a_runtime_failure() -> None:
    result = _cli("produce", "--bootstrap-servers", UNREACHABLE, "--count", "1", "--no-create-topics")
    assert result.returncode == 1
    assert "did not answer" in result.stderr and "Traceback" not in result.stderr


# --- against Kafka ----------------------------------------------------------------------------


@pytest.mark.slow
def test_produce_delivers_every_event_once_keyed_and_valid(broker: str, tmp_path: Path) -> None:
    prefix, n = _prefix(), 20_000
    summary_path = tmp_path / "summary.json"
    result = _cli(
        "produce",
        "--bootstrap-servers",
        broker,
        "--count",
        str(n),
        "--seed",
        "11",
        "--topic-prefix",
        prefix,
        "--start-time",
        "2026-11-24T09:59:00+00:00",
        "--time-step",
        "10ms",
        "--summary-json",
        str(summary_path),
    )
    assert result.returncode == 0, result.stderr
    assert "total" in result.stdout  # the summary table
    summary = json.loads(summary_path.read_text())
    assert summary["ok"] and summary["acked"]["total"] == n and summary["failed"]["total"] == 0
    topics = {f"{prefix}shopstream.users": "users", f"{prefix}shopstream.orders": "orders"}
    records = _consume(broker, list(topics), n)
    assert len(records) == n
    contract = load_contract()
    ids: set[str] = set()
    users: set[int] = set()
    per_hour: Counter[tuple[str, str]] = Counter()
    for m in records:
        entity = topics[m.topic()]
        assert load_contract().validate_value(entity, m.value()) == []
        event = json.loads(m.value())
        assert m.key() == str(event[contract.entity(entity).key]).encode()
        ids.add(event["event_id"])
        per_hour[(entity, event["created_at"][:13])] += 1
        if entity == "users":
            users.add(event["user_id"])
    assert len(ids) == n, "duplicate event_id without --duplicates"
    orders = [json.loads(m.value()) for m in records if topics[m.topic()] == "orders"]
    assert all(o["user_id"] in users for o in orders), "an order referenced a user that was not produced"
    assert summary["acked"]["users"] == len(users) and summary["acked"]["orders"] == len(orders)
    # the simulated clock spans 09:59:00 .. 10:02:20: two hours, counted exactly per hour
    expected = {
        (entity, h[:13]): c
        for entity, hours in summary["produced_valid_by_hour"].items()
        for h, c in hours.items()
    }
    assert expected == dict(per_hour) and len(expected) == 4


@pytest.mark.slow
def test_same_seed_reproduces_the_same_records(broker: str) -> None:
    values = []
    for _ in range(2):
        prefix = _prefix()
        args = [
            "--count",
            "500",
            "--seed",
            "5",
            "--start-time",
            "2026-01-01T00:00:00Z",
            "--topic-prefix",
            prefix,
        ]
        result = _cli("produce", "--bootstrap-servers", broker, "--no-progress", *args)
        assert result.returncode == 0, result.stderr
        recs = _consume(broker, [f"{prefix}shopstream.users", f"{prefix}shopstream.orders"], 500)
        values.append(sorted((m.topic().split(".", 1)[1], m.key(), m.value()) for m in recs))
    assert values[0] == values[1] and len(values[0]) == 500


@pytest.mark.slow
def test_chaos_counts_match_what_a_consumer_finds(broker: str, tmp_path: Path) -> None:
    prefix, n = _prefix(), 10_000
    summary_path = tmp_path / "chaos.json"
    result = _cli(
        "produce",
        "--bootstrap-servers",
        broker,
        "--count",
        str(n),
        "--seed",
        "3",
        "--topic-prefix",
        prefix,
        "--malformed",
        "0.05",
        "--duplicates",
        "0.03",
        "--late",
        "0.04",
        "--late-by",
        "2h",
        "--start-time",
        "2026-11-24T10:30:00+00:00",
        "--summary-json",
        str(summary_path),
    )
    assert result.returncode == 0, result.stderr
    s = json.loads(summary_path.read_text())
    assert s["produced"] == s["acked"]
    assert all(v > 0 for v in s["produced"]["malformed"].values()), s["produced"]
    assert s["produced"]["duplicates"] > 0 and s["late"]["users"] + s["late"]["orders"] > 0
    topics = {f"{prefix}shopstream.users": "users", f"{prefix}shopstream.orders": "orders"}
    records = _consume(broker, list(topics), s["acked"]["total"])
    assert len(records) == s["acked"]["total"]
    kinds: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    late = 0
    for m in records:
        errors = load_contract().validate_value(topics[m.topic()], m.value())
        if not errors:
            event = json.loads(m.value())
            seen[event["event_id"]] += 1
            late += seen[event["event_id"]] == 1 and event["created_at"].startswith("2026-11-24T08")
            continue
        e = errors[0]
        kind = (
            "non_utf8"
            if e.startswith("not valid UTF-8")
            else "bad_json"
            if e.startswith("not valid JSON")
            else "oversized"
            if "max_event_bytes" in e
            else "missing_fields"
            if "required field is missing" in " ".join(errors)
            else "wrong_types"
        )
        kinds[kind] += 1
    assert dict(kinds) == s["produced"]["malformed"]
    assert sum(seen.values()) - len(seen) == s["produced"]["duplicates"]
    assert len(seen) == n
    assert late == s["late"]["users"] + s["late"]["orders"]


@pytest.mark.slow
def test_sigterm_flushes_every_acked_event(broker: str, tmp_path: Path) -> None:
    prefix = _prefix()
    summary_path = tmp_path / "term.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shopstream",
            "produce",
            "--bootstrap-servers",
            broker,
            "--topic-prefix",
            prefix,
            "--rate",
            "20000",
            "--no-progress",
            "--summary-json",
            str(summary_path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(6)  # start-up (Faker pools, topics) and a few seconds of sending
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    s = json.loads(summary_path.read_text())
    assert s["stop_reason"] == "SIGTERM" and s["unconfirmed"] == 0 and s["failed"]["total"] == 0
    acked = s["acked"]["total"]
    assert acked > 1000
    records = _consume(broker, [f"{prefix}shopstream.users", f"{prefix}shopstream.orders"], acked)
    assert len(records) == acked


@pytest.mark.slow
def test_topics_create_and_describe(broker: str) -> None:
    prefix = _prefix()
    first = _cli("topics", "create", "--bootstrap-servers", broker, "--topic-prefix", prefix)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("\tcreated\t") == 2
    again = _cli("topics", "create", "--bootstrap-servers", broker, "--topic-prefix", prefix)
    assert again.stdout.count("\texists\t") == 2
    described = _cli("topics", "describe", "--bootstrap-servers", broker, "--topic-prefix", prefix, "--json")
    assert described.returncode == 0, described.stderr
    states = json.loads(described.stdout)
    assert [s["entity"] for s in states] == ["users", "orders"]
    for s in states:
        assert s["exists"] and s["drift"] == [] and s["partitions"] == s["expected"]["partitions"]
        assert s["config"]["retention.ms"] == s["expected"]["config"]["retention.ms"]


@pytest.mark.slow
def test_failed_deliveries_exit_1_with_the_count(broker: str, tmp_path: Path) -> None:
    summary_path = tmp_path / "fail.json"
    # a 2 ms delivery timeout: most records expire in the local queue before a broker ack
    result = _cli(
        "produce",
        "--bootstrap-servers",
        broker,
        "--count",
        "5000",
        "--topic-prefix",
        _prefix(),
        "-X",
        "message.timeout.ms=2",
        "-X",
        "linger.ms=1",
        "--summary-json",
        str(summary_path),
    )
    s = json.loads(summary_path.read_text())
    assert s["failed"]["total"] > 0 and s["acked"]["total"] + s["failed"]["total"] == 5000
    assert result.returncode == 1
    assert f"{s['failed']['total']:,} of 5,000 records failed delivery" in result.stderr
