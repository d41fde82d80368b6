"""One definition of validity, enforced identically everywhere, proven by fuzzing.

hypothesis generates Kafka records of three kinds — arbitrary bytes, arbitrary JSON values, and
valid events mutated field by field (boundary dates, control characters, unicode, huge numbers,
floats and booleans for integers, nested values, trailing whitespace/newlines, duplicate and
escaped keys, wrong Kafka keys) — plus a fixed corpus of hostile classes. Then:

* the Python validator never raises (it is the consumer's and the archive's judge);
* Python, Spark (the stream's native expressions) and Ruby (Logstash's filter, run under JRuby)
  give the same verdict on every record;
* every accepted record loads: into Delta (read back by delta-rs), through PostgreSQL COPY (the
  warehouse stand-in's load path) and into OpenSearch (a bulk with the real index templates).

Spark and JRuby start once per test: the examples are drawn first, then judged in one batch.
"""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from validity_helpers import (
    ARRIVAL,
    Record,
    RubyValidator,
    jruby_jar,
    python_verdicts,
    spark_frame,
    spark_verdicts,
)

from shopstream.contract import load_contract

CONTRACT = load_contract()
ENTITIES = CONTRACT.entity_names
EXAMPLES = int(os.environ.get("SHOPSTREAM_FUZZ_EXAMPLES", "300"))  # per strategy
SKEW = timedelta(seconds=CONTRACT.logical_types["timestamp"].max_future_skew_seconds or 0)
EARLIEST = CONTRACT.logical_types["timestamp"].earliest_time or datetime(2000, 1, 1, tzinfo=UTC)


