"""SQL files: every Redshift statement parses; the DDL of both dialects matches the contract."""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp

from shopstream import sqlfiles
from shopstream.contract import load_contract
from shopstream.warehouse_schema import TABLES, columns, postgres_ddl

REDSHIFT_FILES = sorted(p.stem for p in (sqlfiles.SQL_DIR / "redshift").glob("*.sql"))


def _ddl_columns(sql: str, dialect: str) -> dict[str, str]:
    tree = sqlglot.parse_one(sql, read=dialect)
    assert isinstance(tree, exp.Create)
    return {
        c.name: c.args["kind"].sql(dialect=dialect).lower()
        for c in tree.this.expressions
        if isinstance(c, exp.ColumnDef)
    }


@pytest.mark.parametrize("name", REDSHIFT_FILES)
def test_every_redshift_file_parses_as_redshift(name: str) -> None:
    text = sqlfiles.path(name).read_text().replace("{table}", "users_dim")
    trees = sqlglot.parse(text, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    assert trees and all(t is not None for t in trees)


@pytest.mark.parametrize("name", [n for n in REDSHIFT_FILES if not n.endswith(("_dim", "_fact"))])
def test_dml_transpiles_to_postgres_with_psycopg2_params(name: str) -> None:
    stmts = sqlfiles.statements(name, "postgres", table="users_dim")
    assert stmts
    text = " ".join(stmts)
    assert ":hour_start" not in text
    if ":hour_start" in sqlfiles.path(name).read_text():
        assert "%(hour_start)s" in text


@pytest.mark.parametrize("entity", list(TABLES))
def test_redshift_ddl_matches_contract(entity: str) -> None:
    contract = load_contract()
    ddl = _ddl_columns(sqlfiles.path(TABLES[entity]).read_text(), "redshift")
    expected = {c.name: c.redshift_type(contract) for c in columns(entity, contract)}
    norm = lambda t: re.sub(r"timestamp with time zone", "timestamptz", t)  # noqa: E731
    assert {k: norm(v) for k, v in ddl.items()} == {k: norm(v) for k, v in expected.items()}
    # every contract field is present, in contract order, followed by the derived columns
    assert list(ddl)[: len(contract.entity(entity).fields)] == contract.entity(entity).field_names


@pytest.mark.parametrize("entity", list(TABLES))
def test_postgres_ddl_is_derived_from_contract(entity: str) -> None:
    contract = load_contract()
    ddl = _ddl_columns(postgres_ddl(entity), "postgres")
    assert list(ddl) == [c.name for c in columns(entity, contract)]
    for c in columns(entity, contract):
        expected = exp.DataType.build(contract.logical_types[c.logical_type].postgres, dialect="postgres")
        assert ddl[c.name] == expected.sql(dialect="postgres").lower(), c.name


@pytest.mark.parametrize("entity", list(TABLES))
def test_redshift_tables_declare_dist_and_sort_keys(entity: str) -> None:
    text = sqlfiles.path(TABLES[entity]).read_text().lower()
    assert "distkey (user_id)" in text and "sortkey (hour_start" in text


def test_replace_hour_inserts_every_warehouse_column_in_order() -> None:
    for entity, table in TABLES.items():
        [delete, insert] = sqlglot.parse(sqlfiles.path(f"replace_hour_{entity}").read_text(), read="redshift")
        assert isinstance(delete, exp.Delete) and isinstance(insert, exp.Insert)
        select = insert.expression
        assert [c.name for c in select.expressions] == [c.name for c in columns(entity)]
        assert insert.this.name == table
