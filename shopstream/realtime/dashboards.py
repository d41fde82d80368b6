"""OpenSearch Dashboards saved objects (``logstash/dashboards/shopstream.ndjson``): check and import.

* :func:`validate` checks the file on its own and against the index templates: one JSON object per
  line, unique ids, every reference resolves to an object in the file, every field a visualization
  aggregates on exists in the mapping of its index pattern's template (with an aggregatable type),
  every index pattern's title and time field match a template.
* :func:`import_file` POSTs the file to ``<url>/api/saved_objects/_import?overwrite=true`` as
  multipart/form-data with the ``osd-xsrf`` header (the saved-objects import API).
"""

from __future__ import annotations

import fnmatch
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopstream.realtime.spec import LOGSTASH_DIR

NDJSON_PATH = LOGSTASH_DIR / "dashboards" / "shopstream.ndjson"
TEMPLATES_DIR = LOGSTASH_DIR / "templates"
AGGREGATABLE = {
    "keyword",
    "long",
    "integer",
    "short",
    "byte",
    "double",
    "float",
    "date",
    "date_nanos",
    "boolean",
}
NUMERIC = {"long", "integer", "short", "byte", "double", "float"}


class DashboardsError(Exception):
    """The saved objects are invalid, or the import failed (one line)."""


