"""Pure functions: a Kafka record -> the bulk action Logstash would produce for it.

No client, no I/O: the consumer wires these to Kafka and OpenSearch, the tests call them directly.
The semantics are the generated Logstash pipelines' (``logstash/pipeline/<entity>.conf``):

* a valid event becomes a document in ``shopstream-<entity>-YYYY.MM`` (UTC month of ``created_at``)
  with ``_id`` = ``event_id``: the contract's fields + ``@timestamp`` (event time, ms, ``Z``) + the
  spec's transforms (users: ``email_user``/``email_domain``);
* an invalid record becomes a dead letter in ``shopstream-deadletter-<entity>-YYYY.MM`` (month of
  the Kafka record timestamp) with ``_id`` = ``<topic>-<partition>-<offset>`` and the reason.

Hot path (the consumer calls :func:`to_action` for every record): a valid record is parsed once
(``orjson``; :mod:`shopstream.realtime.accept` says "certainly valid" without the generic
validator), its document built in the parsed dict and serialized once to the bytes the ``_bulk``
body carries. Anything the fast check does not accept goes through :func:`decode`, the contract's
definition, which decides and words the dead letter's reason.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from shopstream.contract import Contract
from shopstream.realtime.accept import Acceptor, compile_acceptor
from shopstream.realtime.spec import (
    DEADLETTER_RAW_MAX_CHARS,
    DOC_ID_FIELD,
    MONTH_FORMAT_PY,
    TIME_FIELD,
    TIMESTAMP_FIELD,
    EntityIndex,
    SplitEmail,
)
from shopstream.validity import NO_KEY


class Action:
    """One bulk ``index`` action; its source is kept as the JSON bytes the body carries."""

    __slots__ = ("dead_letter", "doc_id", "entity", "index", "source_json")

    def __init__(
        self,
        index: str,
        doc_id: str,
        source: dict[str, Any] | bytes,
        entity: str,
        dead_letter: bool = False,
    ) -> None:
        self.index = index
        self.doc_id = doc_id
        self.source_json = source if isinstance(source, bytes) else dumps(source)
        self.entity = entity
        self.dead_letter = dead_letter

    @property
    def source(self) -> dict[str, Any]:
        """The document (decoded again: only tests and the refused-document path need it)."""
        doc: dict[str, Any] = json.loads(self.source_json)  # the stdlib: every source it wrote
        return doc

    def bulk_lines(self) -> bytes:
        """The action's two NDJSON lines of a ``_bulk`` body."""
        return b"".join(
            (
                orjson.dumps({"index": {"_index": self.index, "_id": self.doc_id}}),
                b"\n",
                self.source_json,
                b"\n",
            )
        )


