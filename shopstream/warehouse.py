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


class _SqlWarehouse:
    """What both warehouses share: the profile's settings and running one SQL file's statements."""

    dialect: sqlfiles.Dialect

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _open(self) -> Any:
        """A new DB-API connection to the warehouse."""
        raise NotImplementedError

    @contextmanager
    def connect(self) -> Iterator[Any]:
        conn = self._open()
        try:
            yield conn
        finally:
            conn.close()

    def _stage(self, cur: Any, entity: str, stage: str, manifest_uri: str) -> int:
        """Load the manifest's files into the temporary table ``stage``; returns the rows staged."""
        raise NotImplementedError

    def load_hour(self, entity: str, hour: datetime, manifest_uri: str) -> int:
        """Replace the hour's rows with the export's (one transaction: stage, then the dialect's
        ``replace_hour_<entity>.sql``); returns the rows staged."""
        stage = f"stage_{entity}"
        with self.connect() as conn:
            cur = conn.cursor()
            try:
                staged = self._stage(cur, entity, stage, manifest_uri)
                for stmt in sqlfiles.statements(f"replace_hour_{entity}", self.dialect):
                    cur.execute(stmt, _params(hour))
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        return staged

    def query(self, name: str, params: dict[str, Any], **fmt: str) -> list[tuple[Any, ...]]:
        """The rows of the last statement of ``sql/<dialect>/<name>.sql`` (empty if it returns none)."""
        with self.connect() as conn:
            cur = conn.cursor()
            rows: Sequence[Any] = []
            for stmt in sqlfiles.statements(name, self.dialect, **fmt):
                cur.execute(stmt, params)
                rows = cur.fetchall() if cur.description else []
            conn.commit()
            return [tuple(r) for r in rows]


class PostgresWarehouse(_SqlWarehouse):
    """The local stand-in: the ``warehouse`` database of the local PostgreSQL (psycopg2)."""

    dialect: sqlfiles.Dialect = "postgres"

    def _open(self) -> Any:
        import psycopg2  # the PostgreSQL client library loads only when a warehouse is used

        p = self.settings.postgres
        return psycopg2.connect(
            host=p.host,
            port=p.port,
            user=p.user,
            password=postgres_password(self.settings),
            dbname=p.warehouse_db,
            connect_timeout=10,
        )

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

    def _stage(self, cur: Any, entity: str, stage: str, manifest_uri: str) -> int:
        manifest = json.loads(read_bytes(self.settings, manifest_uri))
        cur.execute(postgres_ddl(entity, table=stage, temporary=True) + " on commit drop")
        return sum(
            self._copy_file(cur, stage, entity, read_bytes(self.settings, entry["url"]))
            for entry in manifest["entries"]
        )


class RedshiftWarehouse(_SqlWarehouse):
    """Redshift through redshift-connector with IAM authentication (no password)."""

    dialect: sqlfiles.Dialect = "redshift"

    def _open(self) -> Any:
        import redshift_connector  # only the aws profile uses Redshift

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
        return conn

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

    def _stage(self, cur: Any, entity: str, stage: str, manifest_uri: str) -> int:
        cur.execute(f"create temp table {stage} (like {TABLES[entity]})")
        cur.execute(self.copy_statement(stage, manifest_uri))
        cur.execute(f"select count(*) from {stage}")
        return int(cur.fetchone()[0])


def warehouse(settings: Settings) -> Warehouse:
    if settings.warehouse.engine == "redshift":
        return RedshiftWarehouse(settings)
    return PostgresWarehouse(settings)
