"""``shopstream mart ratios``: the mart's ratios for a period, from the Redash query files."""

from __future__ import annotations

from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from shopstream.cli import Context, pass_ctx
from shopstream.commands.batch import HOUR
from shopstream.errors import RuntimeFailure, UsageError


@click.group("mart")
def command() -> None:
    """The PostgreSQL mart that Redash reads (hourly aggregates per dimension).

    \b
    Example:
      shopstream mart ratios --from 2026-11-23T10 --to 2026-11-23T10
    """


@command.command("ratios")
@click.option("--from", "start", type=HOUR, required=True, help="First UTC hour of the period.")
@click.option("--to", "end", type=HOUR, required=True, help="Last UTC hour of the period (inclusive).")
@pass_ctx
def ratios(ctx: Context, start: datetime, end: datetime) -> None:
    """Print sign-ups and orders by every dimension with their shares, and the period's revenue.

    Runs sql/redash/signups_by_dimension.sql and orders_by_dimension.sql — the queries behind the
    Redash dashboards — so the numbers and their rounding are the dashboards'.

    \b
    Example:
      shopstream mart ratios --from 2026-11-23T00 --to 2026-11-23T23
    """
    from shopstream import mart
    from shopstream.dimensions import DIMENSIONS, MEASURES
    from shopstream.redash import queries

    if end < start:
        raise UsageError(f"--to {end:%Y-%m-%dT%H} is before --from {start:%Y-%m-%dT%H}")
    console = Console()
    found = False
    try:
        with mart.connect(ctx.settings) as conn:
            for dim in DIMENSIONS:
                measure = MEASURES[dim.entity]
                rows = queries.run(
                    ctx.settings, f"{measure}_by_dimension", start, end, conn=conn, dimension=dim.name
                )
                found = found or bool(rows)
                t = Table(title=f"{measure} by {dim.name}", title_justify="left")
                t.add_column(dim.name)
                t.add_column(measure, justify="right")
                t.add_column("%", justify="right")
                for r in rows:
                    t.add_row(str(r["value"]), f"{r[measure]:,}", f"{r['share_pct']:.2f}")
                console.print(t)
            total = queries.run(ctx.settings, "orders_by_dimension", start, end, conn=conn, dimension="total")
    except queries.QueryError as exc:
        raise RuntimeFailure(str(exc)) from None
    except Exception as exc:
        raise RuntimeFailure(f"cannot read the mart: {exc}") from None
    if not found:
        raise RuntimeFailure(
            f"the mart has no rows for {start:%Y-%m-%dT%H}..{end:%Y-%m-%dT%H}; run `shopstream batch run`"
        )
    revenue = sum(int(r["revenue"]) for r in total)
    console.print(f"revenue: {revenue:,} KRW from {sum(int(r['orders']) for r in total):,} orders")
