"""The report as one self-contained HTML page (inline CSS and SVG, no script, no request).

A Content-Security-Policy of ``default-src 'none'`` makes the browser refuse any request the
page might try. Numbers sit in table cells with ``data-*`` attributes (entity, dimension, value,
path), so a reader — or the browser test — finds each one.
"""

from __future__ import annotations

import html
import time
from datetime import datetime
from typing import Any

from shopstream.contract import entities
from shopstream.dimensions import MEASURE_LABELS, series, title
from shopstream.ledger import STAGES
from shopstream.report import charts
from shopstream.report.data import PATH_TITLES, PATHS, DimensionView, ReportData
from shopstream.report.stats import Fit

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1180px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px} .sub{color:#666} .empty{padding:12px;background:#fff4e5}
.row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
figure.chart{margin:0} table{border-collapse:collapse;font-size:12px;margin:6px 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right} th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left} .bad{background:#fde0dd} .ok{background:#e5f5e0}
"""
CLUSTERED = {("orders", "gender"), ("orders", "region")}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _ts(value: datetime | None) -> str:
    return "—" if value is None else f"{value:%Y-%m-%d %H:%M:%S} UTC"


def _lag(latest: datetime | None, now: datetime) -> str:
    if latest is None:
        return "—"
    seconds = (now - latest).total_seconds()
    if seconds < 0:
        return "ahead of now"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours // 24}d {hours % 24}h {rest // 60}m" if hours >= 24 else f"{hours}h {rest // 60}m"


def _fit(fit: Fit | None) -> str:
    if fit is None:
        return "no data"
    return (
        f"χ²={fit.statistic:.1f}, df={fit.dof}, p={fit.p_value:.3g}, "
        f"max deviation {fit.max_deviation_pp:.2f} pp"
    )


class _Charts:
    """Renders charts to inline SVG and times them."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def figure(self, name: str, spec: dict[str, Any]) -> str:
        t0 = time.perf_counter()
        svg = charts.to_svg(spec)
        self.seconds += time.perf_counter() - t0
        self.count += 1
        return f'<figure class="chart" data-chart="{_e(name)}">{svg}</figure>'


def _dimension(view: DimensionView, figs: _Charts) -> str:
    d = view.dim
    if not any(view.total(p) for p in PATHS):
        return (
            f'<h3>{_e(d.title)}</h3><p class="empty" data-empty="{_e(d.entity)}/{_e(d.name)}">'
            "No data on either path.</p>"
        )
    head = "".join(f"<th>{_e(PATH_TITLES[p])}</th><th>%</th><th>Δ pp</th>" for p in PATHS)
    body = []
    for value in view.values:
        exp = 100 * view.expected.get(value, 0.0)
        cells = [f"<td>{_e(value)}</td><td>{exp:.2f}</td>"]
        for p in PATHS:
            total, n = view.total(p), view.counts[p].get(value, 0)
            share = 100 * n / total if total else 0.0
            attrs = (
                f'data-path="{p}" data-entity="{_e(d.entity)}" '
                f'data-dimension="{_e(d.name)}" data-value="{_e(value)}"'
            )
            cells.append(f"<td {attrs}>{_n(n)}</td><td>{share:.2f}</td><td>{share - exp:+.2f}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    fits = "".join(
        f'<li data-fit="{p}" data-entity="{_e(d.entity)}" data-dimension="{_e(d.name)}">'
        f"{_e(PATH_TITLES[p])}: {_e(_fit(view.fits[p]))}</li>"
        for p in PATHS
    )
    note = (
        "<p class='sub'>Orders inherit the buyer's value and a buyer places several orders: the test "
        "treats orders as independent, so this p-value is too small (the sampling unit is the user).</p>"
        if (d.entity, d.name) in CLUSTERED
        else ""
    )
    table = f"<table><tr><th>value</th><th>contract %</th>{head}</tr>{''.join(body)}</table>"
    return (
        f'<div class="dim"><h3>{_e(d.title)}</h3><div class="row">'
        f"{figs.figure(f'{d.entity}/{d.name}', charts.dimension_chart(view))}"
        f"<div>{table}<ul>{fits}</ul>{note}</div></div></div>"
    )


def _series(data: ReportData, entity: str, figs: _Charts) -> str:
    parts = []
    for m in series(entity):
        by_path = data.series[(entity, m)]
        label = MEASURE_LABELS[m]
        parts.append(
            figs.figure(
                f"{entity}/{m}-per-hour",
                charts.series_chart(f"{label[:1].upper() + label[1:]} per hour", label, by_path),
            )
        )
    return f'<div class="row">{"".join(parts)}</div>'


def _ledger(data: ReportData, entity: str, figs: _Charts) -> str:
    rows = data.ledger.get(entity, [])
    if not rows:
        return f'<p class="empty" data-empty="{entity}/ledger">No ledger entries for {entity}.</p>'
    order = {s: i for i, s in enumerate(STAGES)}
    rows = sorted(rows, key=lambda r: (r["hour_start"], order.get(r["stage"], 99), r["stage"]))
    stages = sorted({r["stage"] for r in rows}, key=lambda s: (order.get(s, 99), s))
    body = []
    for r in rows:
        diff = r["difference"]
        cls = "" if diff is None else (" class='ok'" if diff == 0 else " class='bad'")
        body.append(
            f"<tr><td>{r['hour_start']:%Y-%m-%d %H:00}</td><td>{_e(r['stage'])}</td>"
            f'<td data-ledger="{entity}/{r["hour_start"]:%Y-%m-%dT%H}/{_e(r["stage"])}">'
            f"{_n(r['row_count'])}</td>"
            f"<td{cls}>{'' if diff is None else f'{diff:+,d}'}</td>"
            f"<td>{'yes' if r['is_correction'] else ''}</td>"
            f"<td>{r['corrections']}</td><td>{r['runs']}</td></tr>"
        )
    table = (
        "<table><tr><th>hour</th><th>stage</th><th>count</th><th>vs bronze</th><th>correction</th>"
        f"<th>corrections</th><th>runs</th></tr>{''.join(body)}</table>"
    )
    chart = figs.figure(f"{entity}/ledger", charts.ledger_chart(entity, rows, stages))
    return f'<div class="row">{chart}<div>{table}</div></div>'


def _freshness(data: ReportData) -> str:
    rows = "".join(
        f"<tr><td>{_e(title(f.entity))}</td><td>{_e(PATH_TITLES[f.path])}</td>"
        f'<td data-fresh="{f.entity}/{f.path}">{_ts(f.latest)}</td>'
        f"<td>{_lag(f.latest, data.generated_at)}</td>"
        f"<td>{_e(f.note)}</td></tr>"
        for f in data.freshness
    )
    return (
        "<h2>Freshness</h2><table><tr><th>entity</th><th>path</th><th>latest event time</th>"
        f"<th>behind now</th><th>what</th></tr>{rows}</table>"
    )


def _totals(data: ReportData) -> str:
    rows = "".join(
        f"<tr><td>{_e(title(e))}</td>"
        + "".join(f'<td data-total="{e}" data-path="{p}">{_n(data.totals(e)[p])}</td>' for p in PATHS)
        + "</tr>"
        for e in entities()
    )
    head = "".join(f"<th>{_e(PATH_TITLES[p])}</th>" for p in PATHS)
    return f"<table><tr><th>events</th>{head}</tr>{rows}</table>"


def render(data: ReportData) -> str:
    """The whole page; chart rendering time lands in ``data.timings['charts']``."""
    figs = _Charts()
    period = f"{data.start:%Y-%m-%d %H:00} to {data.end:%Y-%m-%d %H:59} UTC"
    parts = [
        f"<h1>shopstream: both paths against the contract</h1><p class='sub'>Period {_e(period)} · "
        f"generated {_ts(data.generated_at)} · batch = the mart through sql/redash/, real-time = OpenSearch "
        "through the dashboards' aggregations, contract = conf/contract.yaml's exact weights</p>",
        _totals(data),
        _freshness(data),
    ]
    if not data.has_data():
        parts.append(
            f'<p class="empty" data-empty="period">No data for {_e(period)}: neither the mart nor OpenSearch '
            "holds an event of these hours, and the ledger has no entry.</p>"
        )
    else:
        for entity in entities():
            name = title(entity)
            parts.append(f"<h2>{_e(name)}</h2>")
            if not data.has_data(entity):
                parts.append(
                    f'<p class="empty" data-empty="{entity}">No {_e(name.lower())} in this period.</p>'
                )
                continue
            parts.append(_series(data, entity, figs))
            parts.extend(_dimension(v, figs) for v in data.dimensions if v.dim.entity == entity)
            parts.append(f"<h3>Reconciliation ledger</h3>{_ledger(data, entity, figs)}")
    data.timings["charts"] = figs.seconds
    data.timings["chart_count"] = figs.count
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>shopstream report {_e(period)}</title><style>{CSS}</style></head><body>"
        + "".join(parts)
        + "</body></html>\n"
    )
