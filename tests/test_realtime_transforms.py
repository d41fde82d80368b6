"""The consumer's pure part: record -> bulk action, with the Logstash pipelines' semantics."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from producer.chaos import MALFORMED_KINDS, Chaos
from shopstream.contract import load_contract
from shopstream.errors import UsageError
from shopstream.realtime import spec, transforms
from shopstream.realtime.consumer import RunOptions

CONTRACT = load_contract()
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
    "created_at": "2026-11-30T23:59:59.999999+00:00",
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
    "created_at": "2026-12-01T00:00:00.000001+00:00",
}


def _action(entity: str, raw: bytes | None, offset: int = 5) -> transforms.Action:
    return transforms.to_action(
        CONTRACT,
        IDX[entity],
        topic=IDX[entity].topic,
        partition=1,
        offset=offset,
        kafka_timestamp_ms=1_764_547_200_000,  # 2025-12-01T00:00:00Z
        raw=raw,
    )


def test_a_valid_user_becomes_the_logstash_document() -> None:
    a = _action("users", json.dumps(USER).encode())
    assert not a.dead_letter
    assert a.index == "shopstream-users-2026.11"  # event-time month, not arrival
    assert a.doc_id == USER["event_id"]
    assert a.source == {
        **USER,
        "@timestamp": "2026-11-30T23:59:59.999Z",
        "email_user": "minjun.kim",
        "email_domain": "naver.com",
    }
    assert set(a.source) == set(CONTRACT.entity("users").field_names) | set(IDX["users"].added_fields)


def test_a_valid_order_lands_in_its_event_month() -> None:
    a = _action("orders", json.dumps(ORDER).encode())
    assert (a.index, a.doc_id) == ("shopstream-orders-2026.12", ORDER["event_id"])
    assert a.source == {**ORDER, "@timestamp": "2026-12-01T00:00:00.000Z"}


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
@pytest.mark.parametrize("entity", ["users", "orders"])
def test_malformed_records_become_dead_letters_with_the_contracts_reason(kind: str, entity: str) -> None:
    valid = json.dumps(USER if entity == "users" else ORDER, ensure_ascii=False)
    raw = Chaos(seed=3, max_event_bytes=CONTRACT.max_event_bytes).malformed_value(kind, entity, valid)
    a = _action(entity, raw, offset=99)
    assert a.dead_letter
    assert a.index == f"shopstream-deadletter-{entity}-2025.12"  # Kafka record time
    assert a.doc_id == f"shopstream.{entity}-1-99"  # a replay rewrites the same dead letter
    assert a.source["reason"] == "; ".join(CONTRACT.validate_value(entity, raw))
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
    assert dl.index == "shopstream-deadletter-orders-2026.12"
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
    ],
)
def test_run_options_reject_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        RunOptions(**kwargs).validate()  # type: ignore[arg-type]