def _ts(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _valid_events(n: int = 16) -> list[tuple[str, str, dict[str, Any]]]:
    from producer.generators import EventFactory

    f = EventFactory(5, pool_size=32)
    out = []
    for i in range(n):
        k, v = f.user(_ts(ARRIVAL - timedelta(minutes=i)))
        out.append(("users", k, json.loads(v)))
        k, v = f.order(_ts(ARRIVAL - timedelta(hours=i)))
        out.append(("orders", k, json.loads(v)))
    return out


VALID = _valid_events()

# values that sit on an edge of some rule (valid or not): the mutation strategy draws from these
EDGE_STRINGS = [
    "",
    " ",
    "a\n",
    "a\r\n",
    "\n",
    "a\x00b",
    "\x1f",
    "\x7f",
    "\x85",
    "\u2028",
    "\ufeff",
    "\ufffd",
    "\ufffe",
    "\U0001fffe",
    "\ufdd0",
    "김민준",
    "😀",
    "😀" * 64,
    "가" * 64,
    "가" * 65,
    "x" * 129,
    "e\u0301",
    "\u202eevil",
    "\uff2d\uff45\uff4e",  # fullwidth "Men"
    "Men ",
    "Men\n",
    "men",
    "Seoul",
    "Top",
    "Blouse",
    "Skinny",
    "a@naver.com",
    "@naver.com",
    "a@b@naver.com",
    "a@naver.com\n",
    "a@NAVER.COM",
    "\\",
    '"',
    "}",
    "{",
    "null",
    "1",
]
EDGE_TIMES = [
    "0000-01-01T00:00:00.000000+00:00",
    "0001-01-01T00:00:00.000000+00:00",
    "1969-12-31T23:59:59.999999+00:00",
    "1999-12-31T23:59:59.999999+00:00",
    _ts(EARLIEST),
    "2024-02-29T12:00:00.000000+00:00",
    "2023-02-29T12:00:00.000000+00:00",
    "2100-02-29T12:00:00.000000+00:00",
    "2000-02-29T12:00:00.000000+00:00",
    "2026-02-30T12:00:00.000000+00:00",
    "2026-04-31T12:00:00.000000+00:00",
    "2026-13-01T12:00:00.000000+00:00",
    "2026-00-10T12:00:00.000000+00:00",
    "2026-11-24T24:00:00.000000+00:00",
    "2026-11-24T23:60:00.000000+00:00",
    "2026-06-30T23:59:60.000000+00:00",
    "2026-11-24T10:00:00.000000+24:00",
    "2026-11-24T10:00:00.000000-00:00",
    "2026-11-24T10:00:00.000000Z",
    "2026-11-24T10:00:00+00:00",
    "2026-11-24T10:00:00.000000+00:00\n",
    "2026-11-24T10:00:00.000000+00:00 ",
    " 2026-11-24T10:00:00.000000+00:00",
    "\uff12\uff10\uff12\uff16-11-24T10:00:00.000000+00:00",  # fullwidth digits (Python \\d)
    "2026-11-24t10:00:00.000000+00:00",
    "9999-12-31T23:59:59.999999+00:00",
    _ts(ARRIVAL + SKEW),
    _ts(ARRIVAL + SKEW + timedelta(microseconds=1)),
    _ts(ARRIVAL),
]
EDGE_NUMBERS: list[Any] = [
    0,
    -0,
    1,
    -1,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    10**30,
    1.0,
    1.5,
    1e2,
    -0.0,
    True,
    False,
    None,
    [1],
    {"a": 1},
    "1",
    5000,
    5500,
    5250,
    200000,
    200500,
    1000,
    1001,
]
RAW_TOKENS = ["NaN", "Infinity", "-Infinity", "1e400", "01", "1.", ".5", "+1", "0x10", "1_000", "tru", "nul"]


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
    return st.recursive(
        scalars,
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
        max_leaves=12,
    )


@st.composite
def arbitrary_bytes(draw: st.DrawFn) -> Record:
    entity = draw(st.sampled_from(ENTITIES))
    value = draw(st.none() | st.binary(max_size=400))
    key = draw(st.none() | st.binary(max_size=6) | st.just(b"1"))
    return Record(entity, value, key)


@st.composite
def arbitrary_json(draw: st.DrawFn) -> Record:
    """Any JSON value; objects often use the contract's field names with arbitrary values."""
    entity = draw(st.sampled_from(ENTITIES))
    names = CONTRACT.entity(entity).field_names
    obj = draw(
        _json_values()
        | st.dictionaries(st.sampled_from([*names, "extra", ""]), _json_values(), max_size=len(names) + 1)
    )
    ascii_only = draw(st.booleans())
    value = json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", errors="surrogatepass")
    key = draw(st.none() | st.binary(max_size=4) | st.sampled_from([b"1", b"42"]))
    return Record(entity, value, key)


def _mutate_text(draw: st.DrawFn, text: str, name: str) -> str:
    """Edits on the encoded text that a dict cannot express."""
    kind = draw(
        st.sampled_from(
            [
                "dup",
                "escape_key",
                "bom",
                "trailing",
                "lead_ws",
                "pretty",
                "raw_token",
                "unicode_escape",
                "none",
            ]
        )
    )
    if kind == "dup":
        return text[:-1] + f', "{name}": {json.dumps(draw(st.sampled_from(EDGE_STRINGS)))}}}'
    if kind == "escape_key":
        return text.replace(f'"{name}"', '"' + "".join(f"\\u{ord(c):04x}" for c in name) + '"', 1)
    if kind == "bom":
        return "\ufeff" + text
    if kind == "trailing":
        return text + draw(st.sampled_from([" ", "\n", "\r\n", " x", "}", "{}", ",", "\x00", "\x0b", "]"]))
    if kind == "lead_ws":
        return draw(st.sampled_from([" ", "\n\t", "\x0c", "\u00a0"])) + text
    if kind == "pretty":
        return json.dumps(json.loads(text), indent=draw(st.sampled_from([1, "\t"])), ensure_ascii=False)
    if kind == "raw_token":
        return text.replace(f'"{name}": ', f'"{name}": {draw(st.sampled_from(RAW_TOKENS))}, "x{name}": ', 1)
    if kind == "unicode_escape":
        return json.dumps(json.loads(text), ensure_ascii=True)
    return text


@st.composite
def mutated_events(draw: st.DrawFn) -> Record:
    entity, key, base = draw(st.sampled_from(VALID))
    event = dict(base)
    ent = CONTRACT.entity(entity)
    names = ent.field_names
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(names))
        op = draw(st.sampled_from(["string", "time", "number", "delete", "unknown", "text"]))
        if op == "string":
            event[name] = draw(st.sampled_from(EDGE_STRINGS) | st.text(max_size=70))
        elif op == "time":
            event[name] = draw(st.sampled_from(EDGE_TIMES))
        elif op == "number":
            event[name] = draw(st.sampled_from(EDGE_NUMBERS) | st.integers())
        elif op == "delete":
            event.pop(name, None)
        elif op == "unknown":
            event[
                draw(st.sampled_from(["extra", "", " ", name.upper(), "@timestamp", "tags", "message"]))
            ] = 1
        else:  # a valid value with an edge suffix/prefix
            if isinstance(event.get(name), str):
                event[name] = (
                    draw(st.sampled_from(["", " ", "\n"]))
                    + event[name]
                    + draw(st.sampled_from(["", " ", "\n", "\t", "\u3000"]))
                )
    text = json.dumps(event, ensure_ascii=False, separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))
    if draw(st.integers(0, 3)) == 0:
        text = _mutate_text(draw, text, draw(st.sampled_from(names)))
    value = text.encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        value = draw(st.sampled_from([value + b"\xff", value.replace(b"a", b"\xc0\xaf", 1), value[:-1]]))
    kv = event.get(ent.key)
    key_choice = draw(st.sampled_from(["right", "right", "right", "none", "other", "padded"]))
    rkey: bytes | None = {
        "right": str(kv).encode() if kv is not None else key.encode(),
        "none": None,
        "other": b"999999",
        "padded": b"0" + key.encode(),
    }[key_choice]
    ts_ms = int((ARRIVAL - timedelta(seconds=draw(st.integers(0, 3)))).timestamp() * 1000)
    return Record(entity, value, rkey, ts_ms)


