"""SQL files under ``sql/``: Redshift is the source dialect; PostgreSQL gets a sqlglot transpile.

Parameters are written ``:name`` in the files (Redshift style) and become psycopg2's
``%(name)s`` when transpiled to PostgreSQL. Functions sqlglot does not map between the two are
rewritten here explicitly (``strtol(x, 16)``), so the file stays the one source of the logic.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import sqlglot
from sqlglot import exp

from shopstream.resources import sql_path

SQL_DIR = sql_path()
Dialect = Literal["redshift", "postgres"]


def path(name: str, folder: str = "redshift") -> Path:
    p = SQL_DIR / folder / f"{name}.sql"
    if not p.exists():
        raise FileNotFoundError(f"no SQL file {p.relative_to(SQL_DIR.parent)}")
    return p


def _strtol_to_postgres(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.FromBase):  # Redshift's strtol(x, base)
        arg, base = node.this, node.expression
        if base.name != "16":
            raise ValueError("only strtol(x, 16) is supported")
        # ('x' || lpad(x, 16, '0'))::bit(64)::bigint — hex text to bigint in PostgreSQL
        padded = exp.func("lpad", arg, exp.Literal.number(16), exp.Literal.string("0"))
        hexbits = exp.Cast(
            this=exp.paren(exp.DPipe(this=exp.Literal.string("x"), expression=padded)),
            to=exp.DataType.build("bit(64)", dialect="postgres"),
        )
        return exp.Cast(this=hexbits, to=exp.DataType.build("bigint"))
    return node


@functools.lru_cache(maxsize=64)
def statements(
    name: str, dialect: Dialect = "postgres", folder: str = "redshift", **fmt: str
) -> tuple[str, ...]:
    """The statements of ``sql/<folder>/<name>.sql`` for ``dialect`` (``fmt`` fills ``{table}``)."""
    text = path(name, folder).read_text()
    if fmt:
        text = text.format(**fmt)
    source = "redshift" if folder == "redshift" else "postgres"
    trees = [t for t in sqlglot.parse(text, read=source) if t is not None]
    if dialect == source:
        return tuple(text_stmt.strip() for text_stmt in _split(text))
    out = []
    for tree in trees:
        if dialect == "postgres":
            tree = tree.transform(_strtol_to_postgres)
        out.append(tree.sql(dialect=dialect, comments=False))
    return tuple(out)


def _split(text: str) -> list[str]:
    """Split a file into statements with sqlglot's tokenizer (semicolons in strings are safe)."""
    return [
        t.sql(dialect="redshift", comments=False)
        for t in sqlglot.parse(text, read="redshift")
        if t is not None
    ]
