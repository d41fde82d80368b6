"""The contract's validity rules as native Spark expressions (no Python UDF, so the stream keeps
up with the Kafka source).

It follows ``Contract.validate_value`` rule for rule, in the same order: record size, UTF-8,
JSON object, then every field (missing, null, JSON type, pattern, timestamp, const,
min/max/step, max_length, allowed values, conditional values, e-mail domain) and unknown fields.
``tests/test_bronze.py`` and the validity tests check that the validators agree record by record
on every kind of malformed record the producer can inject. :mod:`shopstream.ingest.bronze`
applies these expressions to a batch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from shopstream.contract import Contract, EntitySpec, FieldSpec
from shopstream.ingest.schemas import CORRUPT, wire_schema
from shopstream.validity import KEY_ESCAPE, SURROGATE_ESCAPE, forbidden_text_class

if TYPE_CHECKING:
    from pyspark.sql import Column

# created_at is validated against the contract's timestamp pattern before it is parsed, so the
# parts are at fixed positions: yyyy-MM-ddTHH:mm:ss.ffffff+00:00
_TS_PARTS = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00\z"


def _token(name: str, what: str) -> str:
    """A regex over the raw JSON text: key ``name`` at object level followed by ``what``.

    Inside a JSON string every ``"`` is escaped, so ``[{,]\\s*"name"`` only matches a real key
    (keys are spelled literally: the contract refuses escaped keys before this runs).
    """
    return r'[{,]\s*"' + re.escape(name) + r'"\s*:\s*' + what


_NULL = r"null\s*[,}]"
_NOT_A_STRING = r'(?!null\s*[,}])[^"\s]'
# One object of scalars, strictly JSON, and nothing after it (Spark's JSON readers stop after the
# first object and take single quotes). Fast path: the only `}` of the text is its last character
# (then the object Jackson read ends the text), no `'` anywhere and a `"` after every `{`/`,`
# (keys are quoted). Otherwise escapes, then strings are cut out (strings become \x01, which no
# valid text holds raw) and the rest must be one flat object with quoted keys and no quote left.
# Only single-character repetitions: Java's regex never recurses on them, whatever is sent.
_FAST_SHAPE = r"\A(?![\s\S]*[{,][ \t\n\r]*[^\" \t\n\r}])[^}']*\}[ \t\n\r]*\z"
_ESCAPE_PAIR = r"(?s)\\."
_STRING_TOKEN = r'"[^"\x00-\x1f]*"'
_FLAT_OBJECT = r"\A[ \t\n\r]*\{[^{}\[\]'\"]*\}[ \t\n\r]*\z"
_UNQUOTED_KEY = r"[{,][ \t\n\r]*[^\x01 \t\n\r}]"


def _anchored(pattern: str) -> str:
    """A contract pattern as a Java regex that must match the whole string (``\\z``, not ``$``)."""
    return f"^(?:{pattern})\\z"


def _any_key(names: list[str], what: str) -> str:
    """One regex for "any of ``names`` followed by ``what``" (one scan per record, not one per field)."""
    if not names:
        return r"(?!)"
    return r'[{,]\s*"(?:' + "|".join(re.escape(n) for n in names) + r')"\s*:\s*' + what


def null_regex(entity: EntitySpec) -> str:
    return _any_key(entity.field_names, _NULL)


def not_a_string_regex(contract: Contract, entity: EntitySpec) -> str:
    return _any_key(string_fields(contract, entity), _NOT_A_STRING)


def string_fields(contract: Contract, entity: EntitySpec) -> list[str]:
    return [f.name for f in entity.fields if contract.logical_types[f.type].wire == "string"]


def forbidden_regex(contract: Contract) -> str:
    return forbidden_text_class(contract.validity.forbidden_text, "java")


def raw_error(contract: Contract, value: Column, text: Column, keys: Column) -> Column:
    """The first record-level error (or null), in :func:`shopstream.validity.raw_errors`' order,
    then JSON: one object (``keys`` is ``json_object_keys``: null if the text does not start with
    a valid object), nothing after it, no key twice."""
    from pyspark.sql import functions as F

    size = F.length(value)
    # both escape rules need a backslash: one substring search spares valid records two regexes
    escaped = F.instr(text, "\\") > 0
    rest = F.regexp_replace(F.regexp_replace(text, _ESCAPE_PAIR, ""), _STRING_TOKEN, "\x01")
    shape_ok = text.rlike(_FAST_SHAPE) | (rest.rlike(_FLAT_OBJECT) & ~rest.rlike(_UNQUOTED_KEY))
    return (
        F.when(value.isNull(), F.lit("record has no value (tombstone)"))
        .when(
            size > contract.max_event_bytes,
            F.format_string(f"record is %d bytes; max_event_bytes is {contract.max_event_bytes}", size),
        )
        .when(F.encode(F.decode(value, "UTF-8"), "UTF-8") != value, F.lit("not valid UTF-8"))
        .when(text.startswith("\ufeff"), F.lit("record starts with a byte order mark"))
        .when(
            escaped & text.rlike(SURROGATE_ESCAPE),
            F.lit("record holds a \\uD800-\\uDFFF escape (send UTF-8, never surrogate escapes)"),
        )
        .when(
            escaped & text.rlike(KEY_ESCAPE),
            F.lit("record spells a key with an escape (keys must be literal)"),
        )
        .when(keys.isNull(), F.lit("not a valid JSON object"))
        .when(~shape_ok, F.lit("not valid JSON: not one object of scalars"))
        .when(F.size(keys) != F.size(F.array_distinct(keys)), F.lit("duplicate key"))
    )


def _field_errors(
    contract: Contract,
    entity: EntitySpec,
    f: FieldSpec,
    text: Column,
    keys: Column,
    ev: Column,
    any_null: Column,
    any_not_string: Column,
    any_forbidden: Column,
    ingest: Column,
    times: Mapping[str, Column] | None = None,
) -> list[Column]:
    """Error messages (or nulls) for one field, in the order ``Contract.validate_event`` uses.

    ``any_null`` / ``any_not_string`` / ``any_forbidden`` are record-level regex flags: the
    per-field regexes only run (short-circuit ``AND``) on the rare records where one is set.
    """
    from pyspark.sql import functions as F

    name = f.name
    present = F.array_contains(keys, name)
    is_null = any_null & text.rlike(_token(name, _NULL))
    value = ev[name]
    spec = contract.logical_types[f.type]
    wire_string = spec.wire == "string"
    forbidden = F.lit(False)
    if wire_string:
        wrong_type = any_not_string & text.rlike(_token(name, _NOT_A_STRING))
        type_msg = f"{name}: expected {f.type} (a JSON string)"
        forbidden = any_forbidden & value.rlike(forbidden_regex(contract))
    else:
        # Spark's JSON reader leaves the field null when the token is not a JSON integer that fits
        wrong_type = value.isNull()
        type_msg = f"{name}: expected {f.type}"
    usable = present & ~is_null & ~wrong_type & ~forbidden
    checks = value_checks(contract, f, value, ev, ingest, times)
    out: list[Column] = []
    if f.required:
        out.append(F.when(~present, F.lit(f"{name}: required field is missing")))
    if not f.nullable:
        out.append(F.when(present & is_null, F.lit(f"{name}: must not be null")))
    out.append(F.when(present & ~is_null & wrong_type, F.lit(type_msg)))
    if wire_string:
        out.append(
            F.when(present & ~is_null & ~wrong_type & forbidden, F.lit(f"{name}: forbidden character"))
        )
    out.extend(F.when(usable & cond, F.lit(msg)) for cond, msg in checks)
    if name == entity.key:
        out.append(_key_error(entity, value, usable))
    return out


def value_checks(
    contract: Contract,
    f: FieldSpec,
    value: Column,
    ev: Column,
    ingest: Column,
    times: Mapping[str, Column] | None = None,
) -> list[tuple[Column, str]]:
    """(condition, message) of each rule on a usable value of ``f`` (present, not null, of its
    JSON type, no forbidden character), in the order ``Contract.validate_event`` checks them:
    pattern, timestamp, const, min/max/step, max_length, allowed values, e-mail domain.

    ``times`` maps a timestamp field to its :func:`parse_event_time` computed once as a column
    (three rules use it; inline, the parse would run once per rule)."""
    from pyspark.sql import functions as F

    name = f.name
    spec = contract.logical_types[f.type]
    checks: list[tuple[Column, str]] = []
    pattern_ok = F.lit(True)
    if spec.pattern is not None:
        pattern_ok = value.rlike(_anchored(spec.pattern))
        checks.append((~pattern_ok, f"{name}: not a valid {f.type}"))
    if f.type == "timestamp":
        t = times[name] if times and name in times else parse_event_time(value)
        checks.append((pattern_ok & t.isNull(), f"{name}: not a calendar date and time"))
        if spec.earliest_time is not None:
            checks.append(
                (t < F.lit(spec.earliest_time), f"{name}: before the earliest event time {spec.earliest}")
            )
        if spec.max_future_skew_seconds is not None:
            skew = spec.max_future_skew_seconds
            checks.append(
                (
                    t > ingest + F.expr(f"INTERVAL {int(skew)} SECONDS"),
                    f"{name}: later than the ingest time + {skew}s",
                )
            )
    if f.const is not None:
        checks.append((value != F.lit(f.const), f"{name}: must be {f.const!r}"))
    if f.min is not None:
        checks.append((value < F.lit(f.min), f"{name}: < min {f.min}"))
    if f.max is not None:
        checks.append((value > F.lit(f.max), f"{name}: > max {f.max}"))
    if f.step is not None:
        # in decimal: value - min must not wrap around at the edge of the integer type
        off = value.cast("decimal(20,0)") - F.lit(f.min or 0).cast("decimal(20,0)")
        checks.append((off % F.lit(f.step) != 0, f"{name}: is not min + k*{f.step}"))
    if f.max_length is not None:
        checks.append(
            (F.char_length(value) > F.lit(f.max_length), f"{name}: length > max_length {f.max_length}")
        )
    if f.weights is not None:
        checks.append((~value.isin(sorted(f.weights)), f"{name}: not in allowed values"))
    if f.weights_given is not None and f.weights_by is not None:
        given = ev[f.weights_by]
        allowed_any = sorted(f.allowed_values or ())
        cond = F.when(~given.isin(sorted(f.weights_given)) | given.isNull(), ~value.isin(allowed_any))
        for g, table in f.weights_given.items():
            cond = cond.when(given == F.lit(g), ~value.isin(sorted(table)))
        checks.append((cond, f"{name}: not in allowed values for {f.weights_by}"))
    if f.email_domain_weights is not None:
        # like str.rpartition("@"): the domain follows the last "@", the local part must not be empty
        domain = F.substring_index(value, "@", -1)
        is_email = (F.instr(value, "@") > 0) & (F.length(value) - F.length(domain) > 1)
        checks.append((~is_email, f"{name}: not an email address"))
        checks.append(
            (
                is_email & ~domain.isin(sorted(f.email_domain_weights)),
                f"{name}: domain not in allowed domains",
            )
        )
    return checks


def _key_error(entity: EntitySpec, value: Column, usable: Column) -> Column:
    """The Kafka key must be the key field as a decimal string (contract ``validity.kafka_key``)."""
    from pyspark.sql import functions as F

    same = F.coalesce(key_matches(value), F.lit(False))
    return F.when(usable & ~same, F.lit(f"kafka key: is not {entity.key} as a decimal string"))


def key_matches(value: Column) -> Column:
    """The record's Kafka key equals ``value`` (the entity's key field) as a decimal string."""
    from pyspark.sql import functions as F

    return F.col("raw_key") == F.encode(value.cast("string"), "UTF-8")


def validation_errors(
    contract: Contract,
    entity: EntitySpec,
    text: Column,
    keys: Column,
    ev: Column,
    raw_err: Column,
    any_null: Column,
    any_not_string: Column,
    any_forbidden: Column,
    ingest: Column,
    times: Mapping[str, Column] | None = None,
) -> Column:
    """An array of error strings (empty = valid) for one record of ``entity``.

    ``text`` is the raw value cast to string, ``keys`` its top-level JSON keys
    (``json_object_keys``), ``ev`` the struct parsed with :func:`wire_schema`, ``raw_err`` the
    record-level error of :func:`raw_error`, the ``any_*`` the record-level flags
    (``text.rlike(null_regex(...))``, ``text.rlike(not_a_string_regex(...))``, the forbidden
    class over the string fields), ``ingest`` the ingest time (Kafka timestamp capped at now) and
    ``times`` the timestamp fields parsed (see :func:`value_checks`). They are separate inputs
    so the caller computes each once per record.
    """
    from pyspark.sql import functions as F

    known = F.array(*[F.lit(n) for n in entity.field_names])
    unknown = F.transform(
        F.array_sort(F.array_except(keys, known)),
        lambda k: F.concat(k, F.lit(": unknown field")),
    )
    per_field = [
        c
        for f in entity.fields
        for c in _field_errors(
            contract, entity, f, text, keys, ev, any_null, any_not_string, any_forbidden, ingest, times
        )
    ]
    field_errors = F.concat(unknown, F.filter(F.array(*per_field), lambda e: e.isNotNull()))
    return (
        F.when(raw_err.isNotNull(), F.array(raw_err))
        # from_json could not read the object and no field check says why (e.g. a raw control
        # character inside a string leaves every field null)
        .when((F.size(field_errors) == 0) & ev[CORRUPT].isNotNull(), F.array(F.lit("not valid JSON")))
        .otherwise(field_errors)
    )


def interpreted(col: Column) -> Column:
    """``col``, evaluated without generated code (the body of a one-element ``transform``).

    For a tree too large for whole-stage codegen, and for one holding a value that changes every
    micro-batch (a streaming ``current_timestamp()``): generated code spells such a literal inline,
    so its class was compiled again for every batch; an interpreted expression is passed to the
    generated code as a reference and the class stays the same.
    """
    from pyspark.sql import functions as F

    return F.transform(F.array(F.lit(0)), lambda _: col)[0]


def no_errors() -> Column:
    """The empty error list (a valid record)."""
    from pyspark.sql import functions as F

    return F.array().cast("array<string>")


def parse_value(contract: Contract, entity: EntitySpec, text: Column) -> Column:
    """``from_json`` with the contract's wire schema (PERMISSIVE; type errors leave a null field)."""
    from pyspark.sql import functions as F

    return F.from_json(
        text, wire_schema(contract, entity), {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
    )


def parse_event_time(text: Column) -> Column:
    """The contract's timestamp string -> timestamp (UTC), or null if it is not a calendar instant.

    The calendar is checked explicitly (month 1-12, day within the month, Gregorian leap years,
    hour <= 23, minute/second <= 59, year >= 1) before ``make_timestamp`` runs, so the result
    depends neither on the session time zone, nor on ``spark.sql.legacy.timeParserPolicy``, nor
    on ANSI mode (where an invalid date would raise and stop the stream), and a leap second
    ``:60`` is refused like Python and Ruby refuse it (``make_timestamp`` would roll it over).
    """
    from pyspark.sql import functions as F

    ok = text.rlike(_TS_PARTS)

    def part(pos: int, n: int) -> Column:
        return F.substring(text, pos, n).cast("int")

    y, mo, d, h, mi, sec = part(1, 4), part(6, 2), part(9, 2), part(12, 2), part(15, 2), part(18, 2)
    leap = ((y % 4) == 0) & (((y % 100) != 0) | ((y % 400) == 0))
    days = (
        F.when(mo == 2, F.when(leap, F.lit(29)).otherwise(F.lit(28)))
        .when(mo.isin(4, 6, 9, 11), F.lit(30))
        .otherwise(F.lit(31))
    )
    calendar = (
        ok & (y >= 1) & mo.between(1, 12) & (d >= 1) & (d <= days) & (h <= 23) & (mi <= 59) & (sec <= 59)
    )
    made = F.make_timestamp(y, mo, d, h, mi, F.substring(text, 18, 9).cast("decimal(8,6)"), F.lit("UTC"))
    return F.when(calendar, made)


def event_date_hour(text: Column, event_time: Column) -> tuple[Column, Column]:
    """UTC date and hour of a valid contract timestamp, read from its text (time-zone free)."""
    from pyspark.sql import functions as F

    ok = event_time.isNotNull()
    return (
        F.when(ok, F.to_date(F.substring(text, 1, 10), "yyyy-MM-dd")),
        F.when(ok, F.substring(text, 12, 2).cast("int")),
    )
