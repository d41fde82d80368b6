"""The real-time path's one source of truth, and the generator of every artifact derived from it.

``conf/contract.yaml`` says what an event is; this module says how it is indexed:

* **Index design.** One index per entity per *event-time* month, ``shopstream-<entity>-YYYY.MM``
  (UTC month of ``created_at``), read through the alias ``shopstream-<entity>`` that the index
  template attaches to every such index. Document ``_id`` = ``event_id``, action ``index``: a
  replay, a redelivery after a crash or a producer retry overwrites the same document, so counts
  never double. Data streams were rejected on purpose: they are append-only (``op_type=create``
  only, a second write of the same ``_id`` is a 409 conflict, not an overwrite, and the backing
  index is chosen by *arrival* time, not event time), which breaks idempotent replays and puts a
  late event into the wrong month. Monthly (not daily) keeps the shard count small for a
  laptop and for a 2-node domain; retention is the ISM policy (delete whole months).
* **Dead letters.** Records that fail the contract go to ``shopstream-deadletter-<entity>-YYYY.MM``
  (month of the Kafka record timestamp) with ``_id`` = ``<topic>-<partition>-<offset>``: a replay
  rewrites the same dead letter instead of adding one.
* **Field transforms** (the same in Logstash and in the local consumer): ``@timestamp`` = event time
  (``created_at``, millisecond precision, UTC ``Z``), and for users ``email`` is split into
  ``email_user`` + ``email_domain`` (at the *last* ``@``, the regex below).

This module holds the index design (names, mappings, templates, ISM, the rules Logstash's contract
check reads). Rendered from it: the Logstash pipelines and ConfigMaps (:mod:`.logstash`), the
dashboards' saved objects (:mod:`.saved_objects`); everything under ``logstash/`` except the
hand-written files is written by :mod:`.generate` (``shopstream realtime generate``);
``tests/test_logstash.py`` regenerates and diffs, so a change to the contract, to this spec or to a
generated file alone fails a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shopstream.config import REPO_ROOT
from shopstream.contract import Contract, EntitySpec, load_contract
from shopstream.validity import INT_BOUNDS, KEY_ESCAPE, SURROGATE_ESCAPE, forbidden_text_class

LOGSTASH_DIR = REPO_ROOT / "logstash"
INDEX_PREFIX = "shopstream"
DOC_ID_FIELD = "event_id"
TIME_FIELD = "created_at"
TIMESTAMP_FIELD = "@timestamp"
MONTH_FORMAT_PY = "%Y.%m"
MONTH_FORMAT_LOGSTASH = "YYYY.MM"  # Joda pattern used by Logstash's %{+...} sprintf (on @timestamp)

# Local consumer: its own group, so running it against the same cluster as Logstash never splits
# partitions between the two (each gets the whole stream and writes idempotently).
LOCAL_GROUP_ID = "shopstream-realtime"
DEADLETTER_RAW_MAX_CHARS = 8192

# Index settings: replicas 1 for a real domain; the local single node gets 0 at install time.
INDEX_SETTINGS: dict[str, Any] = {"number_of_shards": 1, "number_of_replicas": 1, "refresh_interval": "1s"}
TEMPLATE_PRIORITY = 200
# ISM: hot -> read-only after 45 days (a 31-day month + the 7-day Kafka retention a replay can reach
# + margin), deleted after ~13 months; dead letters are kept 90 days.
RETENTION = {
    "events": {"read_only_after": "45d", "delete_after": "395d"},
    "deadletter": {"delete_after": "90d"},
}


# --- transforms ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SplitEmail:
    """``email`` -> ``email_user`` + ``email_domain`` (split at the last ``@``)."""

    source: str = "email"
    user_field: str = "email_user"
    domain_field: str = "email_domain"

    @property
    def regex(self) -> str:
        # Greedy user part: the split happens at the LAST '@', like str.rpartition and the contract.
        return rf"^(?<{self.user_field}>.*)@(?<{self.domain_field}>[^@]+)$"

    @property
    def python_regex(self) -> re.Pattern[str]:
        return re.compile(self.regex.replace("(?<", "(?P<"), re.DOTALL)

    @property
    def added_fields(self) -> tuple[str, ...]:
        return (self.user_field, self.domain_field)


@dataclass(frozen=True)
class EntityIndex:
    """How one entity is consumed and indexed."""

    entity: str
    topic: str
    transforms: tuple[SplitEmail, ...] = ()
    # top-level keys Logstash adds that never reach the document (ECS compatibility is disabled)
    logstash_removed: tuple[str, ...] = field(default=("message", "@version", "tags", "event"))

    @property
    def base(self) -> str:
        return f"{INDEX_PREFIX}-{self.entity}"

    @property
    def alias(self) -> str:
        return self.base

    @property
    def pattern(self) -> str:
        return f"{self.base}-*"

    @property
    def deadletter_base(self) -> str:
        return f"{INDEX_PREFIX}-deadletter-{self.entity}"

    @property
    def deadletter_pattern(self) -> str:
        return f"{self.deadletter_base}-*"

    @property
    def logstash_index(self) -> str:
        return f"{self.base}-%{{+{MONTH_FORMAT_LOGSTASH}}}"

    @property
    def logstash_deadletter_index(self) -> str:
        return f"{self.deadletter_base}-%{{+{MONTH_FORMAT_LOGSTASH}}}"

    def index_for(self, ts: datetime) -> str:
        return f"{self.base}-{ts.astimezone(UTC).strftime(MONTH_FORMAT_PY)}"

    def deadletter_index_for(self, ts: datetime) -> str:
        return f"{self.deadletter_base}-{ts.astimezone(UTC).strftime(MONTH_FORMAT_PY)}"

    @property
    def added_fields(self) -> tuple[str, ...]:
        return (TIMESTAMP_FIELD, *(f for t in self.transforms for f in t.added_fields))


def entity_indexes(contract: Contract | None = None) -> dict[str, EntityIndex]:
    """One :class:`EntityIndex` per contract entity (transforms chosen by the fields present)."""
    contract = contract or load_contract()
    out: dict[str, EntityIndex] = {}
    for ent in contract.entities.values():
        transforms = tuple(SplitEmail(source=f.name) for f in ent.fields if f.email_domain_weights)
        out[ent.name] = EntityIndex(ent.name, ent.topic, transforms)
    return out


DEADLETTER_FIELDS: dict[str, dict[str, Any]] = {
    TIMESTAMP_FIELD: {"type": "date"},
    "entity": {"type": "keyword"},
    "topic": {"type": "keyword"},
    "partition": {"type": "integer"},
    "offset": {"type": "long"},
    "kafka_timestamp": {"type": "date", "format": "epoch_millis"},
    "reason": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}},
    "raw": {"type": "text", "index": False},
}


# --- OpenSearch artifacts -----------------------------------------------------------------------
def mapping_properties(ent: EntitySpec, contract: Contract, idx: EntityIndex) -> dict[str, Any]:
    props: dict[str, Any] = {TIMESTAMP_FIELD: {"type": "date"}}
    for f in ent.fields:
        lt = contract.logical_types[f.type]
        prop: dict[str, Any] = {"type": lt.opensearch}
        if lt.opensearch_format:
            prop["format"] = lt.opensearch_format
        props[f.name] = prop
    for t in idx.transforms:
        for name in t.added_fields:
            props[name] = {"type": "keyword"}
    return dict(sorted(props.items()))


def index_template(entity: str, contract: Contract | None = None) -> dict[str, Any]:
    contract = contract or load_contract()
    ent = contract.entity(entity)
    idx = entity_indexes(contract)[entity]
    return {
        "index_patterns": [idx.pattern],
        "priority": TEMPLATE_PRIORITY,
        "_meta": {
            "generated_by": "shopstream/realtime/spec.py",
            "contract_version": contract.contract_version,
            "schema_version": ent.schema_version,
        },
        "template": {
            "settings": {"index": dict(INDEX_SETTINGS)},
            "mappings": {
                "dynamic": "strict",
                "_source": {"enabled": True},
                "properties": mapping_properties(ent, contract, idx),
            },
            "aliases": {idx.alias: {}},
        },
    }


def deadletter_template(contract: Contract | None = None) -> dict[str, Any]:
    idxs = entity_indexes(contract)
    return {
        "index_patterns": sorted(i.deadletter_pattern for i in idxs.values()),
        "priority": TEMPLATE_PRIORITY,
        "_meta": {"generated_by": "shopstream/realtime/spec.py"},
        "template": {
            "settings": {"index": dict(INDEX_SETTINGS)},
            "mappings": {"dynamic": "strict", "properties": dict(sorted(DEADLETTER_FIELDS.items()))},
            "aliases": {f"{INDEX_PREFIX}-deadletter": {}},
        },
    }


def ism_policies(contract: Contract | None = None) -> dict[str, dict[str, Any]]:
    """ISM policies (Amazon OpenSearch Service; the local node has no ISM plugin)."""
    idxs = entity_indexes(contract)
    ev, dl = RETENTION["events"], RETENTION["deadletter"]
    return {
        f"{INDEX_PREFIX}-events": {
            "policy": {
                "description": "shopstream event indices (one per event-time month): read-only, then deleted",
                "default_state": "hot",
                "states": [
                    {
                        "name": "hot",
                        "actions": [],
                        "transitions": [
                            {
                                "state_name": "closed-month",
                                "conditions": {"min_index_age": ev["read_only_after"]},
                            }
                        ],
                    },
                    {
                        "name": "closed-month",
                        "actions": [{"read_only": {}}, {"force_merge": {"max_num_segments": 1}}],
                        "transitions": [
                            {"state_name": "delete", "conditions": {"min_index_age": ev["delete_after"]}}
                        ],
                    },
                    {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
                ],
                "ism_template": [
                    {"index_patterns": sorted(i.pattern for i in idxs.values()), "priority": 100}
                ],
            }
        },
        f"{INDEX_PREFIX}-deadletter": {
            "policy": {
                "description": "shopstream dead-letter indices: deleted after the retention",
                "default_state": "hot",
                "states": [
                    {
                        "name": "hot",
                        "actions": [],
                        "transitions": [
                            {"state_name": "delete", "conditions": {"min_index_age": dl["delete_after"]}}
                        ],
                    },
                    {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
                ],
                "ism_template": [
                    {"index_patterns": sorted(i.deadletter_pattern for i in idxs.values()), "priority": 100}
                ],
            }
        },
    }


def contract_rules(entity: str, contract: Contract | None = None) -> dict[str, Any]:
    """The contract of one entity as plain JSON for Logstash's ``contract.rb`` validator.

    Every rule of :meth:`Contract.check_record`, as data: the raw-text regexes (the same text in
    Python, Java and Ruby), the forbidden code points as a Ruby character class, the patterns
    unanchored (``contract.rb`` anchors them with ``\\A(?:...)\\z``), the event-time range.
    """
    contract = contract or load_contract()
    ent = contract.entity(entity)
    fields = []
    for f in ent.fields:
        lt = contract.logical_types[f.type]
        rule: dict[str, Any] = {"name": f.name, "type": f.type, "wire": lt.wire}
        rule["required"] = f.required
        rule["nullable"] = f.nullable
        if f.type in INT_BOUNDS:
            rule["int_min"], rule["int_max"] = INT_BOUNDS[f.type]
        for attr in ("min", "max", "step", "max_length", "const", "weights_by"):
            value = getattr(f, attr)
            if value is not None:
                rule[attr] = value
        if lt.pattern:
            rule["pattern"] = lt.pattern
        if lt.earliest is not None:
            rule["earliest"] = lt.earliest
        if lt.max_future_skew_seconds is not None:
            rule["max_future_skew_seconds"] = lt.max_future_skew_seconds
        if f.weights is not None:
            rule["allowed"] = sorted(f.weights)
        if f.weights_given is not None:
            rule["allowed_given"] = {k: sorted(v) for k, v in sorted(f.weights_given.items())}
        if f.email_domain_weights is not None:
            rule["email_domains"] = sorted(f.email_domain_weights)
        fields.append(rule)
    return {
        "entity": entity,
        "max_event_bytes": contract.max_event_bytes,
        "raw_max_chars": DEADLETTER_RAW_MAX_CHARS,
        "key_field": ent.key,
        "surrogate_escape": SURROGATE_ESCAPE,
        "key_escape": KEY_ESCAPE,
        "forbidden_text": forbidden_text_class(contract.validity.forbidden_text, "ruby"),
        "fields": fields,
    }
