"""``shopstream lake history | show | count``: look at the lake's Delta tables, now or as of before."""

from __future__ import annotations

import json
from typing import Any

import click

from shopstream import lake, time_travel
from shopstream.cli import Context, pass_ctx
from shopstream.spark import session

TABLE = click.argument("table", metavar="TABLE")
AS_OF = click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="VERSION|TIMESTAMP",
    help="A table version (e.g. 3) or a UTC timestamp (e.g. 2026-11-24T10:00:00Z).",
)
HOUR = click.option(
    "--hour",
    default=None,
    metavar="[DATE]THH",
    help="Only this event hour: 2026-11-24T10 (or 10 for that hour on every date).",
)


@click.group("lake")
def lake_group() -> None:
    """The lake's Delta tables: users, orders (bronze), quarantine, watermarks.

    \b
    Example:
      shopstream lake history users
      shopstream lake count orders --as-of 3
      shopstream lake show users --as-of 2026-11-24T10:00:00Z --hour 2026-11-24T09 --limit 5
    """


def _session(ctx: Context) -> Any:
    return session(
        ctx.settings,
        "shopstream-lake",
        extra={"spark.master": "local[2]"} if ctx.settings.profile == "local" else None,
    )


@lake_group.command("history")
@TABLE
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Newest N versions.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per version.")
@pass_ctx
def history(ctx: Context, table: str, limit: int, as_json: bool) -> None:
    """Delta's history of TABLE, newest first: version, time, operation, rows written.

    \b
    Example:
      shopstream lake history orders --limit 5
    """
    rows = lake.history(ctx.settings, lake.table_path(ctx.settings, table), limit=limit)
    for r in rows:
        m = r["metrics"]
        written = m.get("numTargetRowsInserted", m.get("numOutputRows", ""))
        if as_json:
            click.echo(json.dumps({**r, "timestamp": r["timestamp"].isoformat()}, default=str))
        else:
            click.echo(
                f"{r['version']:>6}  {r['timestamp'].strftime('%Y-%m-%dT%H:%M:%S.%fZ')[:-4]}Z  "
                f"{r['operation']:<18} rows={written or '-'}"
            )


@lake_group.command("show")
@TABLE
@AS_OF
@HOUR
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most N rows.")
@pass_ctx
def show(ctx: Context, table: str, as_of: str | None, hour: str | None, limit: int) -> None:
    """Rows of TABLE as of a version or timestamp (Delta time travel), as JSON lines.

    \b
    Example:
      shopstream lake show users --as-of 0 --limit 3
      shopstream lake show quarantine --hour 2026-11-24T10
    """
    when, h = time_travel.AsOf.parse(as_of), time_travel.parse_hour_filter(hour)
    lake.table_path(ctx.settings, table)  # a bad name fails before Spark starts
    df = time_travel.read_as_of(_session(ctx), ctx.settings, table, when, h)
    sort = [
        c
        for c in ("event_date", "event_hour", "kafka_partition", "kafka_offset", "entity")
        if c in df.columns
    ]
    for row in df.orderBy(*sort).limit(limit).collect():
        click.echo(json.dumps(row.asDict(recursive=True), default=_jsonable, ensure_ascii=False))


@lake_group.command("count")
@TABLE
@AS_OF
@HOUR
@pass_ctx
def count(ctx: Context, table: str, as_of: str | None, hour: str | None) -> None:
    """Number of rows in TABLE (now, or as of a version or timestamp).

    \b
    Example:
      shopstream lake count orders
      shopstream lake count orders --as-of 2026-11-24T10:00:00Z --hour 9
    """
    when, h = time_travel.AsOf.parse(as_of), time_travel.parse_hour_filter(hour)
    lake.table_path(ctx.settings, table)
    click.echo(time_travel.read_as_of(_session(ctx), ctx.settings, table, when, h).count())


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "backslashreplace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


command = lake_group
