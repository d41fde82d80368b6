"""The local stack: each engine answers over a real connection; the launcher behaves."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from stack_ports import stack_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def test_kafka_keyed_roundtrip(stack) -> None:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"test-roundtrip-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": stack.kafka.bootstrap_servers})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(15)
    p = Producer({"bootstrap.servers": stack.kafka.bootstrap_servers, "enable.idempotence": True})
    sent = {f"k{i}": f"v{i}" for i in range(20)}
    for k, v in sent.items():
        p.produce(topic, key=k, value=v)
    assert p.flush(15) == 0
    c = Consumer(
        {
            "bootstrap.servers": stack.kafka.bootstrap_servers,
            "group.id": topic,
            "auto.offset.reset": "earliest",
        }
    )
    c.subscribe([topic])
    got: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while len(got) < len(sent) and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        got[m.key().decode()] = m.value().decode()
    c.close()
    assert got == sent


def test_kafka_topics_from_contract(stack) -> None:
    from confluent_kafka.admin import AdminClient

    from shopstream.contract import load_contract

    topics = AdminClient({"bootstrap.servers": stack.kafka.bootstrap_servers}).list_topics(timeout=10).topics
    for entity in load_contract().entities.values():
        assert entity.topic in topics, entity.topic
        assert len(topics[entity.topic].partitions) == stack.kafka.partitions


@pytest.mark.parametrize("which", ["warehouse_db", "mart_db"])
def test_postgres_both_databases(stack, which: str) -> None:
    import psycopg2

    from shopstream.stack import password

    pg = stack.postgres
    conn = psycopg2.connect(
        host="127.0.0.1", port=pg.port, user=pg.user, password=password(stack), dbname=getattr(pg, which)
    )
    table = f"t_{uuid.uuid4().hex[:8]}"
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"create table {table} (id int primary key, name text)")
            cur.execute(f"insert into {table} values (1, 'a'), (2, 'b')")
            cur.execute(f"select id, name from {table} order by id")
            assert cur.fetchall() == [(1, "a"), (2, "b")]
            cur.execute("select current_database()")
            assert cur.fetchone() == (getattr(pg, which),)
            cur.execute(f"drop table {table}")
    finally:
        conn.close()


def test_postgres_refuses_wrong_password(stack) -> None:
    import psycopg2

    pg = stack.postgres
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(host="127.0.0.1", port=pg.port, user=pg.user, password="wrong", dbname=pg.mart_db)


def test_opensearch_index_and_search(stack) -> None:
    from opensearchpy import OpenSearch

    client = OpenSearch(stack.opensearch.url)
    index = f"test-{uuid.uuid4().hex[:8]}"
    client.index(index=index, id="e1", body={"gender": "Men", "price": 5000})
    client.index(index=index, id="e2", body={"gender": "Women", "price": 7000})
    client.indices.refresh(index=index)
    res = client.search(index=index, body={"query": {"term": {"gender.keyword": "Women"}}})
    assert [h["_id"] for h in res["hits"]["hits"]] == ["e2"]
    client.indices.delete(index=index)


def test_opensearch_binds_loopback_only(stack) -> None:
    with urllib.request.urlopen(f"{stack.opensearch.url}/_nodes/http", timeout=5) as resp:
        nodes = json.load(resp)["nodes"]
    for node in nodes.values():
        assert all(a.startswith(("127.0.0.1", "[::1]")) for a in node["http"]["bound_address"])


def test_s3_put_get_list(stack) -> None:
    from shopstream.aws import boto_client

    s3 = boto_client(stack, "s3")
    key = f"test/{uuid.uuid4().hex}.json"
    s3.put_object(Bucket=stack.s3.archive_bucket, Key=key, Body=b'{"a": 1}\n')
    assert s3.get_object(Bucket=stack.s3.archive_bucket, Key=key)["Body"].read() == b'{"a": 1}\n'
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=stack.s3.archive_bucket, Prefix="test/")["Contents"]]
    assert key in keys
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {stack.s3.lake_bucket, stack.s3.export_bucket, stack.s3.archive_bucket} <= names
    tables = boto_client(stack, "dynamodb").list_tables()["TableNames"]
    assert stack.s3.dynamodb_table in tables


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shopstream", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        timeout=300,
    )


def test_up_is_idempotent(stack) -> None:
    from shopstream import stack as stack_mod

    before = {s.name: s.pid for s in stack_mod.status(stack)}
    res = _cli("up")
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("already running") == 4
    after = {s.name: s.pid for s in stack_mod.status(stack)}
    assert before == after and all(after.values())
    status = _cli("status", "--json")
    assert status.returncode == 0, status.stderr
    assert {r["name"]: r["note"] for r in json.loads(status.stdout)} == dict.fromkeys(before, "ready")


@pytest.fixture()
def mini_env() -> Iterator[dict[str, str]]:
    """A second, small stack (S3 API + PostgreSQL + Kafka) on other ports in a fresh state dir.

    Under the repository (not pytest's tmp dir, which is 0700 and unreachable by the
    ``postgres`` OS user that PostgreSQL runs as when tests run as root)."""
    state = REPO / ".shopstream" / f"test-mini-{uuid.uuid4().hex[:8]}"
    yield {
        "SHOPSTREAM_STATE_DIR": str(state),
        "SHOPSTREAM_S3__PORT": str(stack_port(15200)),
        "SHOPSTREAM_S3__ENDPOINT_URL": f"http://127.0.0.1:{stack_port(15200)}",
        "SHOPSTREAM_POSTGRES__PORT": str(stack_port(15632)),
        "SHOPSTREAM_KAFKA__PORT": str(stack_port(19292)),
        "SHOPSTREAM_KAFKA__CONTROLLER_PORT": str(stack_port(19293)),
        "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{stack_port(19292)}",
    }
    subprocess.run(
        [sys.executable, "-m", "shopstream", "down"],
        env={**os.environ, "SHOPSTREAM_STATE_DIR": str(state)},
        capture_output=True,
        check=False,
    )
    shutil.rmtree(state, ignore_errors=True)


def _pids_under(marker: str) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            env = (p / "environ").read_bytes().decode(errors="replace")
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        if marker in cmd or marker in env:
            out.append(int(p.name))
    return out


def test_down_leaves_no_process(stack, mini_env: dict[str, str]) -> None:
    only = ["--only", "s3", "--only", "postgres", "--only", "kafka"]
    res = _cli("up", *only, env=mini_env)
    assert res.returncode == 0, res.stderr
    marker = mini_env["SHOPSTREAM_STATE_DIR"]
    assert len(_pids_under(marker)) >= 3
    res = _cli("down", env=mini_env)
    assert res.returncode == 0, res.stderr
    time.sleep(0.5)
    assert _pids_under(marker) == []
    # The shared test stack is untouched.
    from shopstream import stack as stack_mod

    assert all(s.running for s in stack_mod.status(stack))


def test_taken_port_fails_fast_naming_it(stack, mini_env: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", stack_port(15200)))
        squatter.listen(1)
        t0 = time.monotonic()
        res = _cli("up", "--only", "s3", env=mini_env)
        elapsed = time.monotonic() - t0
    assert res.returncode == 1
    assert f"port {stack_port(15200)}" in res.stderr and "s3" in res.stderr
    assert "Traceback" not in res.stderr
    assert elapsed < 20
    assert _pids_under(mini_env["SHOPSTREAM_STATE_DIR"]) == []


def test_failed_start_rolls_back_what_it_started(stack, mini_env: dict[str, str]) -> None:
    """PostgreSQL cannot start (bad bin_dir) → the S3 API started in the same call is stopped."""
    env = {**mini_env, "SHOPSTREAM_POSTGRES__BIN_DIR": "/nonexistent/bin"}
    res = _cli("up", "--only", "s3", "--only", "postgres", env=env)
    assert res.returncode == 1
    assert "postgres: /nonexistent/bin/initdb not found" in res.stderr
    time.sleep(0.5)
    assert _pids_under(mini_env["SHOPSTREAM_STATE_DIR"]) == []
