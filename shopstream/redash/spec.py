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

from shopstream.dimensions import ENTITY_TITLES, MEASURES, for_entity
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


def query_specs() -> tuple[QuerySpec, ...]:
    entities = tuple(ENTITY_TITLES)
    return (
        QuerySpec(
            "signups_by_dimension",
            f"{NAME_PREFIX}sign-ups by dimension",
            "Sign-ups of the period by one dimension, with each value's share.",
            {"dimension": tuple(d.name for d in for_entity("users"))},
        ),
        QuerySpec(
            "orders_by_dimension",
            f"{NAME_PREFIX}orders by dimension",
            "Orders and revenue of the period by one dimension, with each value's share of orders.",
            {"dimension": (*(d.name for d in for_entity("orders")), "total")},
        ),
        QuerySpec("signups_over_time", f"{NAME_PREFIX}sign-ups per hour", "Sign-ups per UTC hour."),
        QuerySpec("orders_over_time", f"{NAME_PREFIX}orders per hour", "Orders and revenue per UTC hour."),
        QuerySpec(
            "ledger",
            f"{NAME_PREFIX}reconciliation ledger",
            "Latest count per hour and stage, difference from bronze, corrections.",
            {"entity": entities},
        ),
        QuerySpec("freshness", f"{NAME_PREFIX}batch freshness", "Newest hour in the mart per entity."),
    )


def vis_specs() -> tuple[VisSpec, ...]:
    return (
        VisSpec(
            "signups_by_dimension",
            "Sign-ups by value",
            "CHART",
            _chart("column", "value", ("signups",), "category"),
        ),
        VisSpec(
            "orders_by_dimension",
            "Orders by value",
            "CHART",
            _chart("column", "value", ("orders",), "category"),
        ),
        VisSpec(
            "orders_by_dimension",
            "Revenue by value",
            "CHART",
            _chart("pie", "value", ("revenue",), "category"),
        ),
        VisSpec(
            "signups_over_time",
            "Sign-ups per hour",
            "CHART",
            _chart("line", "hour_start", ("signups",), "datetime"),
        ),
        VisSpec(
            "orders_over_time",
            "Orders per hour",
            "CHART",
            _chart("line", "hour_start", ("orders",), "datetime"),
        ),
        VisSpec(
            "orders_over_time",
            "Revenue per hour",
            "CHART",
            _chart("column", "hour_start", ("revenue",), "datetime"),
        ),
        VisSpec("ledger", "Ledger", "TABLE", {}),
        VisSpec("freshness", "Freshness", "TABLE", {}),
    )


def dashboard_specs() -> tuple[DashboardSpec, ...]:
    out = []
    for entity, title in ENTITY_TITLES.items():
        by_dim = f"{MEASURES[entity]}_by_dimension"
        vis_by_dim = "Sign-ups by value" if entity == "users" else "Orders by value"
        widgets: list[WidgetSpec] = []
        if entity == "users":
            widgets.append(WidgetSpec("signups_over_time", "Sign-ups per hour"))
        else:
            widgets += [
                WidgetSpec("orders_over_time", "Orders per hour"),
                WidgetSpec("orders_over_time", "Revenue per hour"),
            ]
        for dim in for_entity(entity):
            widgets.append(WidgetSpec(by_dim, vis_by_dim, {"dimension": dim.name}, dim.title))
        if entity == "orders":
            widgets.append(
                WidgetSpec(by_dim, "Revenue by value", {"dimension": "gender"}, "Revenue by buyer's gender")
            )
        widgets += [
            WidgetSpec("ledger", "Ledger", {"entity": entity}, f"Reconciliation ledger: {entity}"),
            WidgetSpec("freshness", "Freshness"),
        ]
        out.append(DashboardSpec(f"{NAME_PREFIX}{title.lower()}", tuple(widgets)))
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
