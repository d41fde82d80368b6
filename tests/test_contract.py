"""conf/contract.yaml: pinned to DESIGN.md section 2, loadable, and a validator that catches errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shopstream.contract import ContractError, load_contract

# DESIGN.md section 2, copied on purpose: the contract must not drift from the brief.
DESIGN = {
    ("users", "gender"): {"Men": 60, "Women": 40},
    ("users", "email"): {
        "gmail.com": 25,
        "naver.com": 35,
        "kakao.com": 15,
        "hanmail.net": 10,
        "nate.com": 5,
        "yahoo.co.kr": 4,
        "dreamwiz.com": 2,
        "freechal.com": 2,
        "empal.com": 1,
        "hitel.net": 1,
    },
    ("users", "address"): {
        "Seoul": 19,
        "Busan": 6,
        "Daegu": 5,
        "Gwangju": 3,
        "Incheon": 8,
        "Daejeon": 3,
        "Ulsan": 2,
        "Gyeonggi": 23,
        "Gangwon": 4,
        "Chungcheongnam-do": 5,
        "Chungcheongbuk-do": 5,
        "Jeollanam-do": 3,
        "Jeollabuk-do": 2,
        "Gyeongsangnam-do": 6,
        "Gyeongsangbuk-do": 5,
        "Jeju": 1,
    },
    ("orders", "first_category"): {"Top": 40, "Bottom": 25, "Outerwear": 15, "Shoe": 15, "Skirt": 5},
}
DESIGN_SECOND = {
    "Top": {"Blouse": 30, "Shirt": 20, "Polo": 20, "Sweatshirt": 20, "Sweater": 10},
    "Bottom": {"Straight": 40, "Skinny": 30, "Wide leg": 20, "Cargo Pants": 5, "Boot-Cut": 5},
    "Outerwear": {"Padded Jacket": 50, "Blazer": 35, "Trench Coat": 5, "Zip Up Hoodie": 5, "Denim Jacket": 5},
    "Shoe": {"Mary Jane": 30, "Sling Back": 30, "Sneaker": 25, "Penny Loafer": 10, "Sandal": 5},
    "Skirt": {"Straight": 40, "Pencil": 30, "A-line": 15, "Slit": 10, "Wrap": 5},
}

USER = {
    "event_id": "1a2c024d-7642-438f-9a23-598c2c8b2d54",
    "schema_version": 1,
    "user_id": 7,
    "name": "김준호",
    "email": "seoyeong36@naver.com",
    "phone_number": "010-1234-5678",
    "gender": "Women",
    "address": "Jeju",
    "created_at": "2026-11-24T10:15:03.123456+00:00",
}
ORDER = {
    "event_id": "30571ee9-5c29-41d2-ba3c-f9f1b57a7040",
    "schema_version": 1,
    "order_id": 3,
    "user_id": 7,
    "product_id": 1000,
    "price": 200000,
    "first_category": "Skirt",
    "second_category": "Straight",
    "user_gender": "Women",
    "user_region": "Jeju",
    "created_at": "2026-11-24T10:15:03.000000+00:00",
}


def test_weights_are_exactly_the_design_weights() -> None:
    c = load_contract()
    for (entity, field), weights in DESIGN.items():
        assert c.weights(entity, field) == weights, (entity, field)
        assert list(c.weights(entity, field)) == list(weights), "listed order is part of the contract"
    for first, weights in DESIGN_SECOND.items():
        assert c.weights("orders", "second_category", given=first) == weights
    # denormalized fields carry the users' values and weights
    assert c.weights("orders", "user_gender") == DESIGN[("users", "gender")]
    assert c.weights("orders", "user_region") == DESIGN[("users", "address")]


def test_entities_topics_keys_and_ranges() -> None:
    c = load_contract()
    assert c.entity_names == ["users", "orders"]
    users, orders = c.entity("users"), c.entity("orders")
    assert (users.topic, users.key, users.schema_version) == ("shopstream.users", "user_id", 1)
    assert (orders.topic, orders.key, orders.schema_version) == ("shopstream.orders", "order_id", 1)
    assert orders.field("product_id").min == 1 and orders.field("product_id").max == 1000
    price = orders.field("price")
    assert (price.min, price.max, price.step) == (500 * 10, 500 * 400, 500)
    for ent in (users, orders):
        assert ent.field("event_id").type == "uuid"
        assert ent.field("created_at").type == "timestamp"
        assert ent.field("schema_version").const == ent.schema_version
        assert all(f.required and not f.nullable for f in ent.fields)
        for f in ent.fields:
            assert f.type in c.logical_types
    assert c.entity_for_topic("test1.shopstream.orders").name == "orders"


def test_validate_accepts_good_events() -> None:
    assert load_contract().validate_event("users", USER) == []
    assert load_contract().validate_event("orders", ORDER) == []
    assert load_contract().validate_value("orders", json.dumps(ORDER, ensure_ascii=False).encode()) == []


@pytest.mark.parametrize(
    ("entity", "change", "expected"),
    [
        ("users", {"gender": "M"}, "gender: 'M' not in allowed values"),
        ("users", {"email": "a@hotmail.com"}, "domain 'hotmail.com'"),
        ("users", {"email": "no-at-sign"}, "not an email address"),
        ("users", {"user_id": "7"}, "user_id: expected int64"),
        ("users", {"user_id": True}, "user_id: expected int64"),
        ("users", {"user_id": 0}, "user_id: 0 < min 1"),
        ("users", {"schema_version": 2}, "schema_version: must be 1"),
        ("users", {"event_id": "not-a-uuid"}, "not a valid uuid"),
        ("users", {"created_at": "2026-11-24T10:15:03+00:00"}, "not a valid timestamp"),
        ("users", {"created_at": "2026-11-24T10:15:03.123456"}, "not a valid timestamp"),
        ("users", {"created_at": "2026-13-24T10:15:03.123456+00:00"}, "not a calendar date and time"),
        ("users", {"name": "x" * 65}, "max_length 64"),
        ("users", {"name": None}, "name: must not be null"),
        ("users", {"extra": 1}, "extra: unknown field"),
        ("orders", {"price": 5250}, "not min + k*500"),
        ("orders", {"price": 4500}, "< min 5000"),
        ("orders", {"product_id": 1001}, "> max 1000"),
        ("orders", {"second_category": "Blouse"}, "not allowed when first_category is 'Skirt'"),
        ("orders", {"second_category": "Sneakers"}, "not allowed when first_category is 'Skirt'"),
        ("orders", {"user_region": "Tokyo"}, "user_region: 'Tokyo' not in allowed values"),
    ],
)
def test_validate_rejects(entity: str, change: dict[str, object], expected: str) -> None:
    event = {**(USER if entity == "users" else ORDER), **change}
    errors = load_contract().validate_event(entity, event)
    assert any(expected in e for e in errors), errors


def test_validate_missing_and_raw_records() -> None:
    event = dict(USER)
    del event["email"]
    assert load_contract().validate_event("users", event) == ["email: required field is missing"]
    assert load_contract().validate_event("users", [1, 2]) == ["users: event must be a JSON object, got list"]
    assert load_contract().validate_value("users", b'{"event_id": ')[0].startswith("not valid JSON")
    assert load_contract().validate_value("users", b'{"name": "\xb1\xe8"}')[0].startswith("not valid UTF-8")
    big = json.dumps({**USER, "name": "x" * 10_000}).encode()
    assert "max_event_bytes" in load_contract().validate_value("users", big)[0]


def test_contract_file_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "contract.yaml"
    raw = (Path(__file__).resolve().parent.parent / "conf" / "contract.yaml").read_text()
    bad.write_text(raw.replace("Men: 60", "Men: 61"))
    with pytest.raises(ContractError, match="must sum to 100"):
        load_contract(bad)
    bad.write_text(raw.replace("weights_by: first_category", "weights_by: price"))
    with pytest.raises(ContractError, match="not a weighted field"):
        load_contract(bad)
    with pytest.raises(ContractError, match="not found"):
        load_contract(tmp_path / "missing.yaml")


def test_importing_the_contract_loads_no_engine() -> None:
    code = (
        "import sys, shopstream.contract as c; c.load_contract(); "
        "bad = [m for m in ('pyspark', 'confluent_kafka', 'faker', 'kafka') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
