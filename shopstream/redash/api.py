"""Create or update the Redash queries, visualizations, dashboards and widgets by name (REST API).

Idempotent: everything is looked up first (queries and dashboards by name, visualizations by name
within their query, widgets by visualization and pinned parameter values within their dashboard);
an object is created only when missing and updated only when a field of its payload differs, so
a second ``apply`` sends no POST at all. Nothing is deleted. Targets Redash 10 (dashboards are
addressed by id); authentication is the user API key (``Authorization: Key ...``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from shopstream.redash import spec

PAGE_SIZE = 250


class RedashError(Exception):
    """The Redash API refused a request or is unreachable (one line)."""


@dataclass
class ApplyResult:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        kinds = ("query", "visualization", "dashboard", "widget")
        part = lambda c: ", ".join(f"{c[k]} {k}" for k in kinds if c[k]) or "nothing"  # noqa: E731
        return f"created {part(self.created)}; updated {part(self.updated)}; unchanged {part(self.unchanged)}"


class Client:
    """A thin JSON client for ``<url>/api/...`` with the user API key."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0, verify: bool = True) -> None:
        import requests

        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Key {api_key}"
        self.timeout = timeout
        self.verify = verify

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        import requests

        endpoint = f"{self.url}/api/{path}"
        try:
            resp = self.session.request(
                method, endpoint, json=body, params=params, timeout=self.timeout, verify=self.verify
            )
        except requests.RequestException as exc:
            raise RedashError(f"{method} {endpoint} failed: {exc}") from None
        if resp.status_code >= 400:
            raise RedashError(f"{method} {endpoint}: HTTP {resp.status_code}: {resp.text[:200]}")
        try:
            return resp.json()
        except ValueError:
            raise RedashError(f"{method} {endpoint}: the answer is not JSON: {resp.text[:200]}") from None

    def pages(self, path: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self.call("GET", path, params={"page": page, "page_size": PAGE_SIZE})
            out.extend(data.get("results", []))
            if not data.get("results") or len(out) >= int(data.get("count", 0)):
                return out
            page += 1


def differs(desired: Any, actual: Any) -> bool:
    """Whether ``actual`` lacks or changes anything ``desired`` sets (extra server fields are fine)."""
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return True
        return any(differs(v, actual.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(actual) != len(desired):
            return True
        return any(differs(d, a) for d, a in zip(desired, actual, strict=True))
    return bool(desired != actual)


def _by_name(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for obj in objects:
        if obj.get("is_archived"):
            continue
        if obj["name"] in out and obj["name"].startswith(spec.NAME_PREFIX):
            raise RedashError(f"several {kind} objects are named {obj['name']!r}; rename or archive one")
        out[obj["name"]] = obj
    return out


def _data_source(client: Client, name: str | None) -> int:
    sources = client.call("GET", "data_sources")
    if name is not None:
        match = [s for s in sources if s.get("name") == name]
        if not match:
            raise RedashError(
                f"no data source named {name!r} (have: {', '.join(s['name'] for s in sources)})"
            )
        return int(match[0]["id"])
    if len(sources) != 1:
        raise RedashError(f"{len(sources)} data sources: pick the mart's with --data-source NAME")
    return int(sources[0]["id"])


def _upsert(
    client: Client,
    result: ApplyResult,
    kind: str,
    existing: dict[str, Any] | None,
    create_path: str,
    update_path: str,
    payload: dict[str, Any],
    create_payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if existing is None:
        obj = client.call("POST", create_path, create_payload or payload)
        result.created[kind] += 1
        if differs(payload, obj):  # e.g. Redash creates queries as drafts: publish it
            obj = client.call("POST", update_path.format(id=obj["id"]), payload)
        return dict(obj)
    if differs(payload, existing):
        result.updated[kind] += 1
        return dict(client.call("POST", update_path.format(id=existing["id"]), payload))
    result.unchanged[kind] += 1
    return existing


def _widget_key(visualization_id: int, options: dict[str, Any]) -> tuple[Any, ...]:
    pinned = sorted(
        (name, str(m.get("value")))
        for name, m in (options.get("parameterMappings") or {}).items()
        if m.get("type") == "static-value"
    )
    return (visualization_id, tuple(pinned))


def apply(client: Client, data_source: str | None = None) -> ApplyResult:
    """Create or update every object of the spec (see the module docstring)."""
    result = ApplyResult()
    ds_id = _data_source(client, data_source)
    existing_queries = _by_name(client.pages("queries"), "query")
    query_ids: dict[str, int] = {}
    vis_ids: dict[tuple[str, str], int] = {}
    qspecs = spec.query_by_file()
    for qs in qspecs.values():
        q = _upsert(
            client,
            result,
            "query",
            existing_queries.get(qs.name),
            "queries",
            "queries/{id}",
            spec.query_payload(qs, ds_id),
        )
        query_ids[qs.file] = int(q["id"])
        full = client.call("GET", f"queries/{q['id']}")
        current = {v["name"]: v for v in full.get("visualizations", [])}
        for vs in (v for v in spec.vis_specs() if v.query == qs.file):
            payload = spec.visualization_payload(vs, int(q["id"]))
            update = {k: v for k, v in payload.items() if k != "query_id"}
            v = _upsert(
                client,
                result,
                "visualization",
                current.get(vs.name),
                "visualizations",
                "visualizations/{id}",
                update,
                create_payload=payload,
            )
            vis_ids[(qs.file, vs.name)] = int(v["id"])
    existing_dashboards = _by_name(client.pages("dashboards"), "dashboard")
    for ds in spec.dashboard_specs():
        payload = spec.dashboard_payload(ds)
        d = _upsert(
            client,
            result,
            "dashboard",
            existing_dashboards.get(ds.name),
            "dashboards",
            "dashboards/{id}",
            payload,
            create_payload={"name": ds.name},
        )
        full = client.call("GET", f"dashboards/{d['id']}")
        widgets = {
            _widget_key(int(w["visualization"]["id"]), w.get("options") or {}): w
            for w in full.get("widgets", [])
            if w.get("visualization")
        }
        for i, ws in enumerate(ds.widgets):
            vid = vis_ids[(ws.query, ws.visualization)]
            wpayload = spec.widget_payload(ws, qspecs[ws.query], i, int(d["id"]), vid)
            key = _widget_key(vid, wpayload["options"])
            update = {k: wpayload[k] for k in ("options", "width", "text")}
            _upsert(
                client,
                result,
                "widget",
                widgets.get(key),
                "widgets",
                "widgets/{id}",
                update,
                create_payload=wpayload,
            )
    return result