def load_objects(path: Path = NDJSON_PATH) -> list[dict[str, Any]]:
    objs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DashboardsError(f"{path}:{n}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise DashboardsError(f"{path}:{n}: not a JSON object")
        objs.append(obj)
    return objs


def _template_fields(templates_dir: Path) -> list[tuple[list[str], dict[str, Any]]]:
    out = []
    for path in sorted(templates_dir.glob("*.json")):
        if path.name.startswith("ism-"):
            continue
        body = json.loads(path.read_text(encoding="utf-8"))
        out.append((body["index_patterns"], body["template"]["mappings"]["properties"]))
    return out


def _fields_for(title: str, templates: list[tuple[list[str], dict[str, Any]]]) -> dict[str, Any] | None:
    for patterns, props in templates:
        if title in patterns or any(fnmatch.fnmatch(title, p) for p in patterns):
            return props
    return None


def validate(path: Path = NDJSON_PATH, templates_dir: Path = TEMPLATES_DIR) -> list[str]:
    """All problems found (empty list = valid)."""
    problems: list[str] = []
    try:
        objs = load_objects(path)
    except DashboardsError as exc:
        return [str(exc)]
    templates = _template_fields(templates_dir)
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for obj in objs:
        oid, otype = obj.get("id"), obj.get("type")
        if not isinstance(oid, str) or not oid or not isinstance(otype, str):
            problems.append(f"object without id/type: {str(obj)[:80]}")
            continue
        if (otype, oid) in by_key:
            problems.append(f"duplicate id {otype}:{oid}")
        by_key[(otype, oid)] = obj
        if not isinstance(obj.get("attributes"), dict) or not obj["attributes"].get("title"):
            problems.append(f"{otype}:{oid}: attributes.title missing")
    if not any(t == "dashboard" for t, _ in by_key):
        problems.append("no dashboard object")
    for (otype, oid), obj in by_key.items():
        refs = obj.get("references", [])
        names = [r.get("name") for r in refs]
        if len(set(names)) != len(names):
            problems.append(f"{otype}:{oid}: duplicate reference names")
        for ref in refs:
            if (ref.get("type"), ref.get("id")) not in by_key:
                problems.append(
                    f"{otype}:{oid}: reference {ref.get('type')}:{ref.get('id')} does not resolve"
                )
        attrs = obj.get("attributes", {})
        if otype == "index-pattern":
            props = _fields_for(attrs.get("title", ""), templates)
            if props is None:
                problems.append(
                    f"index-pattern:{oid}: title {attrs.get('title')!r} matches no index template"
                )
            elif props.get(attrs.get("timeFieldName"), {}).get("type") not in ("date", "date_nanos"):
                problems.append(
                    f"index-pattern:{oid}: timeFieldName {attrs.get('timeFieldName')!r} is not a date"
                )
        elif otype == "visualization":
            problems.extend(_check_visualization(oid, obj, by_key, templates))
        elif otype == "dashboard":
            problems.extend(_check_dashboard(oid, obj))
    return problems


def _check_visualization(
    oid: str,
    obj: dict[str, Any],
    by_key: dict[tuple[str, str], dict[str, Any]],
    templates: list[tuple[list[str], dict[str, Any]]],
) -> list[str]:
    problems = []
    attrs = obj["attributes"]
    try:
        vis = json.loads(attrs["visState"])
        source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        return [f"visualization:{oid}: visState/searchSourceJSON not valid ({exc})"]
    ref_name = source.get("indexRefName")
    ref = next((r for r in obj.get("references", []) if r.get("name") == ref_name), None)
    if ref is None or ref.get("type") != "index-pattern":
        return [f"visualization:{oid}: indexRefName {ref_name!r} is not an index-pattern reference"]
    pattern = by_key.get(("index-pattern", ref["id"]))
    props = _fields_for(pattern["attributes"]["title"], templates) if pattern else None
    if props is None:
        return [f"visualization:{oid}: its index pattern matches no template"]
    aggs = vis.get("aggs", [])
    if not aggs:
        problems.append(f"visualization:{oid}: no aggregations")
    ids = [a.get("id") for a in aggs]
    if len(set(ids)) != len(ids):
        problems.append(f"visualization:{oid}: duplicate aggregation ids")
    for agg in aggs:
        fname = agg.get("params", {}).get("field")
        if fname is None:
            if agg.get("type") != "count":
                problems.append(f"visualization:{oid}: {agg.get('type')} aggregation without a field")
            continue
        ftype = props.get(fname, {}).get("type")
        if ftype is None:
            problems.append(f"visualization:{oid}: field {fname!r} not in the template mapping")
        elif ftype not in AGGREGATABLE:
            problems.append(f"visualization:{oid}: field {fname!r} ({ftype}) is not aggregatable")
        elif agg.get("type") in ("sum", "avg", "min", "max") and ftype not in NUMERIC:
            problems.append(f"visualization:{oid}: {agg['type']} on non-numeric field {fname!r}")
        elif agg.get("type") == "date_histogram" and ftype not in ("date", "date_nanos"):
            problems.append(f"visualization:{oid}: date_histogram on non-date field {fname!r}")
    return problems


def _check_dashboard(oid: str, obj: dict[str, Any]) -> list[str]:
    try:
        panels = json.loads(obj["attributes"]["panelsJSON"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        return [f"dashboard:{oid}: panelsJSON not valid ({exc})"]
    names = {r.get("name") for r in obj.get("references", [])}
    problems = [
        f"dashboard:{oid}: panel {p.get('panelIndex')} refers to missing reference {p.get('panelRefName')!r}"
        for p in panels
        if p.get("panelRefName") not in names
    ]
    if len({p.get("panelIndex") for p in panels}) != len(panels):
        problems.append(f"dashboard:{oid}: duplicate panelIndex")
    return problems


@dataclass
class ImportResult:
    success: bool
    success_count: int
    errors: list[dict[str, Any]]


def import_file(
    url: str,
    path: Path = NDJSON_PATH,
    *,
    overwrite: bool = True,
    tenant: str | None = None,
    auth: tuple[str, str] | None = None,
    verify: bool = True,
    timeout: float = 60.0,
) -> ImportResult:
    """POST the NDJSON to the saved-objects import API; raises DashboardsError on failure."""
    import requests

    body_file = path.read_bytes()
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/ndjson\r\n\r\n"
        ).encode()
        + body_file
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"osd-xsrf": "true", "Content-Type": f"multipart/form-data; boundary={boundary}"}
    if tenant:
        headers["securitytenant"] = tenant
    endpoint = url.rstrip("/") + "/api/saved_objects/_import"
    try:
        resp = requests.post(
            endpoint,
            params={"overwrite": "true"} if overwrite else None,
            data=body,
            headers=headers,
            auth=auth,
            verify=verify,
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise DashboardsError(f"POST {endpoint} failed: {exc}") from None
    if resp.status_code != 200:
        raise DashboardsError(f"POST {endpoint}: HTTP {resp.status_code}: {resp.text[:300]}")
    try:
        data = resp.json()
    except ValueError:
        raise DashboardsError(f"POST {endpoint}: the answer is not JSON: {resp.text[:200]}") from None
    result = ImportResult(
        bool(data.get("success")), int(data.get("successCount", 0)), data.get("errors") or []
    )
    if not result.success:
        first = result.errors[0] if result.errors else {}
        raise DashboardsError(
            f"import reported {len(result.errors)} error(s); first: {first.get('type')}:{first.get('id')} "
            f"{first.get('error')}"
        )
    return result
