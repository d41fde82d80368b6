"""``shopstream mart ratios``: the mart's headline ratios for a period (what Redash shows)."""

from __future__ import annotations

from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from shopstream.cli import Context, pass_ctx
from shopstream.commands.batch import HOUR
from shopstream.errors import RuntimeFailure


def _ratios(
    ctx: Context, table: str, measure: str, dimension: str, start: datetime, end: datetime
) -> list[tuple]:
    from shopstream import mart

    with mart.connect(ctx.settings) as conn, conn.cursor() as cur:
        cur.execute(
            f"select value, sum({measure}) as n, round(100.0 * sum({measure}) / nullif(sum(sum({measure})) "
            f"over (), 0), 1) from {table} where dimension = %s and hour_start between %s and %s "
            "group by value order by n desc",
            (dimension, start, end),
        )
        return list(cur.fetchall())


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
    """Print sign-ups by gender/region/email domain and orders by category/region/gender, with shares.

    \b
    Example:
      shopstream mart ratios --from 2026-11-23T00 --to 2026-11-23T23
    """
    console = Console()
    views = [
        ("signups_hourly", "signups", "gender"),
        ("signups_hourly", "signups", "region"),
        ("signups_hourly", "signups", "email_domain"),
        ("orders_hourly", "orders", "first_category"),
        ("orders_hourly", "orders", "gender"),
        ("orders_hourly", "orders", "region"),
        ("orders_hourly", "revenue", "total"),
    ]
    try:
        found = False
        for table, measure, dim in views:
            rows = _ratios(ctx, table, measure, dim, start, end)
            found = found or bool(rows)
            t = Table(title=f"{measure} by {dim}", title_justify="left")
            t.add_column(dim)
            t.add_column(measure, justify="right")
            t.add_column("%", justify="right")
            for value, n, pct in rows:
                t.add_row(str(value), f"{int(n):,}", str(pct))
            console.print(t)
    except RuntimeFailure:
        raise
    except Exception as exc:
        raise RuntimeFailure(f"cannot read the mart: {exc}") from None
    if not found:
        raise RuntimeFailure(
            f"the mart has no rows for {start:%Y-%m-%dT%H}..{end:%Y-%m-%dT%H}; run `shopstream batch run`"
        )
