"""Raw archive against real engines: a Kafka Connect worker with the project's own S3 sink plugin
(connect/, built by `shopstream jars`), the KRaft broker and the S3 API.

Events use hours in 2025 (random per run), so counts are not disturbed by other tests' events.
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from stack_ports import stack_port

from shopstream import config as config_mod
from shopstream.archive import connector, local_worker, reader

pytestmark = pytest.mark.slow

REST_PORT = str(stack_port(18183))  # the test stack's ports are the defaults + 100


@pytest.fixture
def worker(stack, monkeypatch) -> Iterator[config_mod.Settings]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(local_worker.REST_PORT_ENV, REST_PORT)
    monkeypatch.setenv(local_worker.FLUSH_ENV, "2000")
    yield stack
    local_worker.stop(stack, timeout=30)


def _wait(what: str, check, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_bare_worker_boots_on_loopback_and_stops_by_pid(worker) -> None:
    pid = local_worker.launch(worker, with_connectors=False)

    def root() -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{REST_PORT}/", timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            return None

    info = _wait("the Connect REST API", root)
    assert info["version"] == "3.9.1"
    assert local_worker.connector_states() == {}
    assert local_worker.stop(worker)
    assert local_worker._proc(worker).pid() is None
    from shopstream.stack.process import _alive, port_open

    assert not _alive(pid)  # exited (a zombie until this test process reaps it counts as exited)
    assert not port_open(int(REST_PORT))


def _events(hours: list[datetime], per_hour: int) -> list[dict]:
    out = []
    for h in hours:
        for i in range(per_hour):
            created = h + timedelta(seconds=(i * 3599) // max(per_hour - 1, 1))
            out.append(
                {
                    "event_id": str(uuid.uuid4()),
                    "schema_version": 1,
                    "order_id": i,
                    "created_at": created.isoformat(timespec="microseconds"),
                }
            )
    return out


def _value(ev: dict) -> bytes:
    """The event as bytes a JSON re-encoder would change: spacing, key order, 1.10, a 20-digit int."""
    return (
        f'{{"created_at":"{ev["created_at"]}",  "event_id": "{ev["event_id"]}", "schema_version":1, '
        f'"order_id":{ev["order_id"]}, "ratio": 1.10, "big": 123456789012345678901, "name": "\uac00\ub098"}}'
    ).encode()


def _produce(settings: config_mod.Settings, topic: str, events: list[dict], raw: list[bytes] = ()) -> None:  # type: ignore[assignment]
    from confluent_kafka import Producer

    p = Producer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "enable.idempotence": True,
        }
    )
    for ev in events:
        # No record timestamp is set: the archive files each event by its created_at alone.
        p.produce(topic, _value(ev), str(ev["order_id"]).encode())
    for value in raw:
        p.produce(topic, value, b"bad")
    assert p.flush(30) == 0


def _hours() -> list[datetime]:
    base = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=random.randrange(0, 24 * 360))
    return [base, base + timedelta(hours=1), base + timedelta(hours=2)]


def _archived(settings: config_mod.Settings, hours: list[datetime]) -> dict[datetime, reader.HourArchive]:
    return {h: reader.read_hour(settings, h, ["orders"])["orders"] for h in hours}


def test_n_events_are_archived_once_under_their_event_hour(worker) -> None:
    hours = _hours()
    # In-order events for hours 1 and 2, then late events of hour 0 produced last.
    on_time = _events(hours[1:], 100)
    late = _events(hours[:1], 50)
    _produce(worker, connector.topics()["orders"], on_time + late)
    local_worker.start(worker)
    want = {
        h: {e["event_id"] for e in on_time + late if e["created_at"].startswith(f"{h:%Y-%m-%dT%H}")}
        for h in hours
    }
    got = _wait(
        "all events archived",
        lambda: (a := _archived(worker, hours)) and all(a[h].event_ids == want[h] for h in hours) and a,
    )
    for h in hours:
        assert got[h].duplicates == 0 and got[h].misplaced == []
    # Every archived record is byte for byte what was produced (ByteArrayConverter end to end).
    archived = sorted(_archived_values(worker, hours))
    assert archived == sorted(_value(e) for e in on_time + late)


def _archived_values(settings: config_mod.Settings, hours: list[datetime]) -> list[bytes]:
    from shopstream.aws import boto_client

    s3 = boto_client(settings, "s3")
    out: list[bytes] = []
    for h in hours:
        prefix = reader.hour_prefix(connector.topics()["orders"], h)
        listing = s3.list_objects_v2(Bucket=settings.s3.archive_bucket, Prefix=prefix)
        for obj in listing.get("Contents", []):
            body = s3.get_object(Bucket=settings.s3.archive_bucket, Key=obj["Key"])["Body"].read()
            out.extend(reader.records(body))
    return out


def test_kill_9_mid_flush_then_restart_keeps_exactly_n(worker) -> None:
    hours = _hours()
    events = _events(hours, 400)
    topic = connector.topics()["orders"]
    _produce(worker, topic, events[:600])
    local_worker.start(worker)
    _wait(
        "a first flush",
        lambda: sum(a.lines for a in _archived(worker, hours).values()) > 0,
    )
    _produce(worker, topic, events[600:])
    assert local_worker.kill(worker)
    local_worker.start(worker)
    ids = {e["event_id"] for e in events}
    got = _wait(
        "all events archived after the restart",
        lambda: (
            (a := _archived(worker, hours)) and set().union(*(x.event_ids for x in a.values())) == ids and a
        ),
    )
    assert sum(a.lines for a in got.values()) == len(events), "a line was archived twice"


def _dead_letters(settings: config_mod.Settings, topic: str, mark: bytes, want: int) -> dict[bytes, dict]:
    """Dead-letter records whose value contains ``mark`` (until ``want`` found): value -> headers."""
    from confluent_kafka import Consumer

    c = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": f"archive-test-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    c.subscribe([topic])
    found: dict[bytes, dict] = {}
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and len(found) < want:
            msg = c.poll(1.0)
            if msg is None or msg.error():
                continue
            value = msg.value() or b""
            if mark in value:
                found[value] = {k: (v or b"").decode("utf-8", "replace") for k, v in msg.headers() or []}
    finally:
        c.close()
    return found


def test_malformed_event_goes_to_the_dead_letter_topic_and_the_connector_keeps_running(
    worker,
) -> None:
    hours = _hours()
    topic = connector.topics()["orders"]
    dlq = connector.dlq_topics()["orders"]
    local_worker.start(worker)
    before = local_worker.dead_letter_counts(worker)[dlq]
    mark = uuid.uuid4().hex.encode()
    bad = {
        b"{not json " + mark: "not valid JSON",
        b"\xff\xfe" + mark: "not valid UTF-8",
        b'{"event_id": "' + mark + b'"}': "created_at: required field is missing",
        b'{"event_id": "' + mark + b'", "created_at": "2025-02-30T10:00:00.000000+00:00"}': (
            "is not a calendar date-time"
        ),
        b'["' + mark + b'"]': "not a JSON object",
    }
    events = _events(hours[:1], 20)
    _produce(worker, topic, events[:10], raw=list(bad))
    _produce(worker, topic, events[10:])
    _wait("dead letters", lambda: local_worker.dead_letter_counts(worker)[dlq] >= before + len(bad))
    _wait(
        "valid events archived",
        lambda: _archived(worker, hours[:1])[hours[0]].distinct == 20,
    )
    letters = _dead_letters(worker, dlq, mark, len(bad))
    assert set(letters) == set(bad), "every invalid value is in the dead-letter topic, bytes unchanged"
    for value, reason in bad.items():
        headers = letters[value]
        assert headers["__connect.errors.topic"] == topic
        assert int(headers["__connect.errors.offset"]) >= 0 and "__connect.errors.partition" in headers
        assert reason in headers["__connect.errors.exception.message"], headers
    st = local_worker.status(worker)
    assert all(s.startswith("RUNNING") for s in st.connectors.values()), st.connectors
    assert st.dead_letters[dlq] >= before + len(bad)
