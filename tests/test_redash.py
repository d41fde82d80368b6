"""Redash as code: the query files, the payloads built from them, and `apply` against an HTTP server.

Redash itself cannot run on these machines: the payloads are checked structurally (parameters
against placeholders, chart columns against the query's output columns, widgets against the
dashboards grid and the mart's dimensions), and `apply` talks over a real HTTP connection to a
small in-memory stand-in that keeps objects like Redash does and records every call.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from shopstream import sqlfiles
from shopstream.contract import entities
from shopstream.dimensions import DIMENSIONS
from shopstream.redash import api, queries, spec

REPO = Path(__file__).resolve().parent.parent
QUERY_FILES = sorted(p.stem for p in (sqlfiles.SQL_DIR / "redash").glob("*.sql"))


def _output_columns(name: str) -> list[str]:
    """The columns a query file returns: the projection of its `final` CTE (the files end in
    `select * from final`), read by sqlglot with every placeholder replaced by a literal."""
    text = re.sub(r"'\{\{[^}]*\}\}'", "'2026-01-01 00:00'", queries.text(name))
    tree = sqlglot.parse_one(text, read="postgres")
    final = next(c for c in tree.find_all(exp.CTE) if c.alias == "final")
    assert isinstance(tree, exp.Select) and [e.sql() for e in tree.expressions] == ["*"]
    return [e.alias_or_name for e in final.this.expressions]


# --- the query files and the spec ----------------------------------------------------------------
def test_every_query_file_has_one_spec_and_quoted_defined_parameters() -> None:
    specs = spec.query_by_file()
    assert sorted(specs) == QUERY_FILES
    for name, qs in specs.items():
        text = queries.text(name)
        names = queries.parameter_names(text)
        assert [p["name"] for p in spec.parameters(qs)] == names
        queries.to_psycopg2(text)  # raises on an unquoted placeholder
        if "period" in names:
            assert {"period.start", "period.end"} <= set(queries.placeholders(text))


def test_placeholders_become_driver_parameters_and_unquoted_ones_are_refused() -> None:
    sql = "select '%' || '{{ dimension }}' where t >= '{{ period.start }}'"
    assert queries.to_psycopg2(sql) == "select '%%' || %(dimension)s where t >= %(period_start)s"
    with pytest.raises(queries.QueryError, match="must be quoted"):
        queries.to_psycopg2("select {{ dimension }}")


def test_chart_columns_exist_in_their_query_output() -> None:
    for vs in spec.vis_specs():
        cols = _output_columns(vs.query)
        mapped = set(vs.options.get("columnMapping", {}))
        assert mapped <= set(cols), (vs.query, vs.name, mapped - set(cols))
        if vs.type == "CHART":
            roles = list(vs.options["columnMapping"].values())
            assert roles.count("x") == 1 and "y" in roles


def test_dropdown_options_are_the_marts_dimensions() -> None:
    """Every dimension the dashboards pin is one the aggregate SQL writes into the mart."""
    literals = {
        entity: set(re.findall(r"select '([a-z_]+)'", sqlfiles.path(f"aggregate_{f}").read_text()))
        | set(re.findall(r"select '([a-z_]+)' as dimension", sqlfiles.path(f"aggregate_{f}").read_text()))
        for entity, f in (("users", "signups"), ("orders", "orders"))
    }
    for qs in spec.query_specs():
        for param, options in qs.choices.items():
            if param == "dimension":
                entity = "users" if qs.file.startswith("signups") else "orders"
                assert set(options) <= literals[entity], (qs.file, set(options) - literals[entity])
    assert {d.name for d in DIMENSIONS if d.entity == "users"} <= literals["users"]
    assert {d.name for d in DIMENSIONS if d.entity == "orders"} <= literals["orders"]


def test_one_dashboard_per_entity_with_every_dimension_and_a_valid_grid() -> None:
    dashboards = spec.dashboard_specs()
    assert len(dashboards) == len(entities())
    qspecs = spec.query_by_file()
    vis_names = {(v.query, v.name) for v in spec.vis_specs()}
    for entity, d in zip(entities(), dashboards, strict=True):
        pinned = {w.static.get("dimension") for w in d.widgets}
        assert {dim.name for dim in DIMENSIONS if dim.entity == entity} <= pinned
        cells: set[tuple[int, int]] = set()
        for i, w in enumerate(d.widgets):
            assert (w.query, w.visualization) in vis_names
            opts = spec.widget_options(w, qspecs[w.query], i)
            params = {p["name"]: p for p in spec.parameters(qspecs[w.query])}
            assert set(opts["parameterMappings"]) == set(params)
            for name, m in opts["parameterMappings"].items():
                if m["type"] == "static-value":
                    assert m["value"] in params[name]["enumOptions"].split("\n")
                else:
                    assert m["type"] == "dashboard-level" and name == "period"
            pos = opts["position"]
            assert 0 <= pos["col"] and pos["col"] + pos["sizeX"] <= spec.GRID_COLUMNS
            mine = {
                (r, c)
                for r in range(pos["row"], pos["row"] + pos["sizeY"])
                for c in range(pos["col"], pos["col"] + pos["sizeX"])
            }
            assert not cells & mine, f"widget {i} overlaps another"
            cells |= mine


def test_export_holds_every_payload_with_names_for_ids() -> None:
    out = spec.export()
    assert [q["query"] for q in out["queries"]] == [queries.text(q.file) for q in spec.query_specs()]
    names = {q["name"] for q in out["queries"]}
    assert all(v["query_id"] in names for v in out["visualizations"])
    assert sum(len(d["widgets"]) for d in out["dashboards"]) == sum(
        len(d.widgets) for d in spec.dashboard_specs()
    )
    json.dumps(out)


# --- apply against a recording stand-in -----------------------------------------------------------
class FakeRedash:
    """Keeps queries, visualizations, dashboards and widgets like Redash 10 and records each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.auth: set[str] = set()
        self.next_id = 100
        self.queries: dict[int, dict[str, Any]] = {}
        self.vis: dict[int, dict[str, Any]] = {}
        self.dashboards: dict[int, dict[str, Any]] = {}
        self.widgets: dict[int, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = path.split("?")[0].strip("/").split("/")[1:]  # drop "api"
        with self.lock:
            self.calls.append((method, "/".join(p if not p.isdigit() else "{id}" for p in parts)))
            if parts == ["data_sources"]:
                return 200, [
                    {"id": 7, "name": "mart", "type": "pg"},
                    {"id": 8, "name": "other", "type": "pg"},
                ]
            if parts[0] == "queries":
                if len(parts) == 1 and method == "GET":
                    res = list(self.queries.values())
                    return 200, {"count": len(res), "page": 1, "page_size": 250, "results": res}
                if len(parts) == 1:
                    qid = self._id()
                    q = {**body, "id": qid, "is_draft": True, "version": 1}  # Redash creates drafts
                    self.queries[qid] = q
                    table = {
                        "id": self._id(),
                        "query_id": qid,
                        "type": "TABLE",
                        "name": "Table",
                        "options": {},
                    }
                    self.vis[table["id"]] = table
                    return 200, q
                q = self.queries[int(parts[1])]
                if method == "POST":
                    q.update(body)
                    q["version"] += 1
                vis = [v for v in self.vis.values() if v["query_id"] == q["id"]]
                return 200, {**q, "visualizations": vis}
            if parts[0] == "visualizations":
                if len(parts) == 1:
                    v = {**body, "id": self._id()}
                    self.vis[v["id"]] = v
                    return 200, v
                v = self.vis[int(parts[1])]
                v.update(body)
                return 200, v
            if parts[0] == "dashboards":
                if len(parts) == 1 and method == "GET":
                    res = list(self.dashboards.values())
                    return 200, {"count": len(res), "page": 1, "page_size": 250, "results": res}
                if len(parts) == 1:
                    d = {
                        "id": self._id(),
                        "name": body["name"],
                        "slug": body["name"],
                        "is_draft": True,
                        "tags": [],
                    }
                    self.dashboards[d["id"]] = d
                    return 200, d
                d = self.dashboards[int(parts[1])]
                if method == "POST":
                    d.update(body)
                widgets = [
                    {**w, "visualization": self.vis[w["visualization_id"]]}
                    for w in self.widgets.values()
                    if w["dashboard_id"] == d["id"]
                ]
                return 200, {**d, "widgets": widgets}
            if parts[0] == "widgets":
                if len(parts) == 1:
                    w = {**body, "id": self._id()}
                    self.widgets[w["id"]] = w
                    return 200, w
                w = self.widgets[int(parts[1])]
                w.update(body)
                return 200, w
        return 404, {"message": "not found"}


@pytest.fixture
def redash() -> Iterator[tuple[FakeRedash, str]]:
    fake = FakeRedash()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            fake.auth.add(self.headers.get("Authorization", ""))
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, payload = fake.handle(self.command, self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _posts(fake: FakeRedash, since: int = 0) -> list[tuple[str, str]]:
    return [c for c in fake.calls[since:] if c[0] == "POST"]


def test_apply_twice_creates_everything_once_and_then_sends_no_post(redash, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fake, url = redash
    client = api.Client(url, "secret-key")
    first = api.apply(client, "mart")
    n_widgets = sum(len(d.widgets) for d in spec.dashboard_specs())
    assert first.created == {
        "query": len(spec.query_specs()),
        "visualization": len(spec.vis_specs()),
        "dashboard": len(entities()),
        "widget": n_widgets,
    }
    assert fake.auth == {"Key secret-key"}
    assert all(q["data_source_id"] == 7 and q["is_draft"] is False for q in fake.queries.values())
    assert all(not d["is_draft"] for d in fake.dashboards.values())
    assert len(fake.widgets) == n_widgets
    state = json.dumps([fake.queries, fake.vis, fake.dashboards, fake.widgets], sort_keys=True, default=str)

    mark = len(fake.calls)
    second = api.apply(client, "mart")
    assert not second.created and not second.updated
    assert _posts(fake, mark) == []
    assert (
        json.dumps([fake.queries, fake.vis, fake.dashboards, fake.widgets], sort_keys=True, default=str)
        == state
    )

    # a changed query file is one update of that query, nothing else
    original = queries.text
    monkeypatch.setattr(
        queries,
        "text",
        lambda name: original(name) + "\n-- changed\n" if name == "freshness" else original(name),
    )
    mark = len(fake.calls)
    third = api.apply(client, "mart")
    assert third.updated == {"query": 1} and not third.created
    assert _posts(fake, mark) == [("POST", "queries/{id}")]


def test_apply_refuses_an_ambiguous_data_source(redash) -> None:  # type: ignore[no-untyped-def]
    fake, url = redash
    with pytest.raises(api.RedashError, match="--data-source"):
        api.apply(api.Client(url, "k"))
    assert _posts(fake) == []


def test_cli_apply_needs_the_key_in_the_environment_and_export_writes_json(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    res = subprocess.run(
        [sys.executable, "-m", "shopstream", "dashboards", "redash", "apply", "--url", "http://127.0.0.1:9",
         "--api-key-env", "NO_SUCH_VAR_SET"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "NO_SUCH_VAR_SET" in res.stderr
    out = tmp_path / "redash.json"
    res = subprocess.run(
        [sys.executable, "-m", "shopstream", "dashboards", "redash", "export", "--out", str(out)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert json.loads(out.read_text()) == json.loads(json.dumps(spec.export()))
