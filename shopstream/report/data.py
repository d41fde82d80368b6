"""What the report shows, read from the two paths for a period of UTC hours.

* batch path: the mart, through the Redash query files (``shopstream.redash.queries``) — the
  very SQL the Redash dashboards run;
* real-time path: OpenSearch, through the OpenSearch Dashboards visualizations' aggregations
  (``shopstream.realtime.aggregations``);
* expected: the contract's exact weights (``shopstream.dimensions``).

The period is [first hour, last hour] inclusive: the mart's hours whose start lies in it, and the
documents whose event time lies in [first hour, last hour + 1 h).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shopstream import mart
from shopstream.config import Settings
from shopstream.contract import entities, load_contract
from shopstream.dimensions import DIMENSIONS, MEASURES, SERIES_VIS, Dimension
from shopstream.realtime import aggregations
from shopstream.realtime.aggregations import AggregationError
from shopstream.realtime.opensearch import client
from shopstream.redash import queries
from shopstream.redash.queries import QueryError
from shopstream.report.stats import Fit, chi_square

PATHS = ("batch", "realtime")
PATH_TITLES = {"batch": "batch (mart)", "realtime": "real-time (OpenSearch)", "contract": "contract"}


class ReportError(Exception):
    """A path could not be read (one line naming it)."""


@dataclass
class DimensionView:
    dim: Dimension
    expected: dict[str, float]
    counts: dict[str, dict[str, int]]  # path -> value -> count
    fits: dict[str, Fit | None]

    @property
    def values(self) -> list[str]:
        """Contract values by expected share, then anything else observed."""
        extra = sorted({v for c in self.counts.values() for v in c} - set(self.expected))
        return sorted(self.expected, key=lambda v: (-self.expected[v], v)) + extra

    def total(self, path: str) -> int:
        return sum(self.counts[path].values())


@dataclass
class Freshness:
    entity: str
    path: str
    latest: datetime | None  # newest event time the path shows
    note: str = ""


@dataclass
class ReportData:
    start: datetime  # first hour
    end: datetime  # last hour (inclusive)
    generated_at: datetime
    dimensions: list[DimensionView] = field(default_factory=list)
    series: dict[tuple[str, str], dict[str, dict[datetime, float]]] = field(default_factory=dict)
    ledger: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    freshness: list[Freshness] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def totals(self, entity: str) -> dict[str, int]:
        """Events of the period per path (the sum of the per-hour series)."""
        by_path = self.series.get((entity, MEASURES[entity]), {})
        return {p: int(sum(by_path.get(p, {}).values())) for p in PATHS}

    def has_data(self, entity: str | None = None) -> bool:
        which = [entity] if entity else entities()
        return any(any(self.totals(e).values()) or self.ledger.get(e) for e in which)


def _guard(path: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (QueryError, AggregationError) as exc:
        raise ReportError(f"{path} path: {exc}") from None
    except Exception as exc:  # a driver's own error: unreachable database or cluster
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ReportError(f"{path} path: {type(exc).__name__}: {first}") from None


@contextmanager
def _mart_connection(settings: Settings) -> Iterator[Any]:
    """The mart's connection; failing to connect is the batch path's error, in one line."""
    cm = mart.connect(settings)
    conn = _guard("batch", cm.__enter__)
    try:
        yield conn
    finally:
        cm.__exit__(None, None, None)


def collect(
    settings: Settings, start: datetime, end: datetime, *, index_prefix: str = "", now: datetime | None = None
) -> ReportData:
    """Read everything the page shows (see the module docstring)."""
    if end < start:
        raise ValueError("the last hour is before the first")
    contract = load_contract()
    stop = end + timedelta(hours=1)
    data = ReportData(start, end, now or datetime.now(UTC))
    t0 = time.perf_counter()
    os_client = _guard("real-time", lambda: client(settings))

    def os_run(vis_id: str) -> list[aggregations.Row]:
        return list(
            _guard(
                "real-time",
                lambda: aggregations.run(
                    settings, vis_id, start, stop, index_prefix=index_prefix, os_client=os_client
                ),
            )
        )

    with _mart_connection(settings) as conn:

        def sql(name: str, **params: str) -> list[dict[str, Any]]:
            return list(_guard("batch", lambda: queries.run(settings, name, start, end, conn=conn, **params)))

        for dim in DIMENSIONS:
            measure = MEASURES[dim.entity]
            rows = sql(f"{measure}_by_dimension", dimension=dim.name)
            counts = {
                "batch": {str(r["value"]): int(r[measure]) for r in rows},
                "realtime": {"/".join(map(str, r.keys)): r.count for r in os_run(dim.vis_id)},
            }
            expected = dim.expected(contract)
            fits = {p: chi_square(counts[p], expected) for p in PATHS}
            data.dimensions.append(DimensionView(dim, expected, counts, fits))
        batch_series = {e: sql(f"{MEASURES[e]}_over_time") for e in entities()}
        for (entity, measure), vis_id in SERIES_VIS.items():
            data.series[(entity, measure)] = {
                "batch": {r["hour_start"].astimezone(UTC): float(r[measure]) for r in batch_series[entity]},
                "realtime": {r.keys[0]: r.value for r in os_run(vis_id)},
            }
        for entity in entities():
            data.ledger[entity] = sql("ledger", entity=entity)
        fresh = {
            r["entity"]: r for r in _guard("batch", lambda: queries.run(settings, "freshness", conn=conn))
        }
    for entity in entities():
        row = fresh.get(entity)
        data.freshness.append(
            Freshness(
                entity,
                "batch",
                row["data_through"].astimezone(UTC) if row else None,
                f"end of the newest hour in the mart (loaded {row['loaded_at']:%Y-%m-%d %H:%M} UTC)"
                if row
                else "no hour in the mart yet",
            )
        )
        latest = _guard(
            "real-time",
            functools.partial(
                aggregations.latest_event, settings, entity, index_prefix=index_prefix, os_client=os_client
            ),
        )
        data.freshness.append(
            Freshness(
                entity, "realtime", latest, "newest event time indexed" if latest else "no document yet"
            )
        )
    data.timings["read"] = time.perf_counter() - t0
    return data