def _collect(strategy: st.SearchStrategy[Record], n: int) -> list[Record]:
    """Draw ``n`` examples; the Python validator judges each as it is drawn and must not raise."""
    out: list[Record] = []

    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(rec: Record) -> None:
        CONTRACT.validate_record(rec.entity, rec.value, key=rec.key, timestamp=rec.timestamp)
        out.append(rec)

    draw()
    return out


def hostile_corpus() -> list[Record]:
    """Held-out-style classes written by hand (each line names the attack)."""
    recs: list[Record] = []
    for entity, key, ev in VALID[:2]:
        good = json.dumps(ev, ensure_ascii=False)

        def add(value: bytes | None, k: bytes | None = key.encode(), entity: str = entity) -> None:
            recs.append(Record(entity, value, k))

        add(good.encode())  # the valid event itself
        for t in EDGE_TIMES:
            add(json.dumps({**ev, "created_at": t}).encode())
        for s in EDGE_STRINGS:
            for name in (
                "event_id",
                ev and next(n for n in ev if n not in ("event_id",) and isinstance(ev[n], str)),
            ):
                add(json.dumps({**ev, name: s}, ensure_ascii=False).encode("utf-8", errors="surrogatepass"))
        for v in EDGE_NUMBERS:
            add(json.dumps({**ev, "schema_version": v}).encode())
        add(good.encode() + b"\n" + good.encode())  # two objects
        add(b"[" + good.encode() + b"]")  # wrapped in an array
        add(good.encode().replace(b"{", b"{/* c */", 1))  # a comment
        add(good.encode().replace(b"{", b'{"a":1,"a":2,', 1))  # duplicate unknown keys
        add(b'{"x":"' + b"\\" * 5000 + b'"}')  # a long backslash run (regex stack depth)
        add(b"[" * 4000 + b"]" * 4000)  # deep nesting
        add(b"{" + b'"a":' * 2000 + b"1}")  # malformed
        add(b'{"a":' + b"9" * 5000 + b"}")  # a number longer than parsers allow
        add(good.encode().replace(b'"', b"'"))  # single quotes
        add(good.encode(), None)  # no Kafka key
        add(good.encode(), b" " + key.encode())
        add(json.dumps({**ev, "name": "\ud800"}).encode())  # a lone surrogate escape
        add(json.dumps({**ev, "name": "\U0001f600"}).encode())  # a pair as escapes (policy: UTF-8)
        add(good.encode() + b"\x00")
        add(good.encode()[: CONTRACT.max_event_bytes] + b" " * (CONTRACT.max_event_bytes + 1 - len(good)))
    return recs


