"""The consumer's fast yes: one ``orjson`` parse and a compiled check of the common, valid record.

:meth:`Contract.validate_event` (with the raw-record checks around it in ``transforms.decode``)
is the one definition of a valid event and the source of every dead letter's reason. Running it
on every record costs ~100 µs in Python (a generic interpreter over the field specs), which alone
held the consumer at a third of what OpenSearch absorbs. This module compiles the same field
specs once per entity into a few closures and answers only "certainly valid" (the parsed event)
or "ask the definition" (``None``):

* it is *sound*, never complete: anything unusual (a backslash anywhere in the record, so no
  escape of any kind; a duplicate key; a float; a non-canonical timestamp; an oversize record;
  invalid UTF-8 or JSON) is handed to the definition, which then decides and words the reason;
* an accepted record's event is exactly what the definition's ``json.loads`` returns (no escapes,
  every number an int within int64, so both parsers build the same dict).

``tests/test_realtime_transforms.py`` holds the two to agreement on the producer's events, every
chaos kind and a mutation of every field: a rule added to the contract that this module does not
know makes that test fail instead of letting the consumer accept what the definition refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson

from shopstream.contract import Contract, EntitySpec, FieldSpec
from shopstream.validity import BOM, INT_BOUNDS, NO_KEY, compiled_pattern

Check = Callable[[Any, dict[str, Any], datetime], bool]
# accept(raw, key, ingest): key = the Kafka key (NO_KEY: not checked), ingest = the ingest time
Acceptor = Callable[[bytes | None, Any, datetime], dict[str, Any] | None]


def _time_in_range(value: str, earliest: datetime | None, latest: datetime) -> bool:
    """A calendar time inside [earliest, latest] (the contract's event-time range)."""
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return False
    return (earliest is None or t >= earliest) and t <= latest


def _field_check(contract: Contract, f: FieldSpec) -> Check:
    """A predicate equal to (or stricter than) ``_check_value(...) == []`` for one field.

    One closure per field with every rule folded in (rules a field does not have are constants
    that short-circuit), so a valid value costs one call.
    """
    const = f.const
    no_const = const is None
    allowed = frozenset(f.weights) if f.weights is not None else None
    if f.type in INT_BOUNDS:
        lo, hi = INT_BOUNDS[f.type]
        lo = max(lo, f.min) if f.min is not None else lo
        hi = min(hi, f.max) if f.max is not None else hi
        base, step = f.min or 0, f.step or 1

        def check_int(v: Any, _e: dict[str, Any], _latest: datetime) -> bool:
            return (
                type(v) is int
                and lo <= v <= hi
                and (v - base) % step == 0
                and (no_const or v == const)
                and (allowed is None or v in allowed)
            )

        return check_int
    spec = contract.logical_types[f.type]
    full = compiled_pattern(spec.pattern).fullmatch if spec.pattern is not None else None  # never looser
    is_time = f.type == "timestamp"
    earliest = spec.earliest_time
    forbidden = contract.forbidden_text.search
    max_len = f.max_length if f.max_length is not None else -1
    domains = frozenset(f.email_domain_weights) if f.email_domain_weights is not None else None
    by = f.weights_by
    tables = {k: frozenset(t) for k, t in f.weights_given.items()} if f.weights_given is not None else None

    def check_str(v: Any, e: dict[str, Any], latest: datetime) -> bool:
        if type(v) is not str or (max_len >= 0 and len(v) > max_len) or forbidden(v) is not None:
            return False
        if full is not None and full(v) is None:
            return False
        if is_time and not _time_in_range(v, earliest, latest):
            return False
        if not (no_const or v == const) or (allowed is not None and v not in allowed):
            return False
        if domains is not None:
            local, at, domain = v.rpartition("@")
            if not (at and local and domain in domains):
                return False
        if tables is not None and by is not None:
            given = e.get(by)
            table = tables.get(given) if type(given) is str else None
            if table is None or v not in table:
                return False
        return True

    return check_str


def compile_acceptor(contract: Contract, ent: EntitySpec) -> Acceptor:
    """``accept(raw) -> event | None`` for one entity (see the module docstring)."""
    names = frozenset(ent.field_names)
    required = frozenset(ent.required_fields)
    checks = tuple((f.name, f.nullable, _field_check(contract, f)) for f in ent.fields)
    max_bytes = contract.max_event_bytes
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    missing = object()
    key_field = ent.key
    skew = contract.logical_types["timestamp"].max_future_skew or timedelta(0)

    def accept(raw: bytes | None, key: Any, ingest: datetime) -> dict[str, Any] | None:
        if raw is None or len(raw) > max_bytes or b"\\" in raw or raw.startswith(BOM):
            return None
        latest = ingest + skew
        try:
            event = loads(raw)
        except decode_error:
            return None
        if type(event) is not dict:
            return None
        keys = event.keys()
        if not (keys <= names and required <= keys):
            return None
        strings = 0
        for name, nullable, check in checks:
            v = event.get(name, missing)
            if v is missing:
                continue
            if v is None:
                if nullable:
                    continue
                return None
            if not check(v, event, latest):
                return None
            if type(v) is str:
                strings += 1
        # no backslash, so every '"' delimits a key or a string value: more quotes than those
        # means a key was given twice (the parsers keep the last; the definition decides)
        if raw.count(b'"') != 2 * (len(event) + strings):
            return None
        if key is not NO_KEY and key != str(event.get(key_field)).encode():
            return None
        return event

    return accept
