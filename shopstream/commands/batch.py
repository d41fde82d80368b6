"""``shopstream batch run | backfill`` and ``shopstream reconcile``: the hourly batch by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from shopstream import lake
from shopstream.cli import Context, EntityChoice, HourType, pass_ctx
from shopstream.contract import entities as contract_entities
from shopstream.errors import RuntimeFailure, UsageError
from shopstream.hourly.args import STEPS

err = Console(stderr=True)


class FinishedHourType(HourType):
    """An hour that is not in the future."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        from shopstream.batch import check_hour

        hour = super().convert(value, param, ctx)
        try:
            return check_hour(hour)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


HOUR = FinishedHourType()
ENTITY = click.option("--entity", type=EntityChoice(), default=None, help="Only this entity (default: all).")


def _check_closed(ctx: Context, hour: datetime, entities: list[str]) -> None:
    for entity in entities:
        if not lake.hour_is_closed(ctx.settings, entity, hour):
            mark = lake.watermark(ctx.settings, entity)
            raise UsageError(
                f"hour {hour:%Y-%m-%dT%H} of {entity} is not closed yet (stream watermark: {mark}); "
                "wait for the stream, or pass --ignore-watermark"
            )


def _run(ctx: Context, hour: datetime, entities: list[str], steps: list[str], run_id: str | None) -> None:
    from shopstream import batch  # lazy: sqlglot (~0.5 s) stays out of the CLI's start-up

    try:
        batch.run_hour(
            ctx.settings, hour, entities, steps, run_id, report=lambda m: err.print(m, highlight=False)
        )
    except batch.ReconcileError as exc:
        raise RuntimeFailure(str(exc)) from None
    except batch.BatchError as exc:
        raise RuntimeFailure(str(exc)) from None


@click.group("batch")
def batch_group() -> None:
    """The hourly batch: compact → export → load warehouse → aggregate mart → reconcile.

    \b
    Example:
      shopstream batch run --hour 2026-11-24T10
      shopstream batch backfill --from 2026-11-24T00 --to 2026-11-24T23
    """


def _run_id(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from shopstream.batch import check_run_id

    if value is None:
        return None
    try:
        return check_run_id(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@batch_group.command("run")
@click.option("--hour", type=HOUR, required=True, help="UTC hour to process, e.g. 2026-11-24T10.")
@ENTITY
@click.option(
    "--step",
    "steps",
    multiple=True,
    type=click.Choice(STEPS),
    help="Run only this step (repeatable; default: all, in order). Steps of one run share --run-id.",
)
@click.option(
    "--run-id",
    default=None,
    callback=_run_id,
    help="Run id (default: generated; letters, digits, _ . -). Reuse it to run later steps of a run.",
)
@click.option(
    "--ignore-watermark", is_flag=True, help="Process the hour even if the stream has not closed it yet."
)
@pass_ctx
def run_cmd(
    ctx: Context,
    hour: datetime,
    entity: str | None,
    steps: tuple[str, ...],
    run_id: str | None,
    ignore_watermark: bool,
) -> None:
    """Process one hour: every step, idempotent (rerunning gives the same warehouse rows and mart).

    Before the hour, recent hours whose bronze changed after they were processed (late data)
    are processed again and marked as corrections in the ledger.

    \b
    Example:
      shopstream batch run --hour 2026-11-24T10
      shopstream batch run --hour 2026-11-24T10 --entity orders --step export --run-id r1
    """
    entities = [entity] if entity else contract_entities()
    if not ignore_watermark:
        _check_closed(ctx, hour, entities)
    chosen = [s for s in STEPS if s in steps] if steps else list(STEPS)
    if steps and not run_id and chosen[0] != "compact" and chosen[0] != "export":
        raise UsageError("--step load/aggregate/reconcile alone needs the --run-id of the export they follow")
    _run(ctx, hour, entities, chosen, run_id)


@batch_group.command("backfill")
@click.option("--from", "start", type=HOUR, required=True, help="First UTC hour, e.g. 2026-11-24T00.")
@click.option("--to", "end", type=HOUR, required=True, help="Last UTC hour (inclusive).")
@ENTITY
@click.option("--ignore-watermark", is_flag=True, help="Process hours the stream has not closed yet.")
@pass_ctx
def backfill_cmd(
    ctx: Context, start: datetime, end: datetime, entity: str | None, ignore_watermark: bool
) -> None:
    """Process every hour in [--from, --to], oldest first; safe to rerun (each hour is replaced).

    \b
    Example:
      shopstream batch backfill --from 2026-11-24T00 --to 2026-11-24T05 --entity users
    """
    from shopstream.batch import hours_between  # lazy: sqlglot (~0.5 s) stays out of the CLI's start-up

    if end < start:
        raise UsageError("--to is before --from")
    entities = [entity] if entity else contract_entities()
    hours = list(hours_between(start, end))
    for i, hour in enumerate(hours, 1):
        if not ignore_watermark:
            _check_closed(ctx, hour, entities)
        err.print(f"[bold]hour {i}/{len(hours)}: {hour:%Y-%m-%dT%H}[/]")
        _run(ctx, hour, entities, list(STEPS), None)


@click.command("reconcile")
@click.option("--hour", type=HOUR, required=True, help="UTC hour to check, e.g. 2026-11-24T10.")
@ENTITY
@pass_ctx
def reconcile_cmd(ctx: Context, hour: datetime, entity: str | None) -> None:
    """Print the ledger of one hour (latest count per stage) and exit 1 on any difference.

    \b
    Example:
      shopstream reconcile --hour 2026-11-24T10
    """
    from shopstream import ledger  # lazy: sqlglot (~0.5 s) stays out of the CLI's start-up

    try:
        entries = ledger.latest(ctx.settings, hour, entity)
    except Exception as exc:
        raise RuntimeFailure(f"cannot read the ledger: {exc}") from None
    t = Table(title=f"ledger {hour:%Y-%m-%dT%H} UTC")
    for col in ("entity", "stage", "rows", "checksum", "run", "correction", "recorded"):
        t.add_column(col)
    for e in entries:
        t.add_row(
            e.entity,
            e.stage,
            str(e.row_count),
            str(e.checksum if e.checksum is not None else "-"),
            e.run_id,
            "yes" if e.is_correction else "",
            f"{e.recorded_at:%Y-%m-%d %H:%M:%S}" if e.recorded_at else "",
        )
    Console().print(t)
    if not entries:
        raise RuntimeFailure(f"no ledger entries for {hour:%Y-%m-%dT%H}; run `shopstream batch run` first")
    problems = ledger.differences(entries, ledger.compared_stages(ctx.settings))
    for p in problems:
        err.print(f"[red]difference[/] {p}")
    if problems:
        raise RuntimeFailure(f"hour {hour:%Y-%m-%dT%H} does not reconcile ({len(problems)} difference(s))")
    err.print("[green]reconciled: zero difference[/]")


commands = [batch_group, reconcile_cmd]
