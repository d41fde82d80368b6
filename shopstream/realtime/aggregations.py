"""Run an OpenSearch Dashboards visualization's aggregations for a period, outside Dashboards.

The report reads the real-time path through the very visualizations the OpenSearch dashboards
show (``saved_objects.dashboard_objects()``, rendered to ``logstash/dashboards/shopstream.ndjson``): a
visualization's ``visState`` aggregations (one metric — count, sum, min, max, avg — and nested
bucket aggregations — terms, date_histogram) become one search with the same fields and sizes,
filtered on the index pattern's time field as the dashboard's time picker does.

Only what the saved objects use is translated; anything else raises :class:`AggregationError`.
A terms aggregation whose size would drop values (``sum_other_doc_count > 0``) is an error, not a
silently shorter chart.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shopstream.realtime.saved_objects import dashboard_objects
from shopstream.realtime.spec import TIME_FIELD, entity_indexes

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from shopstream.config import Settings

METRICS = ("count", "sum", "min", "max", "avg")
BUCKETS = ("terms", "date_histogram")


class AggregationError(Exception):
    """A visualization cannot be translated, or OpenSearch refused the search (one line)."""


@dataclass(frozen=True)
class Row:
    """One innermost bucket: its keys from the outer to the inner aggregation, and the metric."""

    keys: tuple[Any, ...]
    value: float
    count: int


@functools.lru_cache(maxsize=1)
def _objects() -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in dashboard_objects()}


def visualization(vis_id: str) -> tuple[dict[str, Any], str]:
    """The saved visualization's visState and its index pattern's title."""
    objs = _objects()
    obj = objs.get(vis_id)
    if obj is None or obj["type"] != "visualization":
        raise AggregationError(f"no visualization {vis_id!r} in the OpenSearch dashboards")
    ref = obj["references"][0]["id"]
    return json.loads(obj["attributes"]["visState"]), objs[ref]["attributes"]["title"]


def search_body(vis_state: dict[str, Any], start: datetime, end: datetime, interval: str) -> dict[str, Any]:
    """The search a visualization runs for event times in [start, end) (``interval``: histograms)."""
    aggs = [a for a in vis_state.get("aggs", []) if a.get("enabled", True)]
    metrics = [a for a in aggs if a.get("schema") == "metric"]
    if len(metrics) != 1 or metrics[0]["type"] not in METRICS:
        raise AggregationError(f"{vis_state.get('title')}: one metric of {METRICS} expected")
    metric = metrics[0]
    buckets = [a for a in aggs if a.get("schema") != "metric"]
    inner: dict[str, Any] = {}
    if metric["type"] != "count":
        inner = {"m": {metric["type"]: {"field": metric["params"]["field"]}}}
    for agg in reversed(buckets):
        p = agg.get("params", {})
        if agg["type"] == "terms":
            order_key = "_count" if metric["type"] == "count" else "m"
            body: dict[str, Any] = {
                "terms": {"field": p["field"], "size": int(p["size"]), "order": {order_key: "desc"}}
            }
        elif agg["type"] == "date_histogram":
            body = {"date_histogram": {"field": p["field"], "fixed_interval": interval, "min_doc_count": 1}}
        else:
            raise AggregationError(f"{vis_state.get('title')}: bucket aggregation {agg['type']!r}")
        if inner:
            body["aggs"] = inner
        inner = {"b": body}
    return {
        "size": 0,
        "track_total_hits": True,
        "query": {"range": {TIME_FIELD: {"gte": _iso(start), "lt": _iso(end)}}},
        "aggs": inner,
    }


def _iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError("period bounds must be timezone-aware (UTC)")
    return ts.astimezone(UTC).isoformat()


def _key(bucket: dict[str, Any], histogram: bool) -> Any:
    if histogram:
        return datetime.fromtimestamp(bucket["key"] / 1000, tz=UTC)
    return bucket["key"]


def _rows(node: dict[str, Any], kinds: list[str], keys: tuple[Any, ...], metric: str) -> list[Row]:
    if not kinds:
        count = int(node["doc_count"])
        value = float(count) if metric == "count" else float(node["m"]["value"] or 0)
        return [Row(keys, value, count)]
    agg = node["b"]
    if agg.get("sum_other_doc_count", 0):
        raise AggregationError(f"a terms aggregation dropped {agg['sum_other_doc_count']} documents (size)")
    out: list[Row] = []
    for bucket in agg["buckets"]:
        key = _key(bucket, kinds[0] == "date_histogram")
        out.extend(_rows(bucket, kinds[1:], (*keys, key), metric))
    return out


def run(
    settings: Settings,
    vis_id: str,
    start: datetime,
    end: datetime,
    *,
    interval: str = "1h",
    index_prefix: str = "",
    os_client: OpenSearch | None = None,
) -> list[Row]:
    """The rows of visualization ``vis_id`` for event times in [start, end). Missing indices: []."""
    from opensearchpy import OpenSearchException

    from shopstream.realtime.opensearch import client

    vis_state, pattern = visualization(vis_id)
    body = search_body(vis_state, start, end, interval)
    metric = next(a["type"] for a in vis_state["aggs"] if a.get("schema") == "metric")
    kinds = [a["type"] for a in vis_state["aggs"] if a.get("schema") != "metric"]
    c = os_client or client(settings)
    try:
        res = c.search(
            index=index_prefix + pattern, body=body, allow_no_indices=True, ignore_unavailable=True
        )
    except OpenSearchException as exc:
        raise AggregationError(f"{vis_id}: search at {settings.opensearch.url} failed: {exc}") from None
    if "aggregations" not in res:  # no index matched
        return []
    return _rows(res["aggregations"], kinds, (), metric)


def latest_event(
    settings: Settings, entity: str, *, index_prefix: str = "", os_client: OpenSearch | None = None
) -> datetime | None:
    """The newest event time (``created_at``) of ``entity`` in OpenSearch (None: no document)."""
    from opensearchpy import OpenSearchException

    from shopstream.realtime.opensearch import client

    c = os_client or client(settings)
    pattern = index_prefix + entity_indexes()[entity].pattern
    try:
        res = c.search(
            index=pattern,
            body={"size": 0, "aggs": {"latest": {"max": {"field": TIME_FIELD}}}},
            allow_no_indices=True,
            ignore_unavailable=True,
        )
    except OpenSearchException as exc:
        raise AggregationError(
            f"latest {entity}: search at {settings.opensearch.url} failed: {exc}"
        ) from None
    value = res.get("aggregations", {}).get("latest", {}).get("value")
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)
