"""Validity: the contract's one definition of a valid record, as the Python validator runs it.

The contract (``conf/contract.yaml``, :mod:`shopstream.contract`) declares the rules; this module
holds the rules on raw bytes that every validator shares (the patterns below are exported to the
Spark expressions of :mod:`shopstream.ingest.bronze`, the Logstash Ruby rules of
:mod:`shopstream.realtime.spec` and the archive plugin) and the record check itself::

    contract = load_contract()
    event, errors = check_record(contract, "users", value, key=key, timestamp=kafka_time)

``Contract.check_record`` / ``validate_*`` call these functions. Nothing heavy is imported here.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from shopstream.contract import Contract, EntitySpec, FieldSpec, LogicalTypeSpec

INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
NO_KEY: Any = object()  # "do not check the Kafka key" (validate_value: the value alone)
BOM = b"\xef\xbb\xbf"
# A \uD800-\uDFFF escape: a backslash run of odd length (the (?<!\\) anchors at its start; an
# even run is escaped backslashes) followed by u and a surrogate's hex digits. No group holds a
# variable-length alternation, so Java's regex never recurses per character.
SURROGATE_ESCAPE = r"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
# A key holding a backslash: inside a string every quote is escaped, so `{"` / `,"` (with JSON
# whitespace between) only ever starts a key.
KEY_ESCAPE = r'[{,][ \t\n\r]*"[^"\\]*\\'
REDSHIFT_VARCHAR_MAX_BYTES = 65535


def raw_errors(contract: Contract, value: bytes | None) -> list[str]:
    """The rules on the raw bytes/text, before any JSON parse (size, UTF-8, BOM, escapes)."""
    if value is None:
        return ["record has no value (tombstone)"]
    if len(value) > contract.max_event_bytes:
        return [f"record is {len(value)} bytes; max_event_bytes is {contract.max_event_bytes}"]
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"not valid UTF-8 at byte {exc.start}"]
    if value.startswith(BOM):
        return ["record starts with a byte order mark"]
    if compiled_pattern(SURROGATE_ESCAPE).search(text):
        return ["record holds a \\uD800-\\uDFFF escape (send UTF-8, never surrogate escapes)"]
    if compiled_pattern(KEY_ESCAPE).search(text):
        return ["record spells a key with an escape (keys must be literal)"]
    return []


class _DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def forbidden_text_class(ranges: list[tuple[int, int]], dialect: Literal["python", "java", "ruby"]) -> str:
    """A regex character class matching any forbidden code point, in one engine's syntax."""

    def cp(c: int) -> str:
        if dialect == "python":
            return f"\\U{c:08x}"
        if dialect == "java":
            return f"\\x{{{c:X}}}"
        return f"\\u{{{c:X}}}"

    if dialect == "ruby":  # a Ruby (UTF-8) string cannot hold a surrogate: cut them out of the ranges
        cut: list[tuple[int, int]] = []
        for lo, hi in ranges:
            if lo < 0xD800:
                cut.append((lo, min(hi, 0xD7FF)))
            if hi > 0xDFFF:
                cut.append((max(lo, 0xE000), hi))
        ranges = cut
    if not ranges:
        return "(?!)"
    return "[" + "".join(cp(lo) if lo == hi else f"{cp(lo)}-{cp(hi)}" for lo, hi in ranges) + "]"


_NON_PORTABLE = re.compile(r"\\[dDwWsSbB]")


def pattern_problem(pattern: str) -> str | None:
    """Why a contract pattern would not mean the same in Python, Java and Ruby (None if it does)."""
    if pattern.startswith("^") or pattern.endswith("$"):
        return "write it without ^/$ (every validator anchors patterns to the whole string)"
    if _NON_PORTABLE.search(pattern.replace("\\\\", "")):
        return "use explicit classes such as [0-9], not \\d \\w \\s \\b (their meaning differs per engine)"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a regular expression ({exc})"
    return None


@functools.cache
def compiled_pattern(expr: str) -> re.Pattern[str]:
    return re.compile(expr, re.ASCII)


# --- the record check ----------------------------------------------------------------------------
def validate_event(
    contract: Contract, entity: str, event: Any, ingest_time: datetime | None = None, *, key: Any = NO_KEY
) -> list[str]:
    """Check one decoded event against the contract. Returns errors (empty = valid).

    ``ingest_time`` bounds ``created_at`` from above (plus the allowed skew; default: now).
    ``key`` is the Kafka record key (bytes or None) when the key policy should be checked.
    The raw-text rules (size, UTF-8, escapes, duplicate keys) need :func:`check_record`.
    """
    ent = contract.entity(entity)
    if not isinstance(event, dict):
        return [f"{entity}: event must be a JSON object, got {type(event).__name__}"]
    ingest = ingest_time or datetime.now(UTC)
    errors: list[str] = []
    known = set(ent.field_names)
    for extra in sorted(set(event) - known):
        errors.append(f"{extra[:80]}: unknown field")
    for f in ent.fields:
        if f.name not in event:
            if f.required:
                errors.append(f"{f.name}: required field is missing")
            continue
        value = event[f.name]
        if value is None:
            if not f.nullable:
                errors.append(f"{f.name}: must not be null")
            continue
        errors.extend(_check_value(contract, ent, f, value, event, ingest))
    if key is not NO_KEY:
        errors.extend(_check_key(ent, event, key))
    return errors


