"""The data contract (``conf/contract.yaml``) as a typed, validated model.

Every stage derives its schema from this module instead of copying field lists::

    from shopstream.contract import load_contract

    contract = load_contract()
    for entity in contract.entities.values():
        entity.topic, entity.key, [(f.name, f.type, f.required) for f in entity.fields]
    contract.entity("orders").field("first_category").weights   # {"Top": 40, ...}
    contract.validate_event("users", {"event_id": ...})          # -> list of error strings

Nothing heavy is imported here (no pyspark, no Kafka client): it is safe to import anywhere.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shopstream.resources import conf_path
from shopstream.validity import (
    INT_BOUNDS,
    REDSHIFT_VARCHAR_MAX_BYTES,
    check_record,
    compiled_pattern,
    forbidden_text_class,
    pattern_problem,
    validate_event,
)

CONTRACT_PATH = conf_path("contract.yaml")

LogicalType = Literal["int32", "int64", "string", "uuid", "timestamp"]
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


class ContractError(Exception):
    """The contract file itself is invalid (one line naming the problem)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogicalTypeSpec(_Model):
    """How a logical type travels on the wire and maps onto each engine."""

    wire: Literal["number", "string"]
    spark: str
    redshift: str
    postgres: str
    opensearch: str
    pattern: str | None = None
    opensearch_format: str | None = None
    earliest: str | None = None  # timestamp: the earliest valid instant (contract's own format)
    max_future_skew_seconds: int | None = Field(default=None, ge=0)  # timestamp: see the contract

    @model_validator(mode="after")
    def _check(self) -> LogicalTypeSpec:
        if self.pattern is not None:
            problem = pattern_problem(self.pattern)
            if problem:
                raise ValueError(f"pattern {self.pattern!r}: {problem}")
        if self.earliest is not None:
            if self.pattern is not None and not compiled_pattern(self.pattern).fullmatch(self.earliest):
                raise ValueError(f"earliest {self.earliest!r} does not match the pattern")
            try:
                datetime.fromisoformat(self.earliest)
            except ValueError:
                raise ValueError(f"earliest {self.earliest!r} is not a timestamp") from None
        return self

    @property
    def earliest_time(self) -> datetime | None:
        return None if self.earliest is None else datetime.fromisoformat(self.earliest)

    @property
    def max_future_skew(self) -> timedelta | None:
        s = self.max_future_skew_seconds
        return None if s is None else timedelta(seconds=s)


class ValidityPolicy(_Model):
    """Record-level rules of ``validity:`` (see the contract's header)."""

    duplicate_keys: Literal["reject"] = "reject"
    key_escapes: Literal["reject"] = "reject"
    surrogate_escapes: Literal["reject"] = "reject"
    kafka_key: Literal["entity_key"] = "entity_key"
    forbidden_text: list[tuple[int, int]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> ValidityPolicy:
        for lo, hi in self.forbidden_text:
            if not 0 <= lo <= hi <= 0x10FFFF:
                raise ValueError(f"forbidden_text: [{lo:#x}, {hi:#x}] is not a code point range")
        return self


class FieldSpec(_Model):
    """One field of an event. ``weights`` is already resolved for ``same_values_as`` fields."""

    name: str = Field(pattern=_SNAKE.pattern)
    type: LogicalType
    required: bool = True
    nullable: bool = False
    description: str = ""
    min: int | None = None
    max: int | None = None
    step: int | None = Field(default=None, ge=1)
    max_length: int | None = Field(default=None, ge=1)
    const: int | str | None = None
    weights: dict[str, int] | None = None
    weights_by: str | None = None
    weights_given: dict[str, dict[str, int]] | None = None
    same_values_as: str | None = None
    email_domain_weights: dict[str, int] | None = None
    derived_from: list[str] | None = None
    references: str | None = None

    @model_validator(mode="after")
    def _check(self) -> FieldSpec:
        tables = [self.weights, self.email_domain_weights, *(self.weights_given or {}).values()]
        for table in tables:
            if table is None:
                continue
            if not table or any(not isinstance(w, int) or w <= 0 for w in table.values()):
                raise ValueError(f"{self.name}: weights must be positive integers")
            if sum(table.values()) != 100:
                raise ValueError(f"{self.name}: weights must sum to 100 (got {sum(table.values())})")
        if (self.weights_by is None) != (self.weights_given is None):
            raise ValueError(f"{self.name}: weights_by and weights_given go together")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"{self.name}: min > max")
        return self

    @property
    def allowed_values(self) -> frozenset[str] | None:
        """Every value this field may take (union over conditions), or None when free-form."""
        if self.weights is not None:
            return frozenset(self.weights)
        if self.weights_given is not None:
            return frozenset(v for table in self.weights_given.values() for v in table)
        return None

    @property
    def is_weighted(self) -> bool:
        return self.weights is not None or self.weights_given is not None or bool(self.email_domain_weights)


