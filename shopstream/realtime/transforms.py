"""Pure functions: a Kafka record -> the bulk action Logstash would produce for it.

No client, no I/O: the consumer wires these to Kafka and OpenSearch, the tests call them directly.
The semantics are the generated Logstash pipelines' (``logstash/pipeline/<entity>.conf``):

* a valid event becomes a document in ``shopstream-<entity>-YYYY.MM`` (UTC month of ``created_at``)
  with ``_id`` = ``event_id``: the contract's fields + ``@timestamp`` (event time, ms, ``Z``) + the
  spec's transforms (users: ``email_user``/``email_domain``);
* an invalid record becomes a dead letter in ``shopstream-deadletter-<entity>-YYYY.MM`` (month of
  the Kafka record timestamp) with ``_id`` = ``<topic>-<partition>-<offset>`` and the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shopstream.contract import Contract
from shopstream.realtime.spec import (
    DEADLETTER_RAW_MAX_CHARS,
    DOC_ID_FIELD,
    TIME_FIELD,
    TIMESTAMP_FIELD,
    EntityIndex,
    SplitEmail,
)


@dataclass(frozen=True)
class Action:
    """One bulk ``index`` action (already serialized source)."""

    index: str
    doc_id: str
    source: dict[str, Any]
    entity: str
    dead_letter: bool = False


def decode(contract: Contract, entity: str, raw: bytes | None) -> tuple[dict[str, Any] | None, list[str]]:
    """Decode and validate one record value: (event, []) or (None | event, errors).

    Same checks and messages as :meth:`Contract.validate_value` (size, UTF-8, JSON, then the event),
    but the decoded event is returned so it is parsed once.
    """
    if raw is None:
        return None, ["record has no value (tombstone)"]
    if len(raw) > contract.max_event_bytes:
        return None, [f"record is {len(raw)} bytes; max_event_bytes is {contract.max_event_bytes}"]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [f"not valid UTF-8 at byte {exc.start}"]
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [f"not valid JSON: {exc.msg} at char {exc.pos}"]
    errors = contract.validate_event(entity, event)
    return (event if isinstance(event, dict) else None), errors


def event_timestamp(created_at: str) -> datetime:
    """``created_at`` as an aware UTC datetime."""
    return datetime.fromisoformat(created_at).astimezone(UTC)


def logstash_timestamp(ts: datetime) -> str:
    """``@timestamp`` the way Logstash's date filter writes it: UTC, milliseconds, ``Z``."""
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def apply_transforms(event: dict[str, Any], idx: EntityIndex) -> dict[str, Any]:
    """The document for a valid event (a new dict; the event is not modified)."""
    doc = dict(event)
    doc[TIMESTAMP_FIELD] = logstash_timestamp(event_timestamp(event[TIME_FIELD]))
    for t in idx.transforms:
        if isinstance(t, SplitEmail):
            m = t.python_regex.match(str(event.get(t.source, "")))
            if m is not None:
                doc[t.user_field] = m.group(t.user_field)
                doc[t.domain_field] = m.group(t.domain_field)
    return doc


def document_action(event: dict[str, Any], idx: EntityIndex) -> Action:
    doc = apply_transforms(event, idx)
    return Action(
        idx.index_for(event_timestamp(event[TIME_FIELD])), str(event[DOC_ID_FIELD]), doc, idx.entity
    )


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
) -> Action:
    """The one action a record becomes (a document or a dead letter)."""
    event, errors = decode(contract, idx.entity, raw)
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
