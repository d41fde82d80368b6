"""Reading the archive (ledger stage "archive"): what one hour of one entity holds, straight from
the bucket, judged by the contract."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shopstream.archive import ArchiveError
from shopstream.archive.connector import portable_properties, require_entity, topics
from shopstream.aws import boto_client
from shopstream.config import Settings
from shopstream.contract import entities as contract_entities
from shopstream.contract import load_contract

_KEY_RE = re.compile(
    r"^(?P<topic>[^/]+)/dt=(?P<date>\d{4}-\d{2}-\d{2})/hh=(?P<hour>\d{2})/(?P=topic)-(?P<partition>\d+)-(?P<offset>\d+)"
    r"(?P<gz>\.gz)?$"
)


@dataclass
class HourArchive:
    """What the archive holds for one entity and one hour."""

    objects: list[str] = field(default_factory=list)
    lines: int = 0  # archived records (a record is the value's bytes followed by a newline)
    without_id: int = 0  # archived records with no string event_id
    event_ids: set[str] = field(default_factory=set)  # every archived record's event_id
    valid_ids: set[str] = field(default_factory=set)  # of records the contract accepts (the ledger's count)
    invalid: int = 0  # archived records the contract rejects (kept raw; bronze quarantines them)
    misplaced: list[str] = field(default_factory=list)  # event_ids whose created_at is another hour

    @property
    def distinct(self) -> int:
        return len(self.event_ids)

    @property
    def duplicates(self) -> int:
        """Records archived more than once (each record has its own event_id)."""
        return self.lines - self.distinct - self.without_id


def hour_prefix(topic: str, hour: datetime, prefix: str = "") -> str:
    h = _as_hour(hour)
    return f"{prefix}{topic}/dt={h:%Y-%m-%d}/hh={h:%H}/"


def _as_hour(hour: datetime) -> datetime:
    if hour.tzinfo is None:
        raise ArchiveError("hour must be timezone-aware (UTC)")
    return hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def key_prefix() -> str:
    """The connectors' ``aws.s3.prefix`` (both connectors use the same one)."""
    return portable_properties(contract_entities()[0]).get("aws.s3.prefix", "")


_DECODER = json.JSONDecoder()


def records(body: bytes) -> Iterator[bytes]:
    """The archived values of one object body, as the bytes the producer sent.

    Each record is a JSON value followed by a newline; a value may itself contain newlines
    (pretty-printed JSON is kept byte for byte), so values are found by decoding, not by lines.
    """
    text = body.decode("utf-8")
    pos, end = 0, len(text)
    while pos < end:
        if text[pos] in " \t\r\n":
            pos += 1
            continue
        _, stop = _DECODER.raw_decode(text, pos)
        yield text[pos:stop].encode("utf-8")
        pos = stop


def read_hour(
    settings: Settings, hour: datetime, entities: Iterable[str] | None = None
) -> dict[str, HourArchive]:
    """Read every archived object of ``hour`` (UTC) for each entity (default: all of the contract's),
    straight from the bucket."""
    # botocore comes with boto3, which shopstream.aws loads only when a client is made
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    try:
        return _read_hour(settings, hour, contract_entities() if entities is None else entities)
    except (BotoCoreError, ClientError) as exc:
        raise ArchiveError(f"reading s3://{settings.s3.archive_bucket}: {exc}") from None


def _read_hour(settings: Settings, hour: datetime, entities: Iterable[str]) -> dict[str, HourArchive]:

    contract = load_contract()
    h = _as_hour(hour)
    s3 = boto_client(settings, "s3")
    bucket = settings.s3.archive_bucket
    tmap = topics()
    prefix = key_prefix()
    out: dict[str, HourArchive] = {}
    for entity in entities:
        require_entity(entity)
        result = HourArchive()
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=hour_prefix(tmap[entity], h, prefix)
        ):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                m = _KEY_RE.match(key[len(prefix) :])
                if not m:
                    raise ArchiveError(f"s3://{bucket}/{key}: not an archive object name")
                result.objects.append(key)
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                try:
                    values = list(records(gzip.decompress(body) if m["gz"] else body))
                except (ValueError, OSError, EOFError, RecursionError) as exc:
                    raise ArchiveError(f"s3://{bucket}/{key}: unreadable archive object ({exc})") from None
                for raw in values:
                    _count(result, contract, entity, raw, h)
        out[entity] = result
    return out


def _count(result: HourArchive, contract: Any, entity: str, raw: bytes, hour: datetime) -> None:
    result.lines += 1
    ev = json.loads(raw)
    event_id = ev.get("event_id") if isinstance(ev, dict) else None
    if not isinstance(event_id, str):
        result.without_id += 1
        result.invalid += 1
        return
    result.event_ids.add(event_id)
    if contract.validate_value(entity, raw):
        result.invalid += 1
    else:
        result.valid_ids.add(event_id)
        if _as_hour(datetime.fromisoformat(ev["created_at"])) != hour:
            result.misplaced.append(event_id)


def count_archived(settings: Settings, hour: datetime) -> dict[str, int]:
    """Ledger stage "archive": distinct valid event_ids per entity archived under ``hour`` (UTC).

    Valid as the contract says, like the ledger's ``kafka`` stage: the archive keeps every event
    with a readable created_at, bronze only the valid ones.
    """
    return {entity: len(arch.valid_ids) for entity, arch in read_hour(settings, hour).items()}


def ledger_count(settings: Settings, entity: str, hour: datetime) -> int | None:
    """The archive's count for the ledger, or None when the ledger does not compare the archive."""
    if not settings.ledger.archive:
        return None
    return len(read_hour(settings, hour, [entity])[entity].valid_ids)


def archived_hours(settings: Settings, entity: str) -> list[datetime]:
    """Every hour that has at least one archived object for ``entity`` (sorted)."""

    s3 = boto_client(settings, "s3")
    topic = topics()[entity]
    prefix = key_prefix()
    hours: set[datetime] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.s3.archive_bucket, Prefix=f"{prefix}{topic}/"
    ):
        for obj in page.get("Contents", []):
            m = _KEY_RE.match(obj["Key"][len(prefix) :])
            if m:
                hours.add(datetime.fromisoformat(f"{m['date']}T{m['hour']}:00:00+00:00"))
    return sorted(hours)
