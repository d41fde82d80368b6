"""Generators: exact distributions (chi-square), contract-valid events, reproducibility, flat memory.

Distribution tests use Pearson's chi-square goodness-of-fit at significance alpha = 0.001 on
>= 100k events with a fixed seed. Why chi-square rather than per-category tolerances: one
statistic per field covers every category at once with a known false-alarm rate, and it is
sensitive where tolerances are weak (a 1 % category such as Jeju or hitel.net drifting to 1.2 %
is ~6 sigma at n = 120k). alpha = 0.001 because the seed is fixed (the test is deterministic),
so alpha only states how unusual a correct generator's sample would have to be to fail.
"""

from __future__ import annotations

import json
import math
import random
import tracemalloc
import uuid
from collections import Counter

import pytest

from producer.chaos import MALFORMED_KINDS, Chaos
from producer.clock import SimulatedClock, TimestampFormatter, parse_timestamp
from producer.derive import WeightedTable, user_attributes
from producer.generators import EventFactory, FakerPools, uuid4_from_int
from producer.schedule import LOOP_END, ORDER, USER, Schedule
from shopstream.contract import load_contract
from shopstream.durations import parse_seconds as parse_duration

SEED = 20261124
N_USERS = 120_000
N_ORDERS = 150_000
TS = "2026-11-24T10:15:03.123456+00:00"
ALPHA_Z = 3.090232  # standard normal quantile for 1 - 0.001
# exact chi-square critical values at alpha = 0.001 for small degrees of freedom
CRITICAL = {1: 10.828, 2: 13.816, 3: 16.266, 4: 18.467, 9: 27.877, 15: 37.697}


def chi2_critical(df: int) -> float:
    """Chi-square quantile at 1 - 0.001: exact table, else Wilson-Hilferty (< 0.1 % off for df > 30)."""
    if df in CRITICAL:
        return CRITICAL[df]
    a = 2.0 / (9.0 * df)
    return df * (1.0 - a + ALPHA_Z * math.sqrt(a)) ** 3


def assert_fits(observed: Counter[str], weights: dict[str, int] | dict[int, int], what: str) -> None:
    n = sum(observed.values())
    total = sum(weights.values())
    assert set(observed) <= set(weights), f"{what}: unexpected values {set(observed) - set(weights)}"
    stat = sum((observed.get(v, 0) - n * w / total) ** 2 / (n * w / total) for v, w in weights.items())
    crit = chi2_critical(len(weights) - 1)
    assert stat < crit, f"{what}: chi2 = {stat:.1f} >= {crit:.1f} (df {len(weights) - 1}, n {n}): {observed}"


@pytest.fixture(scope="module")
def pools() -> FakerPools:
    return FakerPools.build(SEED, 1024)


@pytest.fixture(scope="module")
def events(pools: FakerPools) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    f = EventFactory(SEED, pools=pools)
    users = [json.loads(f.user(TS)[1]) for _ in range(N_USERS)]
    orders = [json.loads(f.order(TS)[1]) for _ in range(N_ORDERS)]
    return users, orders


def test_user_distributions_match_contract(events: tuple[list[dict[str, object]], ...]) -> None:
    users, _ = events
    c = load_contract()
    assert_fits(Counter(str(u["gender"]) for u in users), c.weights("users", "gender"), "gender")
    assert_fits(Counter(str(u["address"]) for u in users), c.weights("users", "address"), "address")
    domains = Counter(str(u["email"]).rpartition("@")[2] for u in users)
    assert_fits(domains, c.weights("users", "email"), "email domain")


def test_gender_and_region_are_independent(events: tuple[list[dict[str, object]], ...]) -> None:
    users, _ = events
    c = load_contract()
    g, r = c.weights("users", "gender"), c.weights("users", "address")
    joint = Counter((str(u["gender"]), str(u["address"])) for u in users)
    weights = {f"{a}|{b}": g[a] * r[b] for a in g for b in r}
    assert_fits(Counter({f"{a}|{b}": n for (a, b), n in joint.items()}), weights, "gender x region")