def dumps(doc: dict[str, Any]) -> bytes:
    """A document as compact UTF-8 JSON (one line: JSON escapes every newline inside a string).

    ``orjson`` refuses what it cannot encode losslessly in UTF-8 (a lone surrogate the stdlib
    parser let through, an int beyond 64 bits); those take the stdlib with ASCII escapes.
    """
    try:
        return orjson.dumps(doc)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(doc, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def decode(
    contract: Contract,
    entity: str,
    raw: bytes | None,
    key: Any = NO_KEY,
    kafka_timestamp_ms: int | None = None,
) -> tuple[dict[str, Any] | None, list[str]]:
    """Decode and validate one record: (event, []) or (None | event, errors).

    :meth:`Contract.check_record` (the one definition of validity; parsed once): the key is
    checked when given, the Kafka timestamp (ms) caps ``created_at`` (+ the allowed skew).
    """
    return contract.check_record(entity, raw, key=key, timestamp=kafka_time(kafka_timestamp_ms))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def kafka_time(ms: int | None) -> datetime | None:
    """A Kafka record timestamp (ms since the epoch; <= 0: none) as an aware UTC datetime."""
    return None if ms is None or ms <= 0 else _EPOCH + timedelta(milliseconds=ms)


def event_timestamp(created_at: str) -> datetime:
    """``created_at`` as an aware UTC datetime."""
    return datetime.fromisoformat(created_at).astimezone(UTC)


def logstash_timestamp(ts: datetime) -> str:
    """``@timestamp`` the way Logstash's date filter writes it: UTC, milliseconds, ``Z``."""
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _stamp_and_month(created_at: str) -> tuple[str, str]:
    """(``@timestamp``, ``YYYY.MM``) of an event time; slices when it is already UTC with micros."""
    c = created_at
    if (
        len(c) == 32
        and c[0] != "0"
        and c.endswith("+00:00")
        and c[4] + c[7] + c[10] + c[13] + c[16] + c[19] == "--T::."
    ):
        # YYYY-MM-DDTHH:MM:SS.ffffff+00:00: truncating to milliseconds is cutting 3 digits
        return c[:23] + "Z", c[:4] + "." + c[5:7]
    ts = event_timestamp(created_at)
    return logstash_timestamp(ts), ts.strftime(MONTH_FORMAT_PY)


def _add_fields(doc: dict[str, Any], idx: EntityIndex) -> str:
    """Add ``@timestamp`` and the spec's transforms to ``doc`` in place; returns the month."""
    stamp, month = _stamp_and_month(doc[TIME_FIELD])
    doc[TIMESTAMP_FIELD] = stamp
    for t in idx.transforms:
        if isinstance(t, SplitEmail):
            m = _split_regex(t).match(str(doc.get(t.source, "")))
            if m is not None:
                doc[t.user_field] = m.group(t.user_field)
                doc[t.domain_field] = m.group(t.domain_field)
    return month


@functools.cache
def _split_regex(t: SplitEmail) -> re.Pattern[str]:
    return t.python_regex


def apply_transforms(event: dict[str, Any], idx: EntityIndex) -> dict[str, Any]:
    """The document for a valid event (a new dict; the event is not modified)."""
    doc = dict(event)
    _add_fields(doc, idx)
    return doc


def document_action(event: dict[str, Any], idx: EntityIndex) -> Action:
    """The document action of a valid event. The event dict becomes the document (it is owned)."""
    month = _add_fields(event, idx)
    return Action(f"{idx.base}-{month}", str(event[DOC_ID_FIELD]), dumps(event), idx.entity)


def dead_letter_action(
    idx: EntityIndex,
    *,
    topic: str,
    partition: int,
    offset: int,
    kafka_timestamp_ms: int,
    reason: str,
    raw: bytes | None,
) -> Action:
    ts = datetime.fromtimestamp(kafka_timestamp_ms / 1000, UTC)
    text = (raw or b"").decode("utf-8", errors="replace")
    doc = {
        TIMESTAMP_FIELD: logstash_timestamp(ts),
        "entity": idx.entity,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "kafka_timestamp": kafka_timestamp_ms,
        "reason": reason,
        "raw": text[:DEADLETTER_RAW_MAX_CHARS],
    }
    return Action(
        idx.deadletter_index_for(ts), f"{topic}-{partition}-{offset}", doc, idx.entity, dead_letter=True
    )


def rejected_action(action: Action, idx: EntityIndex, reason: str) -> Action:
    """A document OpenSearch refused (4xx) as a dead letter, like Logstash's DLQ drain pipeline."""
    raw = json.dumps(action.source, ensure_ascii=False)
    # every document carries @timestamp (event time): the dead letter lands in the same month
    ts = datetime.fromisoformat(str(action.source[TIMESTAMP_FIELD]).replace("Z", "+00:00"))
    doc = {
        TIMESTAMP_FIELD: logstash_timestamp(ts),
        "entity": idx.entity,
        "reason": f"rejected by OpenSearch: {reason}",
        "raw": raw[:DEADLETTER_RAW_MAX_CHARS],
    }
    return Action(
        idx.deadletter_index_for(ts), f"rejected-{action.doc_id}", doc, idx.entity, dead_letter=True
    )


def to_action(
    contract: Contract,
    idx: EntityIndex,
    *,
    topic: str,
    partition: int,
    offset: int,
    kafka_timestamp_ms: int,
    raw: bytes | None,
    key: Any = NO_KEY,
) -> Action:
    """The one action a record becomes (a document or a dead letter)."""
    ts = kafka_time(kafka_timestamp_ms)
    ingest = min(ts, datetime.now(UTC)) if ts is not None else datetime.now(UTC)
    event = _acceptor(contract, idx.entity)(raw, key, ingest)
    if event is not None:
        return document_action(event, idx)
    event, errors = decode(
        contract, idx.entity, raw, key, kafka_timestamp_ms if kafka_timestamp_ms > 0 else None
    )
    if errors or event is None:
        return dead_letter_action(
            idx,
            topic=topic,
            partition=partition,
            offset=offset,
            kafka_timestamp_ms=kafka_timestamp_ms,
            reason="; ".join(errors) or "not a JSON object",
            raw=raw,
        )
    return document_action(event, idx)


_ACCEPTORS: dict[tuple[int, str], tuple[Contract, Acceptor]] = {}


def _acceptor(contract: Contract, entity: str) -> Acceptor:
    """The compiled fast check of ``entity`` (built once per contract object)."""
    hit = _ACCEPTORS.get((id(contract), entity))
    if hit is None or hit[0] is not contract:
        hit = (contract, compile_acceptor(contract, contract.entity(entity)))
        _ACCEPTORS[(id(contract), entity)] = hit
    return hit[1]
