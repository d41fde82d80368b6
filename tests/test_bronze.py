"""Pure transforms of the stream-ingest job (shopstream/ingest/bronze.py, schemas.py, watermarks.py) on tiny
inline DataFrames."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from shopstream.contract import load_contract
from shopstream.ingest import bronze, schemas, watermarks

UTC = dt.UTC
TOPICS = {"t.shopstream.users": "users", "t.shopstream.orders": "orders"}
BY_ENTITY = {v: k for k, v in TOPICS.items()}


def _events(n_users: int = 20, n_orders: int = 40, seed: int = 7) -> list[tuple[str, str, str]]:
    from producer.generators import EventFactory

    f = EventFactory(seed, pool_size=64)
    out = []
    for i in range(n_users):
        k, v = f.user(f"2026-11-24T10:{i:02d}:00.000000+00:00")
        out.append(("users", k, v))
    for i in range(n_orders):
        k, v = f.order(f"2026-11-24T11:{i % 60:02d}:30.123456+00:00")
        out.append(("orders", k, v))
    return out


def _handmade() -> list[tuple[str, bytes]]:
    """Edge cases the chaos generator does not produce."""
    _, _, good_user = _events(1, 0)[0]
    u = json.loads(good_user)
    _, _, good_order = _events(1, 1)[1]
    o = json.loads(good_order)

    def enc(d: Any) -> bytes:
        return json.dumps(d, ensure_ascii=False).encode()

    cases: list[tuple[str, bytes]] = [
        ("users", enc({**u, "user_id": None})),
        ("users", enc({**u, "user_id": 1.5})),
        ("users", enc({**u, "user_id": True})),
        ("users", enc({**u, "user_id": 0})),
        ("users", enc({**u, "schema_version": 2})),
        ("users", enc({**u, "schema_version": 3_000_000_000})),
        ("users", enc({**u, "name": 12345})),
        ("users", enc({**u, "name": {"a": 1}})),
        ("users", enc({**u, "name": "가" * 65})),
        ("users", enc({**u, "name": "가" * 64})),  # valid: max_length counts characters
        ("users", enc({**u, "email": "nobody.example"})),
        ("users", enc({**u, "email": "a@example.com"})),
        ("users", enc({**u, "email": "@naver.com"})),
        ("users", enc({**u, "gender": "Other"})),
        ("users", enc({**u, "event_id": "not-a-uuid"})),
        ("users", enc({**u, "created_at": "2026-11-24T10:00:00Z"})),
        ("users", enc({**u, "created_at": "2026-02-30T10:00:00.000000+00:00"})),
        ("users", enc({**u, "extra": 1})),
        ("users", enc([u])),
        ("users", b""),
        ("users", b"null"),
        ("orders", enc({**o, "price": 5001})),
        ("orders", enc({**o, "price": 200500})),
        ("orders", enc({**o, "product_id": 1001})),
        ("orders", enc({**o, "first_category": "Top", "second_category": "Skinny"})),
        ("orders", enc({**o, "first_category": "Hat"})),
        ("orders", enc({**o, "user_region": "Mars"})),
        ("orders", enc({**o, "price": "5000"})),
    ]
    return cases


def _corpus() -> list[tuple[str, bytes]]:
    from producer.chaos import MALFORMED_KINDS, Chaos

    chaos = Chaos(11, malformed=1.0)
    rows: list[tuple[str, bytes]] = []
    for i, (entity, _key, value) in enumerate(_events()):
        rows.append((entity, value.encode()))
        for kind in MALFORMED_KINDS:
            if i % 3 == 0 or kind in ("wrong_types", "missing_fields"):
                rows.append((entity, chaos.malformed_value(kind, entity, value)))
    return rows + _handmade()


def _key(entity: str, value: bytes) -> bytes | None:
    """The Kafka key a producer sends: the entity's key field as a decimal string."""
    try:
        return str(json.loads(value)[load_contract().entity(entity).key]).encode()
    except (ValueError, KeyError, TypeError):
        return b"0"


def _raw_df(spark, records: list[tuple[str, bytes]]):  # type: ignore[no-untyped-def]
    ts = dt.datetime(2026, 11, 24, 12, tzinfo=UTC)
    data = [
        (_key(entity, value), value, BY_ENTITY[entity], i % 2, i, ts)
        for i, (entity, value) in enumerate(records)
    ]
    return spark.createDataFrame(
        data, "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
    )


def _prefixes(errors: list[str]) -> set[str]:
    return {e.split(":", 1)[0] for e in errors}


