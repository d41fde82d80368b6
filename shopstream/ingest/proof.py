"""The cheap proof that a record is valid, for records in the producer's form.

The stream (and every batch consumer of :func:`shopstream.ingest.bronze.transform_classify`)
judges nearly every record here: :func:`proven_valid` is true only for a record every rule of
:mod:`shopstream.ingest.validation` accepts, and costs a fraction of them (no second parse, no
raw-text regex). A record it does not prove gets the full rules; the verdict never differs
(``tests/test_validity_fuzz.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from shopstream.contract import Contract, EntitySpec
from shopstream.ingest.validation import key_matches, string_fields, value_checks
from shopstream.validity import forbidden_text_class

if TYPE_CHECKING:
    from pyspark.sql import Column


def forbidden_prefilter(contract: Contract) -> str:
    """A Java character class matching every forbidden code point and a few more (a superset).

    The contract's list is ~20 ranges, most of them two noncharacters at the end of each
    supplementary plane; Java tests a class range by range for every character. Here everything
    from the first forbidden supplementary code point up is one range, so a text without a match
    (nearly every record: Hangul, ASCII) is proven clean in a quarter of the time; a match only
    sends the record to the exact rules.
    """
    ranges = sorted(contract.validity.forbidden_text)
    bmp = [(lo, hi) for lo, hi in ranges if hi < 0x10000]
    high = [lo for lo, hi in ranges if hi >= 0x10000]
    if high:
        bmp.append((min(high), 0x10FFFF))
    return forbidden_text_class(bmp, "java")


def canonical_json(contract: Contract, entity: EntitySpec, ev: Column) -> Column:
    """The record as the producer writes it, rebuilt from the parsed struct ``ev``: compact JSON,
    every field in contract order, strings in quotes with ``"`` and ``\\`` escaped (Python's
    ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` for text without control
    characters), integers in decimal. Null if a field is null. Built from ``concat``/``replace``
    only, so the projection stays in whole-stage codegen (``to_json`` is interpreted)."""
    from pyspark.sql import functions as F

    parts: list[Column] = []
    for i, f in enumerate(entity.fields):
        v = ev[f.name]
        parts.append(F.lit(("{" if i == 0 else ",") + json.dumps(f.name) + ":"))
        if contract.logical_types[f.type].wire == "string":
            escaped = F.replace(F.replace(v, F.lit("\\"), F.lit("\\\\")), F.lit('"'), F.lit('\\"'))
            parts += [F.lit('"'), escaped, F.lit('"')]
        else:
            parts.append(v.cast("string"))
    parts.append(F.lit("}"))
    return F.concat(*parts)


def proven_valid(
    contract: Contract,
    entity: EntitySpec,
    value: Column,
    text: Column,
    ev: Column,
    ingest: Column,
    times: Mapping[str, Column] | None = None,
) -> Column:
    """True only for a record that every rule accepts, proven cheaply; False says nothing.

    The proof: the bytes are valid UTF-8 and equal :func:`canonical_json` of the parsed struct,
    no string holds a character of :func:`forbidden_prefilter`, every value rule of
    :func:`~shopstream.ingest.validation.value_checks` passes and the Kafka key matches. A text
    equal to its canonical rendering is one flat object of scalars, without byte order mark,
    whitespace, escaped key, surrogate escape (a parsed escape is never rendered back as one),
    duplicate, unknown, missing or null key, each value of its JSON type (a string field given a
    number is rendered quoted, an integer field given anything else is null). So the record-level
    rules of :func:`~shopstream.ingest.validation.raw_error` and the key / null / type rules need
    no regex for it, and ``json_object_keys`` (a second parse) does not run. Any other record
    (another client's spacing or key order included) gets the full rules: only their cost
    differs, never the verdict.
    """
    from pyspark.sql import functions as F

    conds: list[Column] = [
        F.length(value) <= F.lit(contract.max_event_bytes),
        canonical_json(contract, entity, ev) == text,
        F.encode(F.decode(value, "UTF-8"), "UTF-8") == value,
    ]
    for f in entity.fields:
        v = ev[f.name]
        conds.extend(~cond for cond, _ in value_checks(contract, f, v, ev, ingest, times))
        if f.name == entity.key:
            conds.append(key_matches(v))
    strings = [ev[name] for name in string_fields(contract, entity)]
    if strings:
        conds.append(~F.concat_ws("", *strings).rlike(forbidden_prefilter(contract)))
    proof = conds[0]
    for c in conds[1:]:
        proof = proof & c
    return F.coalesce(proof, F.lit(False))