def test_order_distributions_match_contract(events: tuple[list[dict[str, object]], ...]) -> None:
    _, orders = events
    c = load_contract()
    first = Counter(str(o["first_category"]) for o in orders)
    assert_fits(first, c.weights("orders", "first_category"), "first_category")
    for cat in first:
        seconds = Counter(str(o["second_category"]) for o in orders if o["first_category"] == cat)
        assert_fits(seconds, c.weights("orders", "second_category", given=cat), f"second_category | {cat}")
    assert_fits(Counter(int(o["product_id"]) for o in orders), {p: 1 for p in range(1, 1001)}, "product_id")  # type: ignore[arg-type]
    prices = Counter(int(o["price"]) for o in orders)  # type: ignore[arg-type]
    assert_fits(prices, {500 * k: 1 for k in range(10, 401)}, "price")
    assert min(prices) >= 5000 and max(prices) <= 200_000
    # orders pick an existing user uniformly: N_USERS existed for all of them
    per_bucket = Counter((int(o["user_id"]) - 1) * 100 // N_USERS for o in orders)  # type: ignore[arg-type]
    assert_fits(per_bucket, {b: 1 for b in range(100)}, "user_id (100 equal buckets)")


def test_denormalized_user_attributes_match_the_user(events: tuple[list[dict[str, object]], ...]) -> None:
    users, orders = events
    by_id = {u["user_id"]: (u["gender"], u["address"]) for u in users}
    for o in orders[:20_000]:
        assert (o["user_gender"], o["user_region"]) == by_id[o["user_id"]]
    for u in users[:2000]:
        assert (u["gender"], u["address"]) == user_attributes(SEED, int(u["user_id"]))  # type: ignore[arg-type]
    # the attribute function is a pure function of (seed, user_id): another seed differs
    other = [user_attributes(SEED + 1, i) for i in range(1, 2001)]
    assert other != [user_attributes(SEED, i) for i in range(1, 2001)]


def test_every_event_is_valid_ids_unique_and_increasing(events: tuple[list[dict[str, object]], ...]) -> None:
    users, orders = events
    for u in users[::10]:
        assert load_contract().validate_event("users", u) == [], u
    for o in orders[::10]:
        assert load_contract().validate_event("orders", o) == [], o
    ids = [e["event_id"] for e in users] + [e["event_id"] for e in orders]
    assert len(set(ids)) == len(ids)
    assert [u["user_id"] for u in users] == list(range(1, N_USERS + 1))
    assert [o["order_id"] for o in orders] == list(range(1, N_ORDERS + 1))


def test_same_seed_same_events_other_seed_other_events(pools: FakerPools) -> None:
    def run(seed: int) -> list[tuple[str, str]]:
        f = EventFactory(seed, pools=FakerPools.build(seed, 256))
        return [f.user(TS) if i % 3 == 0 else f.order(TS) for i in range(3000)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_key_is_the_entity_key_and_json_is_compact_utf8(pools: FakerPools) -> None:
    f = EventFactory(SEED, pools=pools, first_user_id=500, first_order_id=9000)
    key, value = f.user(TS)
    assert key == "500" and json.loads(value)["user_id"] == 500
    key, value = f.order(TS)
    assert key == "9000" and json.loads(value)["order_id"] == 9000 and json.loads(value)["user_id"] == 500
    assert list(json.loads(value)) == load_contract().entity("orders").field_names
    assert "\\u" not in f.user(TS)[1]  # Hangul as UTF-8, not escapes
    with pytest.raises(RuntimeError, match="existing user"):
        EventFactory(SEED, pools=pools).order(TS)


def test_uuid_matches_stdlib_uuid4_from_the_same_bits() -> None:
    rng = random.Random(1)
    for _ in range(20_000):
        n = rng.getrandbits(128)
        assert uuid4_from_int(n) == str(uuid.UUID(int=n, version=4))


def test_event_ids_are_seeded_uuid4_draws_in_order(pools: FakerPools) -> None:
    f = EventFactory(SEED, pools=pools)
    ids = random.Random(f"shopstream:{SEED}:ids")
    for i in range(3000):  # crosses two id batches
        event = json.loads((f.user(TS) if i % 3 == 0 else f.order(TS))[1])
        assert event["event_id"] == str(uuid.UUID(int=ids.getrandbits(128), version=4))


def test_weighted_table_is_exact() -> None:
    t = WeightedTable.from_mapping({"a": 3, "b": 1})
    assert t.slots == ("a", "a", "a", "b") and t.probability("a") == 0.75
    assert [t.pick(i / 4) for i in range(4)] == ["a", "a", "a", "b"]
    assert t.pick_u32(0) == "a" and t.pick_u32(2**32 - 1) == "b"


def test_memory_stays_flat() -> None:
    f = EventFactory(SEED, pools=FakerPools.build(SEED, 256))
    s = Schedule(SEED)
    tracemalloc.start()
    for _ in range(5):
        for k in s.chunk(2048):
            (f.user if k & 1 == USER else f.order)(TS)
    after_warmup, _ = tracemalloc.get_traced_memory()
    for _ in range(45):
        for k in s.chunk(2048):
            (f.user if k & 1 == USER else f.order)(TS)
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert current - after_warmup < 64 * 1024, f"grew by {current - after_warmup} bytes over 92k events"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_users": 5, "users_per_loop": 3, "orders_per_user": 1.5},
        {"initial_users": 0, "users_per_loop": 2, "orders_per_user": 0.3},
        {"initial_users": 7, "users_per_loop": 0, "orders_per_user": None, "ratio_order_user": 0.5},
    ],
)
def test_schedule_chunks_equal_single_steps(kwargs: dict[str, object]) -> None:
    a, b = Schedule(3, **kwargs), Schedule(3, **kwargs)  # type: ignore[arg-type]
    steps = bytearray()
    for _ in range(3000):
        k = a.next()
        steps.append(k | (LOOP_END if a.loop_ended else 0))
    assert b.chunk(3) + b.chunk(1000) + b.chunk(1997) == bytes(steps)


