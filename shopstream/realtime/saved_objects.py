"""OpenSearch Dashboards saved objects as code (``logstash/dashboards/shopstream.ndjson``): index
patterns, visualizations and dashboards over the aliases of :mod:`shopstream.realtime.spec`, for the
ratios of the design brief (sign-ups and orders by category, region, gender, revenue).
Checking and importing the file is :mod:`shopstream.realtime.dashboards`.
"""

from __future__ import annotations

import json
from typing import Any

from shopstream.contract import Contract, load_contract
from shopstream.realtime.spec import TIME_FIELD, entity_indexes


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _vis(
    vid: str,
    title: str,
    index_pattern_id: str,
    vis_type: str,
    aggs: list[dict[str, Any]],
    params: dict[str, Any],
) -> dict[str, Any]:
    search_source = {
        "query": {"query": "", "language": "kuery"},
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    return {
        "id": vid,
        "type": "visualization",
        "attributes": {
            "title": title,
            "description": "",
            "version": 1,
            "uiStateJSON": "{}",
            "visState": _json({"title": title, "type": vis_type, "aggs": aggs, "params": params}),
            "kibanaSavedObjectMeta": {"searchSourceJSON": _json(search_source)},
        },
        "references": [
            {
                "id": index_pattern_id,
                "name": "kibanaSavedObjectMeta.searchSourceJSON.index",
                "type": "index-pattern",
            }
        ],
        "migrationVersion": {"visualization": "7.10.0"},
    }


def _count() -> dict[str, Any]:
    return {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}}


def _sum(field_name: str, label: str) -> dict[str, Any]:
    return {
        "id": "1",
        "enabled": True,
        "type": "sum",
        "schema": "metric",
        "params": {"field": field_name, "customLabel": label},
    }


def _terms(field_name: str, size: int, schema: str = "segment", agg_id: str = "2") -> dict[str, Any]:
    return {
        "id": agg_id,
        "enabled": True,
        "type": "terms",
        "schema": schema,
        "params": {
            "field": field_name,
            "size": size,
            "order": "desc",
            "orderBy": "1",
            "otherBucket": False,
            "missingBucket": False,
        },
    }


def _histogram(agg_id: str = "2") -> dict[str, Any]:
    return {
        "id": agg_id,
        "enabled": True,
        "type": "date_histogram",
        "schema": "segment",
        "params": {"field": TIME_FIELD, "interval": "auto", "min_doc_count": 1, "extended_bounds": {}},
    }


_PIE = {
    "type": "pie",
    "addTooltip": True,
    "addLegend": True,
    "legendPosition": "right",
    "isDonut": True,
    "labels": {"show": True, "values": True, "last_level": True, "truncate": 100},
}
_BAR = {"type": "histogram", "addTooltip": True, "addLegend": True, "legendPosition": "right"}
_HBAR = {"type": "horizontal_bar", "addTooltip": True, "addLegend": False, "legendPosition": "right"}
_LINE = {"type": "line", "addTooltip": True, "addLegend": True, "legendPosition": "right"}
_METRIC = {
    "addTooltip": True,
    "addLegend": False,
    "type": "metric",
    "metric": {
        "percentageMode": False,
        "useRanges": False,
        "colorSchema": "Green to Red",
        "metricColorMode": "None",
        "colorsRange": [{"from": 0, "to": 10000}],
        "labels": {"show": True},
        "invertColors": False,
        "style": {"bgFill": "#000", "bgColor": False, "labelColor": False, "subText": "", "fontSize": 48},
    },
}


