"""The Redash dashboards, from one spec: queries (with parameters), visualizations, dashboards.

Every query is a file in ``sql/redash/``; its parameters are derived from the file's
placeholders (``period`` is a ``datetime-range``; ``dimension`` and ``entity`` are dropdowns whose
options come from :mod:`shopstream.dimensions` and the contract). There is one dashboard per
entity; a widget maps ``period`` to the dashboard-level picker and pins ``dimension``/``entity``
to a static value, so one query file serves every chart of its kind.

The payload functions return exactly what the REST API receives (``api.apply`` posts them);
``export`` lays them out for review with names in place of ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shopstream.contract import entities
from shopstream.dimensions import MEASURE_LABELS, MEASURES, for_entity, series, title
from shopstream.redash import queries

NAME_PREFIX = "shopstream: "
TAG = "shopstream"
GRID_COLUMNS = 6  # Redash's dashboard grid


@dataclass(frozen=True)
class QuerySpec:
    file: str  # sql/redash/<file>.sql
    name: str
    description: str
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # dropdown parameters


@dataclass(frozen=True)
class VisSpec:
    query: str  # QuerySpec.file
    name: str
    type: str  # CHART | TABLE
    options: dict[str, Any]


@dataclass(frozen=True)
class WidgetSpec:
    query: str
    visualization: str
    static: dict[str, str] = field(default_factory=dict)  # parameter -> pinned value
    title: str = ""


@dataclass(frozen=True)
class DashboardSpec:
    name: str
    widgets: tuple[WidgetSpec, ...]


def _chart(kind: str, x: str, ys: tuple[str, ...], x_type: str) -> dict[str, Any]:
    return {
        "globalSeriesType": kind,
        "columnMapping": {x: "x", **dict.fromkeys(ys, "y")},
        "xAxis": {"type": x_type, "labels": {"enabled": True}},
        "yAxis": [{"type": "linear"}, {"type": "linear", "opposite": True}],
        "legend": {"enabled": True},
        "series": {"stacking": None},
        "seriesOptions": {},
        "showDataLabels": kind == "pie",
    }


def _by_dimension(entity: str) -> str:
    return f"{MEASURES[entity]}_by_dimension"


def _over_time(entity: str) -> str:
    return f"{MEASURES[entity]}_over_time"


def query_specs() -> tuple[QuerySpec, ...]:
    out = []
    for e in entities():
        label = MEASURE_LABELS[MEASURES[e]]
        what = " and ".join(MEASURE_LABELS[m] for m in series(e))
        measures = what[:1].upper() + what[1:]
        out += [
            QuerySpec(
                _by_dimension(e),
                f"{NAME_PREFIX}{label} by dimension",
                f"{measures} of the period by one dimension, with each value's share.",
                {"dimension": (*(d.name for d in for_entity(e)), "total")},
            ),
            QuerySpec(
                _over_time(e),
                f"{NAME_PREFIX}{label} per hour",
                f"{measures} per UTC hour.",
            ),
        ]
    out += [
        QuerySpec(
            "ledger",
            f"{NAME_PREFIX}reconciliation ledger",
            "Latest count per hour and stage, difference from bronze, corrections.",
            {"entity": tuple(entities())},
        ),
        QuerySpec("freshness", f"{NAME_PREFIX}batch freshness", "Newest hour in the mart per entity."),
    ]
    return tuple(out)


def _vis_name(measure: str, what: str) -> str:
    return f"{MEASURE_LABELS[measure][:1].upper() + MEASURE_LABELS[measure][1:]} {what}"


def vis_specs() -> tuple[VisSpec, ...]:
    out = []
    for e in entities():
        for m in series(e):  # the entity's count first, then e.g. revenue
            kind = "column" if m == MEASURES[e] else "pie"
            out.append(
                VisSpec(
                    _by_dimension(e),
                    _vis_name(m, "by value"),
                    "CHART",
                    _chart(kind, "value", (m,), "category"),
                )
            )
        for m in series(e):
            kind = "line" if m == MEASURES[e] else "column"
            out.append(
                VisSpec(
                    _over_time(e),
                    _vis_name(m, "per hour"),
                    "CHART",
                    _chart(kind, "hour_start", (m,), "datetime"),
                )
            )
    out += [VisSpec("ledger", "Ledger", "TABLE", {}), VisSpec("freshness", "Freshness", "TABLE", {})]
    return tuple(out)


def dashboard_specs() -> tuple[DashboardSpec, ...]:
    out = []
    for e in entities():
        widgets = [WidgetSpec(_over_time(e), _vis_name(m, "per hour")) for m in series(e)]
        widgets += [
            WidgetSpec(_by_dimension(e), _vis_name(MEASURES[e], "by value"), {"dimension": d.name}, d.title)
            for d in for_entity(e)
        ]
        for m in series(e)[1:]:  # further measures (revenue) by the last dimension (gender)
            dim = for_entity(e)[-1]
            widgets.append(
                WidgetSpec(
                    _by_dimension(e), _vis_name(m, "by value"), {"dimension": dim.name}, f"{m} by {dim.name}"
                )
            )
        widgets += [
            WidgetSpec("ledger", "Ledger", {"entity": e}, f"Reconciliation ledger: {e}"),
            WidgetSpec("freshness", "Freshness"),
        ]
        out.append(DashboardSpec(f"{NAME_PREFIX}{title(e).lower()}", tuple(widgets)))
    return tuple(out)


# --- payloads (what the REST API receives) -------------------------------------------------------
def parameters(spec: QuerySpec) -> list[dict[str, Any]]:
    """Redash parameter definitions for every placeholder of the query file."""
    out: list[dict[str, Any]] = []
    for name in queries.parameter_names(queries.text(spec.file)):
        if name == queries.PERIOD:
            out.append(
                {"name": name, "title": "Period (UTC)", "type": "datetime-range", "value": "d_last_24_hours"}
            )
        elif name in spec.choices:
            options = spec.choices[name]
            out.append(
                {
                    "name": name,
                    "title": name.replace("_", " ").capitalize(),
                    "type": "enum",
                    "enumOptions": "\n".join(options),
                    "value": options[0],
                }
            )
        else:
            raise ValueError(f"sql/redash/{spec.file}.sql: parameter {name!r} has no definition in the spec")
    return out


def query_payload(spec: QuerySpec, data_source_id: int | None) -> dict[str, Any]:
    return {
        "name": spec.name,
        "description": spec.description,
        "query": queries.text(spec.file),
        "data_source_id": data_source_id,
        "options": {"parameters": parameters(spec)},
        "tags": [TAG],
        "is_draft": False,
    }


def visualization_payload(spec: VisSpec, query_id: int | None) -> dict[str, Any]:
    return {
        "query_id": query_id,
        "name": spec.name,
        "type": spec.type,
        "description": "",
        "options": spec.options,
    }


def dashboard_payload(spec: DashboardSpec) -> dict[str, Any]:
    return {"name": spec.name, "tags": [TAG], "is_draft": False, "dashboard_filters_enabled": False}


def widget_options(spec: WidgetSpec, qspec: QuerySpec, index: int) -> dict[str, Any]:
    mappings: dict[str, Any] = {}
    for p in parameters(qspec):
        name = p["name"]
        if name in spec.static:
            mappings[name] = {
                "name": name,
                "type": "static-value",
                "mapTo": name,
                "value": spec.static[name],
                "title": spec.title,
            }
        else:
            mappings[name] = {
                "name": name,
                "type": "dashboard-level",
                "mapTo": name,
                "value": None,
                "title": "",
            }
    width = GRID_COLUMNS // 2
    return {
        "isHidden": False,
        "parameterMappings": mappings,
        "position": {
            "col": (index % 2) * width,
            "row": (index // 2) * 8,
            "sizeX": width,
            "sizeY": 8,
            "autoHeight": False,
        },
    }


def widget_payload(
    spec: WidgetSpec, qspec: QuerySpec, index: int, dashboard_id: int | None, visualization_id: int | None
) -> dict[str, Any]:
    return {
        "dashboard_id": dashboard_id,
        "visualization_id": visualization_id,
        "options": widget_options(spec, qspec, index),
        "width": 1,
        "text": "",
    }


def query_by_file() -> dict[str, QuerySpec]:
    return {q.file: q for q in query_specs()}


def export() -> dict[str, Any]:
    """Every payload, ids replaced by the names they will resolve to (for review)."""
    qs = query_by_file()
    return {
        "queries": [query_payload(q, None) for q in qs.values()],
        "visualizations": [
            {**visualization_payload(v, None), "query_id": qs[v.query].name} for v in vis_specs()
        ],
        "dashboards": [
            {
                **dashboard_payload(d),
                "widgets": [
                    {
                        **widget_payload(w, qs[w.query], i, None, None),
                        "dashboard_id": d.name,
                        "visualization_id": f"{qs[w.query].name} / {w.visualization}",
                    }
                    for i, w in enumerate(d.widgets)
                ],
            }
            for d in dashboard_specs()
        ],
    }