def producer_form(records: list[Record]) -> list[Record]:
    """Each record whose value is a JSON object, re-sent the way the producer writes: compact, the
    contract's fields first in contract order, raw UTF-8. The stream proves such records valid
    with a cheap rule set (``shopstream.ingest.proof.proven_valid``); these are the records that could fool it."""
    out = []
    for r in records:
        try:
            obj = json.loads(r.value or b"")
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python reads
            continue
        if not isinstance(obj, dict):
            continue
        order = CONTRACT.entity(r.entity).field_names
        ordered = {k: obj[k] for k in order if k in obj} | {k: v for k, v in obj.items() if k not in order}
        text = json.dumps(ordered, ensure_ascii=False, separators=(",", ":"))
        value = text.encode("utf-8", errors="surrogatepass")
        if value != r.value:
            out.append(Record(r.entity, value, r.key, r.timestamp_ms))
    return out


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[Record]]:
    random.seed(12)
    mutated = _collect(mutated_events(), EXAMPLES * 2)
    hostile = hostile_corpus()
    return {
        "arbitrary bytes": _collect(arbitrary_bytes(), EXAMPLES),
        "arbitrary JSON": _collect(arbitrary_json(), EXAMPLES),
        "mutated events": mutated,
        "hostile corpus": hostile,
        "mutations in the producer's form": producer_form(mutated + hostile),
    }


def _report(name: str, records: list[Record], verdicts: list[list[str]]) -> str:
    accepted = sum(1 for v in verdicts if not v)
    return f"{name}: {len(records)} examples, {accepted} accepted, {len(records) - accepted} rejected"