class EntitySpec(_Model):
    """One entity (= one topic): its key, schema version and ordered fields."""

    name: str = ""
    description: str = ""
    topic: str = Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")
    key: str
    schema_version: int = Field(ge=1)
    partitions_hint: int = Field(ge=1)
    fields: list[FieldSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> EntitySpec:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("duplicate field names")
        by_name = {f.name: f for f in self.fields}
        if self.key not in by_name:
            raise ValueError(f"key {self.key!r} is not a field")
        for f in self.fields:
            if f.weights_by is not None:
                parent = by_name.get(f.weights_by)
                if parent is None or parent.weights is None:
                    raise ValueError(f"{f.name}: weights_by {f.weights_by!r} is not a weighted field")
                if set(f.weights_given or {}) != set(parent.weights):
                    raise ValueError(f"{f.name}: weights_given must cover exactly {sorted(parent.weights)}")
        for required in ("event_id", "schema_version", "created_at"):
            if required not in by_name:
                raise ValueError(f"every entity needs the field {required!r}")
        return self

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name}: no field {name!r}")

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.required]


class Contract(_Model):
    """The whole contract: logical types and entities (``users``, ``orders``)."""

    contract_version: int = Field(ge=1)
    encoding: Literal["json-utf8"]
    max_event_bytes: int = Field(ge=256)
    logical_types: dict[LogicalType, LogicalTypeSpec]
    validity: ValidityPolicy = Field(default_factory=ValidityPolicy)
    entities: dict[str, EntitySpec]

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, data: Any) -> Any:
        """Name each entity and copy weights into ``same_values_as`` fields."""
        if not isinstance(data, dict) or not isinstance(data.get("entities"), dict):
            return data
        entities = {n: dict(e) if isinstance(e, dict) else e for n, e in data["entities"].items()}
        for ename, ent in entities.items():
            if not isinstance(ent, dict):
                continue
            ent.setdefault("name", ename)
            fields = []
            for f in ent.get("fields") or []:
                if isinstance(f, dict) and f.get("same_values_as") and "weights" not in f:
                    ref_entity, _, ref_field = str(f["same_values_as"]).partition(".")
                    ref = next(
                        (
                            rf
                            for rf in (entities.get(ref_entity) or {}).get("fields", [])
                            if isinstance(rf, dict) and rf.get("name") == ref_field
                        ),
                        None,
                    )
                    if ref is None or not ref.get("weights"):
                        raise ValueError(
                            f"{ename}.{f.get('name')}: same_values_as {f['same_values_as']!r} not found"
                        )
                    f = {**f, "weights": dict(ref["weights"])}
                fields.append(f)
            ent["fields"] = fields
        return {**data, "entities": entities}

    @model_validator(mode="after")
    def _check(self) -> Contract:
        topics = [e.topic for e in self.entities.values()]
        if len(set(topics)) != len(topics):
            raise ValueError("two entities share a topic")
        for ent in self.entities.values():
            for f in ent.fields:
                if f.type not in self.logical_types:
                    raise ValueError(f"{ent.name}.{f.name}: logical type {f.type!r} is not declared")
                lt = self.logical_types[f.type]
                if f.type == "string" and f.max_length is None:
                    # every sink sizes its column from it (Redshift VARCHAR is 4 bytes per character)
                    raise ValueError(f"{ent.name}.{f.name}: a string field needs max_length")
                if f.max_length is not None and f.max_length * 4 > REDSHIFT_VARCHAR_MAX_BYTES:
                    raise ValueError(
                        f"{ent.name}.{f.name}: max_length {f.max_length} does not fit Redshift's "
                        f"VARCHAR({REDSHIFT_VARCHAR_MAX_BYTES}) at 4 bytes per character"
                    )
                if f.type == "timestamp" and (lt.earliest is None or lt.max_future_skew_seconds is None):
                    raise ValueError(f"logical type {f.type!r} needs earliest and max_future_skew_seconds")
                if f.type in INT_BOUNDS:
                    lo, hi = INT_BOUNDS[f.type]
                    for attr in ("min", "max", "const"):
                        v = getattr(f, attr)
                        if isinstance(v, int) and not lo <= v <= hi:
                            raise ValueError(f"{ent.name}.{f.name}: {attr} {v} outside {f.type}")
        return self

    # --- helpers ---------------------------------------------------------------------------
    @property
    def entity_names(self) -> list[str]:
        return list(self.entities)

    def entity(self, name: str) -> EntitySpec:
        try:
            return self.entities[name]
        except KeyError:
            raise KeyError(f"unknown entity {name!r}; allowed: {', '.join(self.entities)}") from None

    def entity_for_topic(self, topic: str) -> EntitySpec:
        for ent in self.entities.values():
            if ent.topic == topic or topic.endswith("." + ent.topic):
                return ent
        raise KeyError(f"no entity for topic {topic!r}")

    def weights(self, entity: str, field: str, given: str | None = None) -> dict[str, int]:
        """Exact weights of a weighted field (``given`` = the value of its ``weights_by`` field)."""
        f = self.entity(entity).field(field)
        if f.weights_given is not None:
            if given is None:
                raise ValueError(f"{entity}.{field}: weights depend on {f.weights_by}; pass given=")
            return dict(f.weights_given[given])
        if f.weights is not None:
            return dict(f.weights)
        if f.email_domain_weights is not None:
            return dict(f.email_domain_weights)
        raise ValueError(f"{entity}.{field} is not weighted")

    # --- validity (see the contract's header: one definition, in shopstream.validity) ----------
    @functools.cached_property
    def forbidden_text(self) -> re.Pattern[str]:
        """A string value containing any of these code points is invalid."""
        return re.compile(forbidden_text_class(self.validity.forbidden_text, "python"))

    # the record check itself lives in shopstream.validity; these are its functions as methods
    validate_event = validate_event
    check_record = check_record

    def validate_record(self, entity: str, value: bytes | None, **options: Any) -> list[str]:
        """Check one raw Kafka record (options ``key``, ``timestamp``, ``now`` of :meth:`check_record`)."""
        return self.check_record(entity, value, **options)[1]

    def validate_value(self, entity: str, raw: bytes | None, timestamp: datetime | None = None) -> list[str]:
        """Check one raw record value (every rule but the key's); returns errors."""
        return self.check_record(entity, raw, timestamp=timestamp)[1]


def load_contract(path: Path | str | None = None) -> Contract:
    """Load and validate ``conf/contract.yaml`` (cached for the default path)."""
    if path is None:
        return _default_contract()
    return _load(Path(path))


@functools.cache
def _default_contract() -> Contract:
    return _load(CONTRACT_PATH)


def _load(path: Path) -> Contract:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContractError(f"{path}: contract file not found") from None
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML ({exc})") from None
    try:
        return Contract.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ContractError(f"{path}: {loc}: {err['msg']}") from None
    except ValueError as exc:
        raise ContractError(f"{path}: {exc}") from None


def entities() -> list[str]:
    """Entity names of the default contract, in file order (``["users", "orders"]``).

    The only list of entities: every stage, CLI choice and DAG asks this function
    (``tests/test_one_home.py`` fails when a second list is spelled out elsewhere)."""
    return load_contract().entity_names


def check_entity(name: str) -> str:
    """``name`` when it is an entity of the default contract, else ValueError naming the allowed ones."""
    names = entities()
    if name not in names:
        raise ValueError(f"unknown entity {name!r}; allowed: {', '.join(names)}")
    return name
