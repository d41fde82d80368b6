"""The local consumer against the real test stack (Kafka 19192, OpenSearch 19210).

Events come from the real producer (`shopstream produce`, with malformed records injected) into
topics with a per-session prefix; every consumer run writes to its own index prefix and group, so
the tests are independent and leave the developer's indices alone.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shopstream.contract import load_contract
from shopstream.realtime import spec
from shopstream.realtime.consumer import run
from shopstream.realtime.opensearch import client, count_by_hour, counts
from shopstream.realtime.options import RunOptions

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "shopstream"]
CONTRACT = load_contract()
N_VALID = 6000


class Produced:
    def __init__(self, prefix: str, summary: dict[str, Any], truth: dict[str, list[dict[str, Any]]]) -> None:
        self.prefix = prefix
        self.summary = summary
        self.truth = truth  # every valid event read back from Kafka, per entity

    def acked(self, entity: str) -> int:
        return int(self.summary["acked"][entity])

    @property
    def malformed(self) -> int:
        return int(self.summary["acked"]["malformed_total"])


def _read_topics(settings: Any, prefix: str) -> dict[str, list[dict[str, Any]]]:
    from confluent_kafka import Consumer, TopicPartition

    from shopstream.kafka_admin import client_config

    out: dict[str, list[dict[str, Any]]] = {}
    for name, idx in spec.entity_indexes(CONTRACT).items():
        topic = prefix + idx.topic
        c = Consumer({**client_config(settings), "group.id": "unused", "enable.auto.commit": False})
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        events: list[dict[str, Any]] = []
        seen = dict.fromkeys(parts, 0)
        while any(seen[p] < ends[p] for p in parts):
            for m in c.consume(1000, timeout=1):
                seen[m.partition()] = m.offset() + 1
                if not CONTRACT.validate_value(name, m.value()):
                    events.append(json.loads(m.value()))
        c.close()
        out[name] = events
    return out


@pytest.fixture(scope="module")
def produced(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Produced:
    prefix = f"rt{uuid.uuid4().hex[:8]}."
    summary_path = tmp_path_factory.mktemp("produce") / "summary.json"
    subprocess.run(
        [
            *CLI,
            "produce",
            "--count",
            str(N_VALID),
            "--seed",
            "20261124",
            "--malformed",
            "0.02",
            "--topic-prefix",
            prefix,
            "--start-time",
            "2026-11-24T09:30:00+00:00",
            "--time-step",
            "1s",
            "--summary-json",
            str(summary_path),
            "--no-progress",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    summary = json.loads(summary_path.read_text())
    truth = _read_topics(stack, prefix)
    assert sum(len(v) for v in truth.values()) == N_VALID
    return Produced(prefix, summary, truth)


@pytest.fixture
def namespace(stack: Any) -> Iterator[str]:
    """An index prefix (and group id) of its own; its indices and templates are deleted afterwards."""
    ns = f"t{uuid.uuid4().hex[:8]}-"
    yield ns
    c = client(stack)
    c.indices.delete(index=f"{ns}*", ignore_unavailable=True, allow_no_indices=True)
    for t in c.indices.get_index_template(name=f"{ns}*").get("index_templates", []):
        c.indices.delete_index_template(name=t["name"])


def _opts(produced: Produced, ns: str, **kw: Any) -> RunOptions:
    base: dict[str, Any] = {
        "topic_prefix": produced.prefix,
        "index_prefix": ns,
        "group_id": f"{ns}group",
        "idle_exit": 2.0,
        "progress": False,
    }
    return RunOptions(**{**base, **kw})


def _counts(settings: Any, ns: str) -> dict[str, int]:
    client(settings).indices.refresh(index=f"{ns}*", allow_no_indices=True, ignore_unavailable=True)
    return counts(settings, index_prefix=ns)


def _live_count(c: Any, ns: str) -> int:
    """Documents + dead letters so far; a just-created index whose shard is not active yet is 0."""
    from opensearchpy import TransportError

    try:
        # refresh first: a count of what is searchable would lag the bulks by up to 1 s
        c.indices.refresh(index=f"{ns}shopstream-*", allow_no_indices=True, ignore_unavailable=True)
        res = c.count(index=f"{ns}shopstream-*", allow_no_indices=True, ignore_unavailable=True)
    except TransportError as exc:
        if exc.status_code == 503:
            return 0
        raise
    return int(res["count"])


def _cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


# --- tests -------------------------------------------------------------------------------------------
def test_n_events_give_n_documents_and_every_malformed_record_a_dead_letter(
    stack: Any, produced: Produced, namespace: str
) -> None:
    summary = run(stack, _opts(produced, namespace))
    got = _counts(stack, namespace)
    assert got["users"] == produced.acked("users") == len(produced.truth["users"])
    assert got["orders"] == produced.acked("orders") == len(produced.truth["orders"])
    assert produced.malformed > 0
    assert got["users dead letters"] + got["orders dead letters"] == produced.malformed
    assert summary.documents == N_VALID and summary.dead_letters == produced.malformed

    # replay the whole topic (group reset): every record is processed again, counts stay the same
    again = run(stack, _opts(produced, namespace, from_beginning=True))
    assert again.documents == N_VALID and again.dead_letters == produced.malformed
    assert _counts(stack, namespace) == got

    # the reconciliation ledger's stage: per event-time hour, the producer's own accounting
    for entity in ("users", "orders"):
        for hour, n in produced.summary["produced_valid_by_hour"][entity].items():
            start = datetime.fromisoformat(hour)
            start = start if start.tzinfo else start.replace(tzinfo=UTC)
            assert count_by_hour(stack, entity, start, index_prefix=namespace) == n, (entity, hour)


def test_aggregations_show_the_generated_ratios(stack: Any, produced: Produced, namespace: str) -> None:
    run(stack, _opts(produced, namespace))
    c = client(stack)
    c.indices.refresh(index=f"{namespace}*")

    def terms(entity: str, field: str) -> dict[str, int]:
        res = c.search(
            index=namespace + spec.entity_indexes()[entity].alias,
            body={"size": 0, "aggs": {"t": {"terms": {"field": field, "size": 100}}}},
        )
        return {b["key"]: b["doc_count"] for b in res["aggregations"]["t"]["buckets"]}

    checks = [
        ("users", "gender", CONTRACT.weights("users", "gender"), "gender"),
        ("users", "address", CONTRACT.weights("users", "address"), "address"),
        ("users", "email_domain", CONTRACT.weights("users", "email"), None),
        ("orders", "first_category", CONTRACT.weights("orders", "first_category"), "first_category"),
        ("orders", "user_gender", CONTRACT.weights("orders", "user_gender"), "user_gender"),
        ("orders", "user_region", CONTRACT.weights("orders", "user_region"), "user_region"),
    ]
    for entity, field, weights, source in checks:
        got = terms(entity, field)
        events = produced.truth[entity]
        # exact: the index says what Kafka holds
        truth = Counter(e[source] if source else e["email"].rpartition("@")[2] for e in events)
        assert got == dict(truth), (entity, field)
        # and the ratios are the contract's, within the sampling tolerance (4.5 sigma per value)
        n = len(events)
        # orders inherit user_gender/user_region from a uniformly drawn existing user: the orders
        # of one user share the value, so the users are the sampling unit too (cluster sampling)
        n_users = len({e["user_id"] for e in events}) if field.startswith("user_") else math.inf
        total = sum(weights.values())
        for value, w in weights.items():
            p = w / total
            tol = 4.5 * math.sqrt(p * (1 - p) * (1 / n + 1 / n_users))
            assert abs(got.get(value, 0) / n - p) <= tol, (entity, field, value, got.get(value, 0) / n, p)
    revenue = c.search(
        index=namespace + "shopstream-orders",
        body={"size": 0, "aggs": {"r": {"sum": {"field": "price"}}}},
    )["aggregations"]["r"]["value"]
    assert revenue == sum(e["price"] for e in produced.truth["orders"])


def test_kill_9_mid_bulk_then_restart_loses_and_doubles_nothing(
    stack: Any, produced: Produced, namespace: str
) -> None:
    args = [
        *CLI,
        "realtime",
        "--topic-prefix",
        produced.prefix,
        "--index-prefix",
        namespace,
        "--group-id",
        f"{namespace}group",
        "--batch-size",
        "100",
        "--no-progress",
    ]
    proc = subprocess.Popen(args, env=_cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    c = client(stack)
    deadline = time.monotonic() + 60
    indexed = 0
    while time.monotonic() < deadline:
        time.sleep(0.05)
        indexed = _live_count(c, namespace)
        if indexed >= 300:
            break
    proc.kill()  # SIGKILL: no flush, no commit, no goodbye
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert 0 < indexed < N_VALID + produced.malformed, "kill landed before the first or after the last bulk"
    at_kill = _live_count(c, namespace)  # bulks may have landed between the last poll and the kill

    summary = run(stack, _opts(produced, namespace))
    if at_kill < N_VALID + produced.malformed:
        assert summary.records > 0  # the uncommitted tail was re-read
    got = _counts(stack, namespace)
    assert got["users"] == len(produced.truth["users"]) and got["orders"] == len(produced.truth["orders"])
    assert got["users dead letters"] + got["orders dead letters"] == produced.malformed
    for entity in ("users", "orders"):
        ids = {
            h["_id"]
            for h in c.search(
                index=namespace + spec.entity_indexes()[entity].alias,
                body={"size": 10000, "_source": False, "query": {"match_all": {}}},
            )["hits"]["hits"]
        }
        assert ids == {e["event_id"] for e in produced.truth[entity]}, entity


def test_workers_share_the_group_and_sigterm_stops_gracefully(
    stack: Any, produced: Produced, namespace: str
) -> None:
    args = [
        *CLI,
        "realtime",
        "--workers",
        str(stack.kafka.partitions),
        "--topic-prefix",
        produced.prefix,
        "--index-prefix",
        namespace,
        "--group-id",
        f"{namespace}group",
    ]
    proc = subprocess.Popen(args, env=_cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    want = N_VALID + produced.malformed
    c = client(stack)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        time.sleep(0.5)
        c.indices.refresh(index=f"{namespace}*", allow_no_indices=True, ignore_unavailable=True)
        if _live_count(c, namespace) >= want:
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped by signal" in out
    assert f"{N_VALID:,} documents" in out
    assert "records/s" in err  # the progress line
    got = _counts(stack, namespace)
    assert got["users"] + got["orders"] == N_VALID


def test_too_many_workers_is_a_usage_error(stack: Any, produced: Produced) -> None:
    res = subprocess.run(
        [*CLI, "realtime", "--workers", "99", "--topic-prefix", produced.prefix, "--idle-exit", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2 and "--workers" in res.stderr


def test_templates_install_is_idempotent_and_says_ism_is_absent(stack: Any) -> None:
    for _ in range(2):
        res = subprocess.run(
            [*CLI, "realtime", "templates", "install"], capture_output=True, text=True, timeout=60
        )
        assert res.returncode == 0, res.stderr
    assert "skipped (no index-management (ISM) plugin" in res.stdout
    body = client(stack).indices.get_index_template(name="shopstream-orders")["index_templates"][0]
    assert body["index_template"]["index_patterns"] == ["shopstream-orders-*"]


def test_a_document_opensearch_refuses_becomes_a_dead_letter(stack: Any, namespace: str) -> None:
    from shopstream.realtime.bulk import send_bulk
    from shopstream.realtime.opensearch import install_templates
    from shopstream.realtime.transforms import Action
    from shopstream.realtime.worker import prefixed

    install_templates(stack, index_prefix=namespace)
    idx = prefixed(spec.entity_indexes()["orders"], namespace)
    bad = Action(
        f"{namespace}shopstream-orders-2026.11",
        "0b1c2d3e-4a5b-4c6d-9e7f-0a1b2c3d4e5f",
        {
            "event_id": "0b1c2d3e-4a5b-4c6d-9e7f-0a1b2c3d4e5f",
            "price": "not a number",
            "@timestamp": "2026-11-24T10:00:00.000Z",
        },
        "orders",
    )
    assert send_bulk(client(stack), [bad], {"orders": idx}, retries=1) == (0, 1)
    c = client(stack)
    c.indices.refresh(index=f"{namespace}*")
    doc = c.get(index=f"{namespace}shopstream-deadletter-orders-2026.11", id=f"rejected-{bad.doc_id}")[
        "_source"
    ]
    assert doc["reason"].startswith("rejected by OpenSearch: ")
    assert json.loads(doc["raw"])["price"] == "not a number"
