"""Warehouse columns, derived from the data contract (never a hand-copied field list).

The warehouse holds, per entity, every contract field plus a few derived columns:

* ``users_dim``:  contract fields + ``email_domain`` (the part after ``@``) + ``hour_start``
* ``orders_fact``: contract fields + ``hour_start``

``hour_start`` is the UTC hour of ``created_at`` (event time): the unit every hourly load
replaces. The export job writes exactly these columns in this order, so Redshift's
``COPY ... FORMAT AS PARQUET`` (positional) and the local ``COPY FROM STDIN`` agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopstream.contract import Contract, load_contract

TABLES = {"users": "users_dim", "orders": "orders_fact"}
DERIVED: dict[str, list[tuple[str, str, int | None]]] = {
    "users": [("email_domain", "string", 128), ("hour_start", "timestamp", None)],
    "orders": [("hour_start", "timestamp", None)],
}


@dataclass(frozen=True)
class Column:
    name: str
    logical_type: str
    max_length: int | None = None

    def redshift_type(self, contract: Contract) -> str:
        base = contract.logical_types[self.logical_type].redshift  # type: ignore[index]
        if base == "varchar":
            # Redshift measures VARCHAR in bytes; UTF-8 Hangul needs 3, anything needs <= 4.
            return f"varchar({(self.max_length or 256) * 4})"
        return base

    def postgres_type(self, contract: Contract) -> str:
        return contract.logical_types[self.logical_type].postgres  # type: ignore[index]

    def spark_type(self, contract: Contract) -> str:
        return contract.logical_types[self.logical_type].spark  # type: ignore[index]

    def spark_type_for_export(self) -> str:
        return _SPARK_EXPORT[self.logical_type]


_SPARK_EXPORT = {
    "int32": "int",
    "int64": "bigint",
    "string": "string",
    "uuid": "string",
    "timestamp": "timestamp",
}


def columns(entity: str, contract: Contract | None = None) -> list[Column]:
    c = contract or load_contract()
    ent = c.entity(entity)
    cols = [Column(f.name, f.type, f.max_length) for f in ent.fields]
    cols += [Column(n, t, m) for n, t, m in DERIVED[entity]]
    return cols


def column_names(entity: str) -> list[str]:
    return [c.name for c in columns(entity)]


def postgres_ddl(entity: str, table: str | None = None, temporary: bool = False) -> str:
    """CREATE TABLE for the local PostgreSQL stand-in, derived from the contract."""
    c = load_contract()
    name = table or TABLES[entity]
    cols = ",\n".join(f"    {col.name} {col.postgres_type(c)} not null" for col in columns(entity, c))
    kind = "temporary table" if temporary else "table if not exists"
    pk = "" if temporary else ",\n    primary key (event_id)"
    return f"create {kind} {name} (\n{cols}{pk}\n)"
