"""The report's parts that need no engine: the chi-square fit, the contract's expected shares, the
translation of the dashboards' aggregations, and the page for a period without data."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from shopstream.contract import load_contract
from shopstream.dimensions import DIMENSIONS, SERIES_VIS
from shopstream.realtime import aggregations
from shopstream.report import page
from shopstream.report.data import PATHS, DimensionView, Freshness, ReportData
from shopstream.report.stats import chi_square

HOUR = datetime(2026, 11, 23, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("observed", "expected", "statistic", "dof", "p_value"),
    [
        # df = 2: the survival function is exp(-x/2)
        ({"a": 120, "b": 90, "c": 90}, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, 6.0, 2, math.exp(-3)),
        # df = 1: P(chi2 > 4) = P(|Z| > 2) = erfc(2 / sqrt 2)
        ({"Men": 60, "Women": 40}, {"Men": 0.5, "Women": 0.5}, 4.0, 1, math.erfc(2 / math.sqrt(2))),
        # df = 4: exp(-x/2) * (1 + x/2)
        ({str(i): n for i, n in enumerate((120, 80, 100, 100, 100))}, {str(i): 0.2 for i in range(5)}, 8.0, 4, 5 * math.exp(-4)),
        # an exact fit
        ({"Men": 600, "Women": 400}, {"Men": 0.6, "Women": 0.4}, 0.0, 1, 1.0),
    ],
)  # fmt: skip
def test_chi_square_matches_closed_forms(observed, expected, statistic, dof, p_value) -> None:  # type: ignore[no-untyped-def]
    fit = chi_square(observed, expected)
    assert fit is not None
    assert fit.statistic == pytest.approx(statistic)
    assert fit.dof == dof
    assert fit.p_value == pytest.approx(p_value, rel=1e-9)


def test_chi_square_edge_cases() -> None:
    assert chi_square({}, {"a": 1.0}) is None
    outside = chi_square({"a": 5, "x": 1}, {"a": 1.0, "b": 0.0})
    assert outside is not None and math.isinf(outside.statistic) and outside.p_value == 0.0
    missing = chi_square({"a": 10}, {"a": 0.5, "b": 0.5})  # a contract value never observed counts
    assert missing is not None and missing.statistic == pytest.approx(10.0)
    assert missing.max_deviation_pp == pytest.approx(50.0)


def test_expected_shares_come_from_the_contract() -> None:
    contract = load_contract()
    for dim in DIMENSIONS:
        shares = dim.expected(contract)
        assert sum(shares.values()) == pytest.approx(1.0), dim.name
    by = {d.name: d for d in DIMENSIONS if d.entity == "orders"}
    second = by["second_category"].expected(contract)
    f = contract.entity("orders").field("second_category")
    assert len(second) == sum(len(t) for t in (f.weights_given or {}).values())
    first = contract.weights("orders", "first_category")
    for key, share in second.items():
        outer, inner = key.split("/")
        w = contract.weights("orders", "second_category", outer)
        assert share == pytest.approx(first[outer] / 100 * w[inner] / 100)


def test_dashboard_visualizations_translate_to_searches() -> None:
    vis, pattern = aggregations.visualization("shopstream-orders-by-second-category")
    assert pattern == "shopstream-orders-*"
    body = aggregations.search_body(vis, HOUR, HOUR + timedelta(hours=2), "1h")
    outer = body["aggs"]["b"]
    assert outer["terms"]["field"] == "first_category"
    assert outer["aggs"]["b"]["terms"]["field"] == "second_category"
    sizes = {a["params"]["field"]: a["params"]["size"] for a in vis["aggs"] if a["type"] == "terms"}
    assert outer["terms"]["size"] == sizes["first_category"]
    assert body["query"]["range"]["created_at"] == {
        "gte": HOUR.isoformat(),
        "lt": (HOUR + timedelta(hours=2)).isoformat(),
    }
    rev, _ = aggregations.visualization(SERIES_VIS[("orders", "revenue")])
    hist = aggregations.search_body(rev, HOUR, HOUR + timedelta(hours=1), "1h")["aggs"]["b"]
    assert hist["date_histogram"]["fixed_interval"] == "1h"
    assert hist["aggs"] == {"m": {"sum": {"field": "price"}}}
    for dim in DIMENSIONS:  # every dimension's view exists and slices its entity's index
        _, pattern = aggregations.visualization(dim.vis_id)
        assert pattern.startswith(f"shopstream-{dim.entity}-")


def test_a_truncated_terms_aggregation_is_an_error() -> None:
    res = {"b": {"sum_other_doc_count": 3, "buckets": [{"key": "Men", "doc_count": 5}]}}
    with pytest.raises(aggregations.AggregationError, match="dropped 3"):
        aggregations._rows(res, ["terms"], (), "count")


def _empty(now: datetime) -> ReportData:
    contract = load_contract()
    data = ReportData(HOUR, HOUR + timedelta(hours=23), now)
    for dim in DIMENSIONS:
        counts: dict[str, dict[str, int]] = {p: {} for p in PATHS}
        data.dimensions.append(DimensionView(dim, dim.expected(contract), counts, dict.fromkeys(PATHS)))
    for key in SERIES_VIS:
        data.series[key] = {p: {} for p in PATHS}
    data.ledger = {"users": [], "orders": []}
    data.freshness = [Freshness("users", "batch", None, "no hour in the mart yet")]
    return data


def test_a_period_without_data_says_so_and_draws_nothing() -> None:
    html = page.render(_empty(HOUR + timedelta(days=2)))
    assert 'data-empty="period"' in html and "No data for" in html
    assert "<figure" not in html and "<svg" not in html
    assert "<script" not in html and "default-src 'none'" in html


def test_an_entity_without_data_says_so_while_the_other_is_drawn() -> None:
    data = _empty(HOUR + timedelta(days=2))
    data.series[("users", "signups")]["batch"] = {HOUR: 3.0}
    for view in data.dimensions:
        if view.dim.entity == "users":
            view.counts["batch"] = {next(iter(view.expected)): 3}
    html = page.render(data)
    assert 'data-empty="orders"' in html and 'data-empty="users"' not in html
    assert html.count('<figure class="chart"') == 1 + sum(d.entity == "users" for d in DIMENSIONS)


def test_an_unreachable_mart_is_one_line_and_writes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "never.html"
    env = {**os.environ, "SHOPSTREAM_PG_PASSWORD": "x", "SHOPSTREAM_POSTGRES__PORT": "1"}
    res = subprocess.run(
        [sys.executable, "-m", "shopstream", "report", "--from", "2026-11-23T10", "--to", "2026-11-23T10",
         "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent, timeout=120,
        check=False,
    )  # fmt: skip
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "batch path" in res.stderr and not out.exists() and list(tmp_path.iterdir()) == []
