"""The PostgreSQL mart (local PostgreSQL or RDS): hourly aggregates Redash reads, plus the ledger.

Hour H of an entity is replaced in one transaction (delete the hour, insert its rows), so a
rerun upserts the same values and a dimension value that disappeared (after a late-data
correction) does not linger.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from shopstream import sqlfiles
from shopstream.config import Settings
from shopstream.credentials import postgres_password
from shopstream.errors import UsageError

MART_TABLES = {"users": "signups_hourly", "orders": "orders_hourly"}
MART_FILES = ("signups_hourly", "orders_hourly", "ledger")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def tls_options(settings: Settings) -> dict[str, str]:
    """libpq TLS settings: on AWS the server's certificate and host name are verified
    (``verify-full`` against ``postgres.ca_bundle``); an encrypted but unchecked connection
    (``require``) would accept any server that answers on the mart's address."""
    if settings.profile != "aws" or settings.postgres.host in LOOPBACK:
        return {"sslmode": "prefer"}  # the local server (also the AWS rehearsal's) on loopback
    bundle = settings.postgres.ca_bundle
    if not bundle:
        raise MartError("postgres.ca_bundle is empty: the aws profile verifies the mart's certificate")
    return {"sslmode": "verify-full", "sslrootcert": bundle}


class MartError(UsageError):
    """The mart cannot be reached safely: no CA bundle to verify it with (a configuration error)."""


@contextmanager
def connect(settings: Settings) -> Iterator[Any]:
    import psycopg2

    p = settings.postgres
    conn = psycopg2.connect(
        host=p.host,
        port=p.port,
        user=p.user,
        password=postgres_password(settings),
        dbname=p.mart_db,
        connect_timeout=10,
        **tls_options(settings),
    )
    try:
        yield conn
    finally:
        conn.close()


def ensure_schema(settings: Settings) -> None:
    with connect(settings) as conn, conn.cursor() as cur:
        for name in MART_FILES:
            cur.execute(sqlfiles.path(name, "postgres").read_text())
        conn.commit()


def replace_hour(
    settings: Settings, entity: str, hour: datetime, rows: Sequence[tuple[Any, ...]], run_id: str
) -> int:
    """Upsert hour H's aggregate rows (dimension, value, measures...) in one transaction."""
    table = MART_TABLES[entity]
    measures = "signups" if entity == "users" else "orders, revenue"
    width = 1 if entity == "users" else 2
    with connect(settings) as conn:
        with conn.cursor() as cur:
            cur.execute(f"delete from {table} where hour_start = %s", (hour,))
            if rows:
                from psycopg2.extras import execute_values

                execute_values(
                    cur,
                    f"insert into {table} (hour_start, dimension, value, {measures}, run_id) values %s",
                    [(hour, r[0], r[1], *r[2 : 2 + width], run_id) for r in rows],
                )
        conn.commit()
    return len(rows)


def hour_rows(settings: Settings, entity: str, hour: datetime) -> list[tuple[Any, ...]]:
    table = MART_TABLES[entity]
    measures = "signups" if entity == "users" else "orders, revenue"
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute(
            f"select dimension, value, {measures} from {table} "
            "where hour_start = %s order by dimension, value",
            (hour,),
        )
        return list(cur.fetchall())


def hour_total(settings: Settings, entity: str, hour: datetime) -> int | None:
    for row in hour_rows(settings, entity, hour):
        if row[0] == "total":
            return int(row[2])
    return None