def check_record(
    contract: Contract,
    entity: str,
    value: bytes | None,
    *,
    key: Any = NO_KEY,
    timestamp: datetime | None = None,
    now: datetime | None = None,
) -> tuple[dict[str, Any] | None, list[str]]:
    """Decode and validate one Kafka record: (event or None, errors; empty = valid).

    ``key``: the record key (bytes or None), checked against the entity's key field unless
    omitted. ``timestamp``: the record's Kafka timestamp; the ingest time is that, capped at
    ``now`` (default: the clock), so a record is judged the same whenever it is read.
    """
    now = now or datetime.now(UTC)
    ingest = now if timestamp is None or timestamp > now else timestamp
    errors = raw_errors(contract, value)
    if errors:
        return None, errors
    assert value is not None
    text = value.decode("utf-8")
    try:
        event = json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_no_constant)
    except _DuplicateKey as exc:
        return None, [f"{exc.args[0]!r}: duplicate key"]
    except json.JSONDecodeError as exc:
        return None, [f"not valid JSON: {exc.msg} at char {exc.pos}"]
    except (ValueError, RecursionError) as exc:  # NaN/Infinity, >4300 digits, deep nesting
        return None, [f"not valid JSON: {str(exc)[:80] or type(exc).__name__}"]
    errors = validate_event(contract, entity, event, ingest, key=key)
    return (event if isinstance(event, dict) else None), errors


def _check_key(ent: EntitySpec, event: dict[str, Any], key: Any) -> list[str]:
    v = event.get(ent.key)
    if not isinstance(v, int) or isinstance(v, bool):
        return []  # the key field itself is wrong; that error is reported already
    if key is None:
        return [f"kafka key: missing; must be {ent.key} {v} as a decimal string"]
    if key != str(v).encode():
        shown = bytes(key)[:40]
        return [f"kafka key: {shown!r} is not {ent.key} {v} as a decimal string"]
    return []


def _check_value(
    contract: Contract, ent: EntitySpec, f: FieldSpec, value: Any, event: dict[str, Any], ingest: datetime
) -> list[str]:
    name = f.name
    if f.type in INT_BOUNDS:
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{name}: expected {f.type}, got {type(value).__name__}"]
        lo, hi = INT_BOUNDS[f.type]
        if not lo <= value <= hi:
            return [f"{name}: {value} outside {f.type}"]
    elif not isinstance(value, str):
        return [f"{name}: expected {f.type} (a JSON string), got {type(value).__name__}"]
    elif contract.forbidden_text.search(value):
        bad = contract.forbidden_text.search(value).group()  # type: ignore[union-attr]
        return [f"{name}: forbidden character U+{ord(bad):04X}"]
    errors: list[str] = []
    spec = contract.logical_types[f.type]
    if spec.pattern is not None and not compiled_pattern(spec.pattern).fullmatch(value):
        errors.append(f"{name}: {value[:80]!r} is not a valid {f.type}")
    elif f.type == "timestamp":
        errors.extend(_check_time(name, value, spec, ingest))
    if f.const is not None and value != f.const:
        errors.append(f"{name}: must be {f.const!r}, got {str(value)[:80]!r}")
    if f.min is not None and isinstance(value, int) and value < f.min:
        errors.append(f"{name}: {value} < min {f.min}")
    if f.max is not None and isinstance(value, int) and value > f.max:
        errors.append(f"{name}: {value} > max {f.max}")
    if f.step is not None and isinstance(value, int) and (value - (f.min or 0)) % f.step:
        errors.append(f"{name}: {value} is not min + k*{f.step}")
    if f.max_length is not None and isinstance(value, str) and len(value) > f.max_length:
        errors.append(f"{name}: length {len(value)} > max_length {f.max_length}")
    if f.weights is not None and value not in f.weights:
        errors.append(f"{name}: {value[:80]!r} not in allowed values")
    if f.weights_given is not None and f.weights_by is not None:
        given = event.get(f.weights_by)
        table = f.weights_given.get(given) if isinstance(given, str) else None
        if table is None:
            if value not in (f.allowed_values or ()):
                errors.append(f"{name}: {value[:80]!r} not in allowed values")
        elif value not in table:
            errors.append(f"{name}: {value[:80]!r} not allowed when {f.weights_by} is {given!r}")
    if f.email_domain_weights is not None and isinstance(value, str):
        local, at, domain = value.rpartition("@")
        if not at or not local:
            errors.append(f"{name}: {value[:80]!r} is not an email address")
        elif domain not in f.email_domain_weights:
            errors.append(f"{name}: domain {domain[:80]!r} not in allowed domains")
    return errors


def _check_time(name: str, value: str, spec: LogicalTypeSpec, ingest: datetime) -> list[str]:
    try:
        t = datetime.fromisoformat(value)  # refuses Feb 30, hour 24, second 60, year 0
    except ValueError:
        return [f"{name}: {value!r} is not a calendar date and time"]
    earliest, skew = spec.earliest_time, spec.max_future_skew
    if earliest is not None and t < earliest:
        return [f"{name}: {value!r} is before the earliest event time {spec.earliest}"]
    if skew is not None and t > ingest + skew:
        return [
            f"{name}: {value!r} is later than the ingest time "
            f"{ingest.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z + {int(skew.total_seconds())}s"
        ]
    return []
