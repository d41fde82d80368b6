"""The report's charts: Vega-Lite specs built with altair, rendered to SVG by vl-convert.

SVG keeps the page self-contained (no chart runtime, no network when it is opened); each chart
is a plain ``<svg>`` whose marks are ``<path>`` elements under ``g.mark-rect`` / ``g.mark-line``
/ ``g.mark-symbol`` groups (what the browser test counts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shopstream.report.data import PATH_TITLES, PATHS, DimensionView

COLORS = {"batch": "#4c78a8", "realtime": "#f58518", "contract": "#9d9d9d"}
_ORDER = [PATH_TITLES[p] for p in (*PATHS, "contract")]
WIDTH = 420


def _color(paths: list[str]) -> Any:
    import altair as alt

    titles = [PATH_TITLES[p] for p in paths]
    return alt.Color(
        "path:N",
        title=None,
        scale=alt.Scale(domain=titles, range=[COLORS[p] for p in paths]),
        legend=alt.Legend(orient="top", columnPadding=24),
        sort=titles,
    )


def dimension_chart(view: DimensionView) -> dict[str, Any]:
    """Share of each value per path beside the contract's share: grouped horizontal bars."""
    import altair as alt

    rows = []
    for value in view.values:
        for path in PATHS:
            total = view.total(path)
            n = view.counts[path].get(value, 0)
            rows.append(
                {"value": value, "path": PATH_TITLES[path], "share": 100 * n / total if total else 0.0}
            )
        rows.append(
            {"value": value, "path": PATH_TITLES["contract"], "share": 100 * view.expected.get(value, 0.0)}
        )
    return (
        alt.Chart(alt.Data(values=rows), title=view.dim.title)
        .mark_bar()
        .encode(
            y=alt.Y("value:N", sort=view.values, title=None, axis=alt.Axis(labelLimit=240)),
            yOffset=alt.YOffset("path:N", sort=_ORDER),
            x=alt.X("share:Q", title="share of the period (%)"),
            color=_color([*PATHS, "contract"]),
            tooltip=["value:N", "path:N", alt.Tooltip("share:Q", format=".2f")],
        )
        .properties(width=WIDTH, height=alt.Step(6), padding={"left": 28, "top": 5, "right": 5, "bottom": 5})
        .to_dict()
    )


def series_chart(title: str, y_title: str, by_path: dict[str, dict[datetime, float]]) -> dict[str, Any]:
    """Per-hour values of both paths: a line with a point per hour."""
    import altair as alt

    rows = [
        {"hour": hour.strftime("%Y-%m-%dT%H:%M:%SZ"), "path": PATH_TITLES[path], "value": value}
        for path in PATHS
        for hour, value in sorted(by_path.get(path, {}).items())
    ]
    return (
        alt.Chart(alt.Data(values=rows), title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X("hour:T", title="hour (UTC)", timeUnit="utcyearmonthdatehours"),
            y=alt.Y("value:Q", title=y_title),
            color=_color(list(PATHS)),
            tooltip=[alt.Tooltip("hour:T", timeUnit="utcyearmonthdatehours"), "path:N", "value:Q"],
        )
        .properties(width=WIDTH, height=180)
        .to_dict()
    )


def ledger_chart(entity: str, rows: list[dict[str, Any]], stages: list[str]) -> dict[str, Any]:
    """Per hour and stage: the latest count as text on a cell coloured by its difference from bronze."""
    import altair as alt

    values = [
        {
            "hour": r["hour_start"].strftime("%m-%d %H:00"),
            "stage": r["stage"],
            "count": int(r["row_count"]),
            "status": "informational"
            if r["difference"] is None
            else ("reconciles" if r["difference"] == 0 else "differs"),
        }
        for r in rows
    ]
    hours = len({v["hour"] for v in values})
    step = max(12, min(70, 1100 // max(hours, 1)))
    base = alt.Chart(alt.Data(values=values), title=f"Reconciliation ledger: {entity}").encode(
        x=alt.X("hour:O", title="hour (UTC)"), y=alt.Y("stage:N", sort=stages, title=None)
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "status:N",
            scale=alt.Scale(
                domain=["reconciles", "differs", "informational"], range=["#a1d99b", "#fc9272", "#deebf7"]
            ),
            legend=alt.Legend(orient="top", title=None),
        )
    )
    layers = [cells]
    if step >= 40:  # room for the count in each cell
        layers.append(base.mark_text(fontSize=10).encode(text=alt.Text("count:Q", format=",")))
    return alt.layer(*layers).properties(width=alt.Step(step), height=alt.Step(22)).to_dict()


def to_svg(spec: dict[str, Any]) -> str:
    import vl_convert as vlc

    svg: str = vlc.vegalite_to_svg(spec)
    return svg