def test_schedule_ratios_and_original_semantics() -> None:
    s = Schedule(1, initial_users=10, users_per_loop=10, orders_per_user=2.5)
    kinds = Counter(k & 1 for k in s.chunk(10 + 35 * 1000))  # 10 initial users, then 1000 loops
    assert kinds[USER] == 10 + 10_000 and kinds[ORDER] == 25_000
    # original: orders per loop = max(1, int(users so far * ratio))
    o = Schedule(1, initial_users=10, users_per_loop=10, orders_per_user=None, ratio_order_user=0.1)
    seq = o.chunk(10 + 11 + 12)
    assert Counter(k & 1 for k in seq[10:21]) == {USER: 10, ORDER: 1}  # 10 users * 0.1
    assert Counter(k & 1 for k in seq[21:33]) == {USER: 10, ORDER: 2}  # 20 users * 0.1
    # an order is never scheduled before the first user
    first = Schedule(2, initial_users=0, users_per_loop=1, orders_per_user=50.0).chunk(1)
    assert first[0] & 1 == USER
    with pytest.raises(ValueError):
        Schedule(1, initial_users=0, users_per_loop=0)


def test_chaos_records_are_each_detectably_malformed(pools: FakerPools) -> None:
    f = EventFactory(SEED, pools=pools)
    chaos = Chaos(SEED, malformed=1.0, max_event_bytes=load_contract().max_event_bytes)
    user, order = f.user(TS)[1], f.order(TS)[1]
    expect = {
        "bad_json": "not valid JSON",
        "non_utf8": "not valid UTF-8",
        "oversized": "max_event_bytes",
    }
    for entity, value in (("users", user), ("orders", order)):
        for kind in MALFORMED_KINDS:
            for _ in range(20):
                raw = chaos.malformed_value(kind, entity, value)
                errors = load_contract().validate_value(entity, raw)
                assert errors, (kind, raw[:200])
                if kind in expect:
                    assert expect[kind] in errors[0], (kind, errors)
                else:  # parseable JSON with a contract violation, and a fresh event_id
                    event = json.loads(raw)
                    assert event.get("event_id") != json.loads(value)["event_id"]
                if kind == "oversized":
                    assert len(raw) < 1_000_000  # below Kafka's default max message size
    assert sorted({chaos.pick_kind() for _ in range(500)}) == sorted(MALFORMED_KINDS)


def test_chaos_duplicates_resend_recent_records() -> None:
    chaos = Chaos(1, duplicates=1.0)
    for i in range(5000):
        chaos.remember("t", str(i), f"v{i}", 0)
    picks = [chaos.pick_duplicate() for _ in range(200)]
    assert all(int(k) >= 5000 - 1024 and v == f"v{k}" for _, k, v, _ in picks)
    with pytest.raises(ValueError):
        Chaos(1, late=1.5)


def test_clock_helpers() -> None:
    fmt = TimestampFormatter()
    assert fmt(0) == "1970-01-01T00:00:00.000000+00:00"
    us = parse_timestamp("2026-11-24T10:15:03.123456+00:00")
    assert fmt(us) == "2026-11-24T10:15:03.123456+00:00"
    assert parse_timestamp("2026-11-24T19:15:03.123456+09:00") == us
    clock = SimulatedClock(us, 1000)
    assert [clock(), clock()] == [us, us + 1000]
    assert parse_duration("1h30m") == 5400 and parse_duration("250ms") == 0.25 and parse_duration("90") == 90
    for bad in ("", "1x", "h", "5m3", "-5", "inf", "1e3"):
        with pytest.raises(ValueError):
            parse_duration(bad)