@pytest.mark.slow
def test_native_validation_agrees_with_the_contract_validator(spark) -> None:
    contract = load_contract()
    records = _corpus()
    assert len(records) > 150
    out = bronze.transform_classify(_raw_df(spark, records), contract, TOPICS)
    got = {r.kafka_offset: list(r.errors) for r in out.select("kafka_offset", "errors").collect()}
    kinds = {"valid": 0, "invalid": 0}
    for i, (entity, value) in enumerate(records):
        want = contract.validate_record(
            entity, value, key=_key(entity, value), timestamp=dt.datetime(2026, 11, 24, 12, tzinfo=UTC)
        )
        have = got[i]
        assert bool(want) == bool(have), (entity, value[:200], want, have)
        kinds["invalid" if want else "valid"] += 1
        # (a nested value is a type error to Python, "not one object of scalars" to Spark)
        if (
            want
            and not want[0].startswith(("not valid", "record is", f"{entity}:"))
            and not have[0].startswith("not valid JSON")
        ):
            # field-level errors name the same fields
            assert _prefixes(want) == _prefixes(have), (value[:200], want, have)
    assert kinds["valid"] >= 60 and kinds["invalid"] >= 80


@pytest.mark.slow
def test_bronze_rows_are_typed_partitioned_by_event_time_and_deduplicated(spark) -> None:
    from pyspark.testing import assertDataFrameEqual

    contract = load_contract()
    events = _events(3, 2)
    records = [(e, v.encode()) for e, _, v in events]
    records.append(records[1])  # a producer duplicate (same bytes, same event_id), later offset
    raw = _raw_df(spark, records)
    ingested = dt.datetime(2026, 11, 24, 12, 0, 5, tzinfo=UTC)
    classified = bronze.transform_classify(raw, contract, TOPICS)
    users = bronze.transform_bronze(classified, contract, "users", ingested)
    target = schemas.bronze_schema(contract, contract.entity("users"))
    assert [(f.name, f.dataType) for f in users.schema] == [(f.name, f.dataType) for f in target]

    expected = []
    for i, (entity, _key, value) in enumerate(events):
        if entity != "users":
            continue
        ev = json.loads(value)
        created = dt.datetime.fromisoformat(ev["created_at"])
        expected.append(
            {
                **ev,
                "created_at": created,
                "event_date": created.date(),
                "event_hour": created.hour,
                "kafka_topic": BY_ENTITY["users"],
                "kafka_partition": i % 2,
                "kafka_offset": i,
                "kafka_timestamp": dt.datetime(2026, 11, 24, 12, tzinfo=UTC),
                "ingested_at": ingested,
            }
        )
    want = spark.createDataFrame(expected, target)
    assertDataFrameEqual(users, want)


@pytest.mark.slow
def test_quarantine_keeps_raw_bytes_reason_position_and_event_hour(spark) -> None:
    contract = load_contract()
    good = _events(1, 0)[0][2]
    ev = json.loads(good)
    bad_type = json.dumps({**ev, "user_id": "x"}).encode()
    records = [("users", good.encode()), ("users", b"\xff\xfe{"), ("users", bad_type)]
    when = dt.datetime(2026, 11, 25, 0, 0, 1, tzinfo=UTC)
    q = bronze.transform_quarantine(
        bronze.transform_classify(_raw_df(spark, records), contract, TOPICS), when
    )
    assert [(f.name, f.dataType) for f in q.schema] == [
        (f.name, f.dataType) for f in schemas.quarantine_schema()
    ]
    rows = sorted(q.collect(), key=lambda r: r.kafka_offset)
    assert [(r.kafka_offset, r.entity, r.kafka_topic) for r in rows] == [
        (1, "users", BY_ENTITY["users"]),
        (2, "users", BY_ENTITY["users"]),
    ]
    assert rows[0].raw_value == b"\xff\xfe{" and rows[0].reason == "not valid UTF-8"
    assert rows[0].event_date is None and rows[0].event_hour is None
    assert rows[1].raw_value == bad_type and rows[1].raw_key == b"x"
    assert rows[1].reason == "user_id: expected int64"
    assert (rows[1].event_date, rows[1].event_hour) == (dt.date(2026, 11, 24), 10)
    assert rows[1].quarantine_date == dt.date(2026, 11, 25)