def dashboard_objects(contract: Contract | None = None) -> list[dict[str, Any]]:
    """OpenSearch Dashboards saved objects: 2 index patterns, the visualizations, 1 dashboard."""
    contract = contract or load_contract()
    idxs = entity_indexes(contract)
    users, orders = idxs["users"], idxs["orders"]
    objs: list[dict[str, Any]] = []
    for idx in (users, orders):
        objs.append(
            {
                "id": f"{idx.base}-pattern",
                "type": "index-pattern",
                "attributes": {"title": idx.pattern, "timeFieldName": TIME_FIELD},
                "references": [],
                "migrationVersion": {"index-pattern": "7.6.0"},
            }
        )
    up, op = f"{users.base}-pattern", f"{orders.base}-pattern"
    regions = len(contract.entity("users").field("address").weights or {})
    domains = len(contract.entity("users").field("email").email_domain_weights or {})
    second = len(contract.entity("orders").field("second_category").allowed_values or ())
    vis = [
        _vis("shopstream-signups-total", "Sign-ups (total)", up, "metric", [_count()], _METRIC),
        _vis(
            "shopstream-signups-over-time", "Sign-ups over time", up, "line", [_count(), _histogram()], _LINE
        ),
        _vis(
            "shopstream-signups-by-gender",
            "Sign-ups by gender",
            up,
            "pie",
            [_count(), _terms("gender", 5)],
            _PIE,
        ),
        _vis(
            "shopstream-signups-by-region",
            "Sign-ups by region",
            up,
            "horizontal_bar",
            [_count(), _terms("address", regions, "segment")],
            _HBAR,
        ),
        _vis(
            "shopstream-signups-by-email-domain",
            "Sign-ups by email domain",
            up,
            "pie",
            [_count(), _terms("email_domain", domains)],
            _PIE,
        ),
        _vis("shopstream-orders-total", "Orders (count)", op, "metric", [_count()], _METRIC),
        _vis("shopstream-orders-over-time", "Orders over time", op, "line", [_count(), _histogram()], _LINE),
        _vis(
            "shopstream-revenue-total",
            "Revenue (KRW)",
            op,
            "metric",
            [_sum("price", "Revenue (KRW)")],
            _METRIC,
        ),
        _vis(
            "shopstream-revenue-over-time",
            "Revenue over time (KRW)",
            op,
            "line",
            [_sum("price", "Revenue (KRW)"), _histogram()],
            _LINE,
        ),
        _vis(
            "shopstream-orders-by-first-category",
            "Orders by category",
            op,
            "pie",
            [_count(), _terms("first_category", 10)],
            _PIE,
        ),
        _vis(
            "shopstream-orders-by-second-category",
            "Orders by sub-category",
            op,
            "histogram",
            [
                _count(),
                _terms("first_category", 10, "segment", "2"),
                _terms("second_category", second, "group", "3"),
            ],
            _BAR,
        ),
        _vis(
            "shopstream-orders-by-region",
            "Orders by region",
            op,
            "horizontal_bar",
            [_count(), _terms("user_region", regions)],
            _HBAR,
        ),
        _vis(
            "shopstream-orders-by-gender",
            "Orders by gender",
            op,
            "pie",
            [_count(), _terms("user_gender", 5)],
            _PIE,
        ),
        _vis(
            "shopstream-revenue-by-gender",
            "Revenue by gender (KRW)",
            op,
            "pie",
            [_sum("price", "Revenue (KRW)"), _terms("user_gender", 5)],
            _PIE,
        ),
    ]
    objs.extend(vis)
    panels, refs = [], []
    for i, v in enumerate(vis):
        panels.append(
            {
                "version": "2.19.0",
                "type": "visualization",
                "gridData": {"x": (i % 3) * 16, "y": (i // 3) * 15, "w": 16, "h": 15, "i": str(i + 1)},
                "panelIndex": str(i + 1),
                "embeddableConfig": {},
                "panelRefName": f"panel_{i}",
            }
        )
        refs.append({"id": v["id"], "name": f"panel_{i}", "type": "visualization"})
    objs.append(
        {
            "id": "shopstream-live",
            "type": "dashboard",
            "attributes": {
                "title": "shopstream: live sign-ups and orders",
                "description": "Ratios by gender, region, email domain and category; revenue (event time).",
                "hits": 0,
                "version": 1,
                "timeRestore": True,
                "timeFrom": "now-24h",
                "timeTo": "now",
                "refreshInterval": {"pause": False, "value": 10000},
                "optionsJSON": _json({"hidePanelTitles": False, "useMargins": True}),
                "panelsJSON": _json(panels),
                "kibanaSavedObjectMeta": {
                    "searchSourceJSON": _json({"query": {"query": "", "language": "kuery"}, "filter": []})
                },
            },
            "references": refs,
            "migrationVersion": {"dashboard": "7.9.3"},
        }
    )
    return objs


def render_dashboards(contract: Contract | None = None) -> str:
    return "".join(_json(o) + "\n" for o in dashboard_objects(contract))
