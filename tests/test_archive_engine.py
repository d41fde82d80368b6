"""Raw archive against real engines: a Kafka Connect worker, the KRaft broker and the S3 API.

The connector tests need Aiven's S3 sink in <jars>/connect-plugins (conf/jars/connect-plugins);
where Maven cannot serve it they are skipped with that reason, while the bare-worker test still
proves the rendered worker configuration against the real Connect runtime.
Events use hours in 2001 (random per run), so counts are not disturbed by other tests' events.
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
from conftest import stack_port

from shopstream import archive
from shopstream import config as config_mod

pytestmark = pytest.mark.slow

REST_PORT = str(stack_port(18183))  # the test stack's ports are the defaults + 100
_PLUGIN = archive.find_plugin(config_mod.load("local"))
needs_plugin = pytest.mark.skipif(
    _PLUGIN is None,
    reason="Aiven's S3 sink is not in <jars>/connect-plugins (Maven here serves no connector artifacts)",
)


@pytest.fixture
def worker(stack, monkeypatch) -> Iterator[config_mod.Settings]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(archive.REST_PORT_ENV, REST_PORT)
    monkeypatch.setenv(archive.FLUSH_ENV, "2000")
    yield stack
    archive.stop(stack, timeout=30)


def _wait(what: str, check, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_bare_worker_boots_on_loopback_and_stops_by_pid(worker) -> None:
    pid = archive.launch(worker, with_connectors=False)

    def root() -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{REST_PORT}/", timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            return None

    info = _wait("the Connect REST API", root)
    assert info["version"] == "3.9.1"
    assert archive.connector_states() == {}
    assert archive.stop(worker)
    assert archive._proc(worker).pid() is None
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


def _produce(settings: config_mod.Settings, topic: str, events: list[dict], raw: list[bytes] = ()) -> None:  # type: ignore[assignment]
    from confluent_kafka import Producer

    p = Producer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "enable.idempotence": True,
        }
    )
    for ev in events:
        ts = int(datetime.fromisoformat(ev["created_at"]).timestamp() * 1000)
        # The producer's contract: the record timestamp IS the event time (created_at).
        p.produce(topic, json.dumps(ev).encode(), str(ev["order_id"]).encode(), timestamp=ts)
    for value in raw:
        p.produce(topic, value, b"bad")
    assert p.flush(30) == 0


def _hours() -> list[datetime]:
    base = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(hours=random.randrange(0, 24 * 360))
    return [base, base + timedelta(hours=1), base + timedelta(hours=2)]


def _archived(settings: config_mod.Settings, hours: list[datetime]) -> dict[datetime, archive.HourArchive]:
    return {h: archive.read_hour(settings, h, ["orders"])["orders"] for h in hours}


@needs_plugin
def test_n_events_are_archived_once_under_their_event_hour(worker) -> None:
    hours = _hours()
    # In-order events for hours 1 and 2, then late events of hour 0 produced last.
    on_time = _events(hours[1:], 100)
    late = _events(hours[:1], 50)
    _produce(worker, archive.topics()["orders"], on_time + late)
    archive.start(worker)
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
    assert archive.count_archived(worker, hours[0])["orders"] == 50


@needs_plugin
def test_kill_9_mid_flush_then_restart_keeps_exactly_n(worker) -> None:
    hours = _hours()
    events = _events(hours, 400)
    topic = archive.topics()["orders"]
    _produce(worker, topic, events[:600])
    archive.start(worker)
    _wait(
        "a first flush",
        lambda: sum(a.lines for a in _archived(worker, hours).values()) > 0,
    )
    _produce(worker, topic, events[600:])
    assert archive.kill(worker)
    archive.start(worker)
    ids = {e["event_id"] for e in events}
    got = _wait(
        "all events archived after the restart",
        lambda: (
            (a := _archived(worker, hours)) and set().union(*(x.event_ids for x in a.values())) == ids and a
        ),
    )
    assert sum(a.lines for a in got.values()) == len(events), "a line was archived twice"


@needs_plugin
def test_malformed_event_goes_to_the_dead_letter_topic_and_the_connector_keeps_running(
    worker,
) -> None:
    hours = _hours()
    topic = archive.topics()["orders"]
    dlq = archive.dlq_topics()["orders"]
    archive.start(worker)
    before = archive.dead_letter_counts(worker)[dlq]
    events = _events(hours[:1], 20)
    _produce(worker, topic, events[:10], raw=[b"{not json", b"\xff\xfe"])
    _produce(worker, topic, events[10:])
    _wait("dead letters", lambda: archive.dead_letter_counts(worker)[dlq] >= before + 2)
    _wait(
        "valid events archived",
        lambda: _archived(worker, hours[:1])[hours[0]].distinct == 20,
    )
    st = archive.status(worker)
    assert all(s.startswith("RUNNING") for s in st.connectors.values()), st.connectors
