"""Run a Redash query file (``sql/redash/<name>.sql``) against the mart, outside Redash.

Redash fills ``{{ name }}`` placeholders by text substitution; the files quote them
(``'{{ period.start }}'``), so here each quoted placeholder becomes a psycopg2 parameter and the
value is quoted by the driver, never pasted into the SQL. A period is Redash's ``datetime-range``
parameter: ``period.start`` / ``period.end`` as ``YYYY-MM-DD HH:MM`` (UTC); the files read it as
"every hour whose start lies in [start, end]", so ``--from H1 --to H2`` covers H1..H2 inclusive.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from shopstream import sqlfiles
from shopstream.config import Settings

FOLDER = "redash"
PERIOD = "period"
REDASH_DATETIME = "%Y-%m-%d %H:%M"  # how Redash renders a datetime-range bound
_PLACEHOLDER = re.compile(r"(')?\{\{\s*([A-Za-z_][\w.]*)\s*\}\}(')?")


class QueryError(Exception):
    """A query file is malformed, a parameter is missing, or the mart refused the query (one line)."""


def text(name: str) -> str:
    """The query exactly as Redash gets it."""
    try:
        return sqlfiles.path(name, FOLDER).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise QueryError(str(exc)) from None


def placeholders(sql: str) -> list[str]:
    """The ``{{ ... }}`` names in order of first appearance (``period.start``, ``dimension``...)."""
    return list(dict.fromkeys(m.group(2) for m in _PLACEHOLDER.finditer(sql)))


def parameter_names(sql: str) -> list[str]:
    """Redash parameter names (``period.start`` and ``period.end`` are the parameter ``period``)."""
    return list(dict.fromkeys(p.split(".", 1)[0] for p in placeholders(sql)))


def to_psycopg2(sql: str) -> str:
    """Quoted placeholders become ``%(period_start)s``; a literal ``%`` is escaped."""
    sql = sql.replace("%", "%%")

    def sub(m: re.Match[str]) -> str:
        if not (m.group(1) and m.group(3)):
            raise QueryError(f"placeholder {{{{ {m.group(2)} }}}} must be quoted: '{{{{ {m.group(2)} }}}}'")
        return f"%({m.group(2).replace('.', '_')})s"

    return _PLACEHOLDER.sub(sub, sql)


def period_values(start: datetime, end: datetime) -> dict[str, str]:
    """A datetime-range value as Redash renders it: the first and the last hour (UTC)."""
    return {"period_start": start.strftime(REDASH_DATETIME), "period_end": end.strftime(REDASH_DATETIME)}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    return value


def run(
    settings: Settings,
    name: str,
    start: datetime | None = None,
    end: datetime | None = None,
    conn: Any = None,
    **params: str,
) -> list[dict[str, Any]]:
    """Rows of ``sql/redash/<name>.sql`` (column -> value) for a period and the other parameters."""
    sql = text(name)
    values: dict[str, str] = dict(params)
    if start is not None and end is not None:
        values.update(period_values(start, end))
    needed = {p.replace(".", "_") for p in placeholders(sql)}
    missing = sorted(needed - set(values))
    if missing:
        raise QueryError(f"sql/redash/{name}.sql: no value for {', '.join(missing)}")
    statement = to_psycopg2(sql)
    if conn is None:
        from shopstream import mart

        with mart.connect(settings) as own:
            return _fetch(own, name, statement, values)
    return _fetch(conn, name, statement, values)


def _fetch(conn: Any, name: str, statement: str, values: dict[str, str]) -> list[dict[str, Any]]:
    import psycopg2

    try:
        with conn.cursor() as cur:
            cur.execute(statement, values)
            cols = [d.name for d in cur.description]
            rows = [{c: _plain(v) for c, v in zip(cols, row, strict=True)} for row in cur.fetchall()]
        conn.rollback()  # read-only: end the transaction
    except psycopg2.Error as exc:
        conn.rollback()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QueryError(f"sql/redash/{name}.sql: {first}") from None
    return rows