def test_partition_max_and_watermark_advance_monotonically() -> None:
    t = dt.datetime(2026, 11, 24, 10, tzinfo=UTC)
    late = dt.timedelta(minutes=10)
    w1 = watermarks.advance_watermarks(
        {}, [("users", 0, t), ("users", 1, t + dt.timedelta(minutes=5))], {"users": 2}, late
    )
    assert w1["users"].complete_until == t - late
    # an older (late) event never moves a partition back; a partition with no data keeps it None
    w2 = watermarks.advance_watermarks(
        w1, [("users", 0, t - dt.timedelta(hours=2))], {"users": 2, "orders": 1}, late
    )
    assert w2["users"].complete_until == t - late
    assert w2["orders"].complete_until is None
    w3 = watermarks.advance_watermarks(
        w2, [("users", 0, t + dt.timedelta(hours=1))], {"users": 2, "orders": 1}, late
    )
    assert w3["users"].complete_until == t + dt.timedelta(minutes=5) - late


def test_schemas_follow_the_contract() -> None:
    contract = load_contract()
    for name, ent in contract.entities.items():
        schema = schemas.bronze_schema(contract, ent)
        fields = {f.name: f.dataType.simpleString() for f in schema.fields}
        for f in ent.fields:
            want = schemas.spark_type(contract.logical_types[f.type].spark).simpleString()
            assert fields[f.name] == want, (name, f.name)
        assert fields["created_at"] == "timestamp"
        assert [c for c in fields if c not in ent.field_names] == [
            "event_date",
            "event_hour",
            "kafka_topic",
            "kafka_partition",
            "kafka_offset",
            "kafka_timestamp",
            "ingested_at",
        ]
        assert (fields["event_date"], fields["event_hour"], fields["kafka_offset"]) == (
            "date",
            "int",
            "bigint",
        )


@pytest.mark.slow
def test_each_record_is_parsed_once_whatever_the_consumer_filters(spark, session_conf) -> None:
    """A consumer's filter on the classification must not copy the parse into its predicate.

    Spark pushes filters below deterministic projections by inlining the columns they name; on
    the bare classification that put ``from_json`` into each of the ~180 field checks a
    ``where(size(errors) = 0)`` reaches (26x slower per record). Counted in the optimized plans
    of the ways the stream, the bronze/quarantine writers and the recount consume it.
    """
    from pyspark.sql import functions as F

    contract = load_contract()
    raw = _raw_df(spark, [(e, v.encode()) for e, _, v in _events(2, 2)])
    ingested = dt.datetime(2026, 11, 24, 12, 0, 5, tzinfo=UTC)

    def classified():  # type: ignore[no-untyped-def]
        return bronze.transform_classify(raw, contract, TOPICS)

    consumers = {
        "valid rows": classified().where(F.size("errors") == 0),
        "one hour's ids": classified()
        .where((F.size("errors") == 0) & (F.col("event_hour") == 10))
        .select(F.col("event_orders")["event_id"]),
        "bronze users": bronze.transform_bronze(classified(), contract, "users", ingested),
        "quarantine": bronze.transform_quarantine(classified(), ingested),
    }
    entities = len(set(TOPICS.values()))
    session_conf("spark.sql.debug.maxToStringFields", "100000")  # a stream shortens plan strings
    for name, df in consumers.items():
        plan = df._jdf.queryExecution().optimizedPlan().toString()
        assert plan.count("from_json(") == entities, (name, plan.count("from_json("))
        assert plan.count("json_object_keys(") == 1, (name, plan.count("json_object_keys("))
        df.collect()  # and the plan runs


@pytest.mark.slow
def test_the_classification_is_compiled_once_whatever_the_clock(spark) -> None:
    """Each micro-batch gives ``current_timestamp()`` a new value; generated code spells a
    timestamp literal inline, so a class holding the clock was compiled again for every batch (two
    ~10-30 ms compiles per batch, and code the JIT had to learn again). Here each query plans anew
    with a new clock, as each batch does: the second run of the same plan compiles nothing."""
    import time

    from pyspark.sql import functions as F

    from shopstream.ingest.dedupe import with_seen_at

    contract = load_contract()
    raw = _raw_df(spark, [(e, v.encode()) for e, _, v in _events(2, 2)])
    compiled = spark._jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME()
    classified = with_seen_at(bronze.transform_classify(raw, contract, TOPICS))

    def run() -> None:  # a new Dataset: planned again, with the clock read again
        classified.where(F.size("errors") == 0).select("*").collect()

    run()
    time.sleep(0.01)
    before = compiled.getCount()
    run()
    assert compiled.getCount() == before