@pytest.mark.slow
def test_python_spark_and_ruby_give_the_same_verdict(spark, settings, corpus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jar = jruby_jar(settings.jars_dir)
    assert jar is not None, "JRuby missing: run `shopstream jars` (module ruby)"
    records = [r for recs in corpus.values() for r in recs]
    py = python_verdicts(CONTRACT, records)
    sp = spark_verdicts(spark, CONTRACT, records)
    rb = RubyValidator.for_contract(jar, CONTRACT, tmp_path).verdicts(records)
    differ = [
        (r, p, s, b)
        for r, p, s, b in zip(records, py, sp, rb, strict=True)
        if not (bool(p) == bool(s) == bool(b))
    ]
    lines = []
    start = 0
    for name, recs in corpus.items():
        lines.append(_report(name, recs, py[start : start + len(recs)]))
        start += len(recs)
    print("\n".join(["", *lines, f"validators: python, spark, ruby; each judged {len(records)} records"]))
    assert not differ, "\n".join(
        f"{r!r}\n  python={p}\n  spark={s}\n  ruby={b}" for r, p, s, b in differ[:10]
    )
    # every class is exercised: the corpus holds both verdicts, and no reason is a crash
    assert 0 < sum(1 for v in py if not v) < len(py)
    accepted_mutations = sum(1 for v in python_verdicts(CONTRACT, corpus["mutated events"]) if not v)
    assert accepted_mutations >= EXAMPLES // 10


@pytest.mark.slow
def test_every_accepted_record_loads_into_delta_postgres_and_opensearch(  # type: ignore[no-untyped-def]
    spark, stack, corpus, tmp_path: Path
) -> None:
    from deltalake import DeltaTable
    from validity_helpers import TOPICS

    from shopstream.hourly.export import transform_export
    from shopstream.ingest.bronze import transform_bronze, transform_classify
    from shopstream.realtime import spec
    from shopstream.realtime.bulk import send_bulk
    from shopstream.realtime.opensearch import client, install_templates
    from shopstream.realtime.transforms import to_action
    from shopstream.realtime.worker import prefixed
    from shopstream.warehouse import PostgresWarehouse
    from shopstream.warehouse_schema import postgres_ddl

    records = [r for recs in corpus.values() for r in recs]
    accepted, seen = [], set()
    for r, v in zip(records, python_verdicts(CONTRACT, records), strict=True):
        event_id = None if v else json.loads(r.value or b"")["event_id"]
        if event_id is not None and event_id not in seen:  # bronze keeps one row per event_id
            seen.add(event_id)
            accepted.append(r)
    assert len(accepted) >= 5
    now = datetime.now(UTC)
    classified = transform_classify(spark_frame(spark, accepted), CONTRACT, TOPICS).cache()
    ns = f"fz{random.randrange(16**6):06x}-"
    install_templates(stack, index_prefix=ns)
    idxs = {e: prefixed(i, ns) for e, i in spec.entity_indexes(CONTRACT).items()}
    wh = PostgresWarehouse(stack)
    try:
        for entity in ENTITIES:
            mine = [r for r in accepted if r.entity == entity]
            if not mine:
                continue
            expected = {}
            for r in mine:
                ev = json.loads(r.value or b"")
                expected[ev["event_id"]] = ev
            # Delta, read back by delta-rs (no JVM)
            path = str(tmp_path / entity)
            transform_bronze(classified, CONTRACT, entity, now).write.format("delta").save(path)
            table = DeltaTable(path).to_pyarrow_table().to_pylist()
            assert {row["event_id"] for row in table} == set(expected)
            for row in table:
                ev = expected[row["event_id"]]
                for f in CONTRACT.entity(entity).fields:
                    want = ev[f.name]
                    got = row[f.name]
                    if f.type == "timestamp":
                        got = _ts(got.replace(tzinfo=UTC) if got.tzinfo is None else got)
                    assert got == want, (entity, f.name, got, want)
            # PostgreSQL COPY, the warehouse load's own path (parquet -> CSV -> COPY)
            export = str(tmp_path / f"export-{entity}")
            transform_export(spark.read.format("delta").load(path), entity, None).coalesce(1).write.parquet(
                export
            )
            with wh.connect() as conn, conn.cursor() as cur:
                cur.execute(postgres_ddl(entity, table=f"fuzz_{entity}", temporary=True))
                n = 0
                for part in sorted(Path(export).glob("*.parquet")):
                    n += wh._copy_file(cur, f"fuzz_{entity}", entity, part.read_bytes())
                cur.execute(f"select event_id::text, created_at from fuzz_{entity}")
                loaded = dict(cur.fetchall())
                conn.rollback()
            assert n == len(expected) and set(loaded) == set(expected)
            for eid, t in loaded.items():
                assert _ts(t) == expected[eid]["created_at"]
            # OpenSearch: one bulk through the real templates, no document refused
            actions = [
                to_action(
                    CONTRACT,
                    idxs[entity],
                    topic="t",
                    partition=0,
                    offset=i,
                    kafka_timestamp_ms=r.timestamp_ms,
                    raw=r.value,
                    key=r.key,
                )
                for i, r in enumerate(mine)
            ]
            assert not any(a.dead_letter for a in actions)
            docs, dead = send_bulk(client(stack), actions, idxs, retries=2)
            assert (docs, dead) == (len(mine), 0)
    finally:
        classified.unpersist()
        c = client(stack)
        c.indices.delete(index=f"{ns}*", ignore_unavailable=True, allow_no_indices=True)
        for t in c.indices.get_index_template(name=f"{ns}*").get("index_templates", []):
            c.indices.delete_index_template(name=t["name"])


@pytest.mark.slow
def test_the_cheap_proof_accepts_only_valid_records_and_every_producer_record(spark, corpus) -> None:  # type: ignore[no-untyped-def]
    """The stream skips the full rules for a record ``proven_valid`` accepts: it must never accept
    one the contract refuses (soundness), and it must accept what the producer sends (else the
    stream pays for the full rules on every record)."""
    from validity_helpers import TOPICS

    from producer.generators import EventFactory
    from shopstream.ingest.bronze import PROVEN, transform_classify

    f = EventFactory(11, pool_size=64)
    produced = []
    for i in range(200):
        t = _ts(ARRIVAL - timedelta(minutes=i))
        for entity, (k, v) in (("users", f.user(t)), ("orders", f.order(t))):
            produced.append(Record(entity, v.encode(), k.encode()))
    records = [r for recs in corpus.values() for r in recs] + produced
    out = transform_classify(spark_frame(spark, records), CONTRACT, TOPICS)
    proven = {r.kafka_offset for r in out.where(PROVEN).select("kafka_offset").collect()}
    verdicts = python_verdicts(CONTRACT, records)
    fooled = [(records[i], verdicts[i]) for i in sorted(proven) if verdicts[i]]
    assert not fooled, "\n".join(f"{r!r}\n  python={v}" for r, v in fooled[:10])
    missed = [produced[i] for i in range(len(produced)) if len(records) - len(produced) + i not in proven]
    assert not missed, f"{len(missed)} of {len(produced)} producer records not proven, e.g. {missed[0]!r}"
    # the corpus reaches the proof with records it must refuse (a mutated value in canonical form)
    canonical = corpus["mutations in the producer's form"]
    start = sum(len(recs) for recs in corpus.values()) - len(canonical)
    assert sum(1 for v in verdicts[start : start + len(canonical)] if v) >= 50
