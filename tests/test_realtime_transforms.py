"""The consumer's pure part: record -> bulk action, with the Logstash pipelines' semantics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from producer.chaos import MALFORMED_KINDS, Chaos
from shopstream.contract import load_contract
from shopstream.errors import UsageError
from shopstream.realtime import spec, transforms
from shopstream.realtime.options import RunOptions
from shopstream.validity import NO_KEY

CONTRACT = load_contract()
ARRIVAL = datetime(2026, 11, 1, 0, 1, tzinfo=UTC)  # Kafka record time of every test record
ARRIVAL_MS = int(ARRIVAL.timestamp() * 1000)
IDX = spec.entity_indexes(CONTRACT)
USER = {
    "event_id": "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f",
    "schema_version": 1,
    "user_id": 42,
    "name": "김민준",
    "email": "minjun.kim@naver.com",
    "phone_number": "010-1234-5678",
    "gender": "Men",
    "address": "Seoul",
    "created_at": "2026-10-31T23:59:59.999999+00:00",
}
ORDER = {
    "event_id": "0b1c2d3e-4a5b-4c6d-9e7f-0a1b2c3d4e5f",
    "schema_version": 1,
    "order_id": 7,
    "user_id": 42,
    "product_id": 10,
    "price": 12500,
    "first_category": "Top",
    "second_category": "Blouse",
    "user_gender": "Men",
    "user_region": "Seoul",
    "created_at": "2026-11-01T00:00:00.000001+00:00",
}


def _action(entity: str, raw: bytes | None, offset: int = 5) -> transforms.Action:
    return transforms.to_action(
        CONTRACT,
        IDX[entity],
        topic=IDX[entity].topic,
        partition=1,
        offset=offset,
        kafka_timestamp_ms=ARRIVAL_MS,
        raw=raw,
    )


def test_a_valid_user_becomes_the_logstash_document() -> None:
    a = _action("users", json.dumps(USER).encode())
    assert not a.dead_letter
    assert a.index == "shopstream-users-2026.10"  # event-time month, not arrival
    assert a.doc_id == USER["event_id"]
    assert a.source == {
        **USER,
        "@timestamp": "2026-10-31T23:59:59.999Z",
        "email_user": "minjun.kim",
        "email_domain": "naver.com",
    }
    assert set(a.source) == set(CONTRACT.entity("users").field_names) | set(IDX["users"].added_fields)


def test_a_valid_order_lands_in_its_event_month() -> None:
    a = _action("orders", json.dumps(ORDER).encode())
    assert (a.index, a.doc_id) == ("shopstream-orders-2026.11", ORDER["event_id"])
    assert a.source == {**ORDER, "@timestamp": "2026-11-01T00:00:00.000Z"}


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
@pytest.mark.parametrize("entity", ["users", "orders"])
def test_malformed_records_become_dead_letters_with_the_contracts_reason(kind: str, entity: str) -> None:
    valid = json.dumps(USER if entity == "users" else ORDER, ensure_ascii=False)
    raw = Chaos(seed=3, max_event_bytes=CONTRACT.max_event_bytes).malformed_value(kind, entity, valid)
    a = _action(entity, raw, offset=99)
    assert a.dead_letter
    assert a.index == f"shopstream-deadletter-{entity}-2026.11"  # Kafka record time
    assert a.doc_id == f"shopstream.{entity}-1-99"  # a replay rewrites the same dead letter
    assert a.source["reason"] == "; ".join(CONTRACT.validate_value(entity, raw, ARRIVAL))
    assert a.source["offset"] == 99 and a.source["partition"] == 1
    assert len(a.source["raw"]) <= spec.DEADLETTER_RAW_MAX_CHARS
    assert set(a.source) <= set(spec.DEADLETTER_FIELDS)


def test_tombstones_and_non_objects_are_dead_letters() -> None:
    assert _action("users", None).source["reason"] == "record has no value (tombstone)"
    assert "must be a JSON object" in _action("users", b"[1, 2]").source["reason"]


def test_decode_agrees_with_the_contract_validator() -> None:
    for raw in (json.dumps(USER).encode(), b"{", b"\xff", json.dumps({**USER, "gender": "x"}).encode()):
        _event, errors = transforms.decode(CONTRACT, "users", raw)
        assert errors == CONTRACT.validate_value("users", raw)


def test_a_refused_document_becomes_a_dead_letter_in_its_event_month() -> None:
    doc = _action("orders", json.dumps(ORDER).encode())
    dl = transforms.rejected_action(doc, IDX["orders"], "mapper_parsing_exception: boom")
    assert dl.dead_letter and dl.doc_id == f"rejected-{ORDER['event_id']}"
    assert dl.index == "shopstream-deadletter-orders-2026.11"
    assert json.loads(dl.source["raw"])["order_id"] == 7


def test_logstash_timestamp_truncates_to_milliseconds_in_utc() -> None:
    ts = datetime(2026, 1, 2, 3, 4, 5, 678999, tzinfo=UTC)
    assert transforms.logstash_timestamp(ts) == "2026-01-02T03:04:05.678Z"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"workers": 0},
        {"max_events": 0},
        {"idle_exit": 0},
        {"max_events": 5, "idle_exit": 1.0},
        {"batch_size": 0},
        {"bulk_concurrency": 0},
        {"bulk_concurrency": 17},
    ],
)
def test_run_options_reject_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        RunOptions(**kwargs).validate()  # type: ignore[arg-type]


# --- the fast path agrees with the definition ------------------------------------------------------
_ODD_VALUES: tuple[object, ...] = (
    None,
    True,
    1.0,
    1e2,
    "1",
    -1,
    0,
    2**31,
    2**63,
    10**30,
    "",
    "x" * 300,
    "김" * 70,
    "a\nb",
    "\u0000",
    "\ud800",
    "😀",
    [],
    {},
    "2026-11-30T10:00:00.123456Z",
    "2026-11-30 10:00:00.123456+00:00",
    "2026-11-30T10:00:00.123456+09:00",
    "2026-02-30T10:00:00.123456+00:00",
    "2026-11-30T10:00:00+00:00",
    USER["event_id"].upper(),
    USER["event_id"] + "\n",
    "a@b@naver.com",
    "@naver.com",
    "x@gmail.com.evil",
    "Women",
    "Seoul",
    "Top",
    "Skinny",
    500,
    200_500,
    1001,
)


def _mutations(event: dict[str, object]) -> list[bytes]:
    """The event with each field removed, replaced by odd values, or spelled oddly."""
    out = [json.dumps(event, ensure_ascii=False).encode()]
    for name in event:
        out.append(json.dumps({k: v for k, v in event.items() if k != name}).encode())
        for value in _ODD_VALUES:
            out.append(json.dumps({**event, name: value}, ensure_ascii=False).encode(errors="replace"))
            out.append(json.dumps({**event, name: value}, ensure_ascii=True).encode())
    text = json.dumps(event, ensure_ascii=False)
    out += [
        json.dumps({**event, "extra": 1}).encode(),
        (text[:-1] + ', "user_id": 43}').encode(),  # a duplicate key
        text.replace('"event_id"', '"\\u0065vent_id"').encode(),  # an escaped key
        text.encode("utf-8-sig"),  # a byte order mark
        (text + " x").encode(),
        (text + "\n").encode(),
        json.dumps(event, indent=2, ensure_ascii=False).encode(),  # newlines between tokens
        text.replace("1,", "1.0,", 1).encode(),
        text.replace(": 1,", ": NaN,", 1).encode(),
    ]
    return out


@pytest.mark.parametrize("entity", ["users", "orders"])
def test_the_fast_check_accepts_only_what_the_definition_accepts(entity: str) -> None:
    from producer.generators import EventFactory
    from shopstream.realtime.accept import compile_acceptor

    accept = compile_acceptor(CONTRACT, CONTRACT.entity(entity))
    ingest = datetime(2026, 11, 29, 12, tzinfo=UTC)  # the Kafka time of these records (past)
    ingest_ms = int(ingest.timestamp() * 1000)
    base = USER if entity == "users" else ORDER
    factory = EventFactory(seed=11)
    factory.user("2026-11-29T10:00:00.000000+00:00")
    generated = [
        (factory.user if entity == "users" else factory.order)(f"2026-11-{d:02d}T10:00:00.123456+00:00")[1]
        for d in range(1, 29)
    ]
    chaos = Chaos(seed=5, max_event_bytes=CONTRACT.max_event_bytes)
    raws = [g.encode() for g in generated]
    raws += [chaos.malformed_value(k, entity, generated[0]) for k in MALFORMED_KINDS]
    raws += _mutations(base)
    accepted = 0
    key = str(base[CONTRACT.entity(entity).key]).encode()
    for raw in raws:
        for k in (NO_KEY, key, b"0", None):
            fast = accept(raw, k, ingest)
            event, errors = transforms.decode(CONTRACT, entity, raw, k, ingest_ms)
            if fast is not None:
                accepted += 1
                assert errors == [] and fast == event, (raw, k)
        # a time past the ingest time (+ skew) is never waved through
        assert (
            accept(raw, NO_KEY, ingest - timedelta(days=60)) is None
            or not transforms.decode(CONTRACT, entity, raw, NO_KEY, ingest_ms - 60 * 86_400_000)[1]
        )
    # every event the producer makes takes the fast path (else the consumer silently slows down)
    assert all(
        accept(r, NO_KEY, ingest) is not None
        for r in [*raws[: len(generated)], json.dumps(base, ensure_ascii=False).encode()]
    )
    assert accepted < len(raws)


@pytest.mark.parametrize("entity", ["users", "orders"])
def test_the_fast_path_builds_the_same_action_as_the_definition(entity: str) -> None:
    base = USER if entity == "users" else ORDER
    idx = IDX[entity]
    for raw in _mutations(base):
        a = _action(entity, raw)
        event, errors = transforms.decode(CONTRACT, entity, raw)
        if errors or event is None:
            assert a.dead_letter
            continue
        want = transforms.apply_transforms(event, idx)
        assert not a.dead_letter and a.source == want, raw
        assert a.index == idx.index_for(transforms.event_timestamp(event["created_at"]))
        assert a.bulk_lines() == (
            json.dumps({"index": {"_index": a.index, "_id": a.doc_id}}, separators=(",", ":")).encode()
            + b"\n"
            + a.source_json
            + b"\n"
        )
        assert b"\n" not in a.source_json


def test_a_surrogate_escape_is_a_dead_letter_not_a_document() -> None:
    # json.loads lets a lone surrogate through, UTF-8 (and so every sink) cannot hold it: the
    # contract refuses surrogate escapes before parsing (validity.surrogate_escapes)
    for name in ("\ud800", "\U0001f600"):
        a = _action("users", json.dumps({**USER, "name": name}).encode())
        assert a.dead_letter and "surrogate" in a.source["reason"]
