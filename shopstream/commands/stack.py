"""``shopstream up | status | down``: the local stack of real engines."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click
from rich.console import Console
from rich.table import Table

from shopstream import jars, stack
from shopstream.cli import Context, pass_ctx
from shopstream.errors import RuntimeFailure, UsageError

ONLY = click.option(
    "--only",
    multiple=True,
    type=click.Choice(list(stack.ENGINES)),
    help="Act on this engine only; repeat for several (default: all).",
)
err = Console(stderr=True)


def _table(rows: list[stack.EngineStatus], title: str) -> Table:
    t = Table(title=title)
    for col in ("engine", "state", "pid", "endpoint", "RSS MB", "note"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r.name,
            "[green]running[/]" if r.running else "[dim]stopped[/]",
            str(r.pid or "-"),
            r.endpoint,
            f"{r.rss_mb:.0f}" if r.rss_mb else "-",
            r.note,
        )
    return t


def _check_jars(ctx: Context, only: tuple[str, ...]) -> None:
    needs_jars = {"kafka", "opensearch"} & set(only or stack.ENGINES)
    if needs_jars and not jars.is_resolved(ctx.settings):
        raise UsageError("engine jars are not resolved (or conf/jars changed); run `shopstream jars` first")


@click.command()
@ONLY
@pass_ctx
def up(ctx: Context, only: tuple[str, ...]) -> None:
    """Start the local stack (idempotent): Kafka, PostgreSQL, OpenSearch, S3 API on 127.0.0.1.

    Engines already running are left alone; a port taken by another process is an error.
    State, logs and PIDs live under the profile's state_dir (default .shopstream/).

    \b
    Example:
      shopstream up
      shopstream up --only kafka --only postgres
    """
    _check_jars(ctx, only)
    try:
        rows = stack.up(ctx.settings, only or None, report=lambda m: err.print(f"[cyan]up[/] {m}"))
    except stack.EngineError as exc:
        raise RuntimeFailure(str(exc)) from None
    Console().print(_table(rows, "shopstream up"))


@click.command()
@ONLY
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of a table.")
@pass_ctx
def status(ctx: Context, only: tuple[str, ...], as_json: bool) -> None:
    """Show each engine: running or not, PID, endpoint, resident memory.

    Exit code 0 when every selected engine is running and answering, 1 otherwise.

    \b
    Example:
      shopstream status --json
    """

    rows = stack.status(ctx.settings, only or None)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        Console().print(_table(rows, "shopstream status"))
    if not all(r.running and r.note == "ready" for r in rows):
        sys.exit(1)


@click.command()
@ONLY
@pass_ctx
def down(ctx: Context, only: tuple[str, ...]) -> None:
    """Stop the engines that `shopstream up` started (by PID). Data stays on disk.

    \b
    Example:
      shopstream down
    """
    stack.down(ctx.settings, only or None, report=lambda m: err.print(f"[cyan]down[/] {m}"))


commands = [up, status, down]
