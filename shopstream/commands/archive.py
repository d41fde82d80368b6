"""``shopstream archive``: the raw archive's Kafka Connect worker (our S3 sink) on the local stack."""

from __future__ import annotations

from datetime import datetime

import click

from shopstream.archive import ArchiveError, local_worker, reader
from shopstream.cli import Context, HourType, pass_ctx
from shopstream.errors import RuntimeFailure


@click.group("archive")
def command() -> None:
    """Raw JSON archive: a Kafka Connect standalone worker with shopstream's S3 sink (connect/).

    Every record's bytes land in the archive bucket as
    <topic>/dt=YYYY-MM-DD/hh=HH/<topic>-<partition>-<first offset>, by the event's created_at hour.

    \b
    Example:
      shopstream archive start
      shopstream archive status
      shopstream archive wait
      shopstream archive count --hour 2026-11-24T10
      shopstream archive stop
    """


@command.command("start")
@click.option(
    "--timeout",
    type=click.FloatRange(min=5),
    default=120.0,
    show_default=True,
    help="Seconds to wait for both connectors to report RUNNING.",
)
@pass_ctx
def start_cmd(ctx: Context, timeout: float) -> None:
    """Start the worker (idempotent) with the users and orders connectors.

    Needs the stack (`shopstream up`) and the plugin built by `shopstream jars`.

    \b
    Example:
      shopstream archive start
    """
    try:
        pid = local_worker.start(ctx.settings, timeout=timeout)
    except ArchiveError as exc:
        raise RuntimeFailure(str(exc)) from None
    click.echo(f"archive worker running (pid {pid}, REST http://127.0.0.1:{local_worker.rest_port()})")


@command.command("status")
@pass_ctx
def status_cmd(ctx: Context) -> None:
    """Show the worker's PID, each connector's state and the dead-letter counts.

    Exit code 1 when the worker is not running or a connector is not RUNNING.

    \b
    Example:
      shopstream archive status
    """
    try:
        st = local_worker.status(ctx.settings)
    except ArchiveError as exc:
        raise RuntimeFailure(str(exc)) from None
    click.echo(f"worker: {'pid ' + str(st.pid) if st.pid else 'not running'}  (log {st.log_file})")
    for name, state in sorted(st.connectors.items()):
        click.echo(f"  {name}: {state}")
    if st.rest_error:
        click.echo(f"  REST API unreachable: {st.rest_error}")
    if st.kafka_error:
        click.echo(f"  dead-letter counts unavailable (Kafka): {st.kafka_error}")
    for topic, n in sorted(st.dead_letters.items()):
        click.echo(f"dead letters {topic}: {n}")
    for topic, n in sorted(st.lag.items()):
        click.echo(f"not yet archived {topic}: {n}")
    healthy = (
        st.pid is not None and st.connectors and all(s.startswith("RUNNING") for s in st.connectors.values())
    )
    if not healthy:
        raise RuntimeFailure("archive is not running healthily")


@command.command("stop")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds to wait after SIGTERM (the worker flushes and commits) before SIGKILL.",
)
@pass_ctx
def stop_cmd(ctx: Context, timeout: float) -> None:
    """Stop the worker by its PID (only the one `archive start` launched).

    \b
    Example:
      shopstream archive stop
    """
    stopped = local_worker.stop(ctx.settings, timeout=timeout)
    click.echo("archive worker stopped" if stopped else "archive worker was not running")


@command.command("wait")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=180.0,
    show_default=True,
    help="Seconds to wait before failing (exit 1) with what is still behind.",
)
@pass_ctx
def wait_cmd(ctx: Context, timeout: float) -> None:
    """Wait until everything in the topics is archived (the connectors' committed offsets).

    The sink commits a flush only after all its uploads succeeded, so when this returns the
    bucket holds every record of the topics (invalid ones are in the dead-letter topics).

    \b
    Example:
      shopstream archive wait --timeout 120
    """
    try:
        local_worker.wait_caught_up(ctx.settings, timeout=timeout)
    except ArchiveError as exc:
        raise RuntimeFailure(str(exc)) from None
    click.echo("archive caught up: every record of the topics is archived")


@command.command("count")
@click.option(
    "--hour", "hour", type=HourType(), required=True, help="The UTC hour to count, e.g. 2026-11-24T10."
)
@pass_ctx
def count_cmd(ctx: Context, hour: datetime) -> None:
    """Count archived events of one hour: objects, records, valid events, duplicates.

    \b
    Example:
      shopstream archive count --hour 2026-11-24T10
    """
    try:
        result = reader.read_hour(ctx.settings, hour)
    except ArchiveError as exc:
        raise RuntimeFailure(str(exc)) from None
    for entity, arch in result.items():
        click.echo(
            f"{entity}: {len(arch.valid_ids)} valid events in {len(arch.objects)} objects "
            f"({arch.lines} records, {arch.invalid} invalid kept raw, {arch.duplicates} duplicates, "
            f"{len(arch.misplaced)} in the wrong hour)"
        )
