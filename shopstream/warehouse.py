"""The warehouse behind one small interface: Redshift on AWS, a PostgreSQL stand-in locally.

Loading hour H of an entity = COPY the export's manifest into a temporary stage table, then
replace hour H of the target table from it (``sql/redshift/replace_hour_<entity>.sql``) — all
in ONE transaction, so a load killed half-way leaves the previous state and a rerun gives the
same rows. Redshift SQL is the source; PostgreSQL runs it transpiled by sqlglot.

Why two drivers: ``redshift-connector`` cannot talk to PostgreSQL (it sends Redshift-only
startup parameters), so the stand-in uses psycopg2 and Redshift uses redshift-connector.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

from shopstream import sqlfiles
from shopstream.config import Settings
from shopstream.credentials import postgres_password
from shopstream.storage import read_bytes
from shopstream.warehouse_schema import TABLES, column_names, postgres_ddl


class Warehouse(Protocol):
    dialect: sqlfiles.Dialect

    def ensure_schema(self) -> None: ...

    def load_hour(self, entity: str, hour: datetime, manifest_uri: str) -> int: ...

    def query(self, name: str, params: dict[str, Any], **fmt: str) -> list[tuple[Any, ...]]: ...


def _params(hour: datetime) -> dict[str, Any]:
    return {"hour_start": hour}


class PostgresWarehouse:
    """The local stand-in: the ``warehouse`` database of the local PostgreSQL (psycopg2)."""

    dialect: sqlfiles.Dialect = "postgres"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @contextmanager
    def connect(self) -> Iterator[Any]:
        import psycopg2

        p = self.settings.postgres
        conn = psycopg2.connect(
            host=p.host,
            port=p.port,
            user=p.user,
            password=postgres_password(self.settings),
            dbname=p.warehouse_db,
            connect_timeout=10,
        )
        try:
            yield conn
        finally:
            conn.close()

    def ensure_schema(self) -> None:
        with self.connect() as conn, conn.cursor() as cur:
            for entity in TABLES:
                cur.execute(postgres_ddl(entity))
                cur.execute(
                    f"create index if not exists {TABLES[entity]}_hour on {TABLES[entity]} (hour_start)"
                )
            conn.commit()

    def _copy_file(self, cur: Any, table: str, entity: str, data: bytes) -> int:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        tbl = pq.read_table(io.BytesIO(data)).select(column_names(entity))
        buf = io.BytesIO()
        pacsv.write_csv(tbl, buf, pacsv.WriteOptions(include_header=False))
        buf.seek(0)
        cur.copy_expert(f"copy {table} ({', '.join(column_names(entity))}) from stdin with (format csv)", buf)
        return int(tbl.num_rows)

    def load_hour(self, entity: str, hour: datetime, manifest_uri: str) -> int:
        manifest = json.loads(read_bytes(self.settings, manifest_uri))
        stage = f"stage_{entity}"
        with self.connect() as conn:
            try:
                with conn.cursor() as cur:
                    cur.execute(postgres_ddl(entity, table=stage, temporary=True) + " on commit drop")
                    staged = 0
                    for entry in manifest["entries"]:
                        staged += self._copy_file(cur, stage, entity, read_bytes(self.settings, entry["url"]))
                    for stmt in sqlfiles.statements(f"replace_hour_{entity}", "postgres"):
                        cur.execute(stmt, _params(hour))
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        return staged

    def query(self, name: str, params: dict[str, Any], **fmt: str) -> list[tuple[Any, ...]]:
        with self.connect() as conn, conn.cursor() as cur:
            rows: list[tuple[Any, ...]] = []
            for stmt in sqlfiles.statements(name, "postgres", **fmt):
                cur.execute(stmt, params)
                rows = list(cur.fetchall()) if cur.description else []
            conn.commit()
            return rows


class RedshiftWarehouse:
    """Redshift through redshift-connector with IAM authentication (no password)."""

    dialect: sqlfiles.Dialect = "redshift"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @contextmanager
    def connect(self) -> Iterator[Any]:
        import redshift_connector

        w = self.settings.warehouse
        conn = redshift_connector.connect(
            iam=True,
            host=w.redshift_host,
            port=w.redshift_port,
            database=w.redshift_database,
            cluster_identifier=w.redshift_cluster_id,
            db_user=w.redshift_db_user,
            region=self.settings.s3.region,
            ssl=True,
            # Certificate chain (redshift-connector's bundled Redshift CA) and host name checked.
            sslmode="verify-full",
        )
        conn.paramstyle = "named"  # type: ignore[attr-defined]
        try:
            yield conn
        finally:
            conn.close()

    def ensure_schema(self) -> None:
        with self.connect() as conn:
            cur = conn.cursor()
            for entity in TABLES:
                for stmt in sqlfiles.statements(TABLES[entity], "redshift"):
                    cur.execute(stmt)
            conn.commit()

    def copy_statement(self, stage: str, manifest_uri: str) -> str:
        url = manifest_uri.replace("s3a://", "s3://")
        role = self.settings.warehouse.copy_iam_role_arn
        return f"copy {stage} from '{url}' iam_role '{role}' format as parquet manifest"

    def load_hour(self, entity: str, hour: datetime, manifest_uri: str) -> int:
        stage = f"stage_{entity}"
        with self.connect() as conn:
            cur = conn.cursor()
            try:
                cur.execute(f"create temp table {stage} (like {TABLES[entity]})")
                cur.execute(self.copy_statement(stage, manifest_uri))
                cur.execute(f"select count(*) from {stage}")
                staged = int(cur.fetchone()[0])
                for stmt in sqlfiles.statements(f"replace_hour_{entity}", "redshift"):
                    cur.execute(stmt, _params(hour))
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        return staged

    def query(self, name: str, params: dict[str, Any], **fmt: str) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            cur = conn.cursor()
            rows: Sequence[Any] = []
            for stmt in sqlfiles.statements(name, "redshift", **fmt):
                cur.execute(stmt, params)
                rows = cur.fetchall() if cur.description else []
            conn.commit()
            return [tuple(r) for r in rows]


def warehouse(settings: Settings) -> Warehouse:
    if settings.warehouse.engine == "redshift":
        return RedshiftWarehouse(settings)
    return PostgresWarehouse(settings)
