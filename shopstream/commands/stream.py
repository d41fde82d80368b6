"""``shopstream stream start | status | stop``: the stream-ingest job as a managed local process."""

from __future__ import annotations

import json

import click

from shopstream import lake, streaming
from shopstream.cli import Context, pass_ctx
from shopstream.durations import parse_duration


@click.group("stream")
def stream() -> None:
    """Kafka -> Delta bronze (exactly once), as a background process on this machine.

    \b
    Example:
      shopstream stream start --trigger 2s
      shopstream stream status
      shopstream stream stop
    """


@stream.command("start")
@click.option(
    "--starting-offsets",
    default=None,
    help="Where a NEW checkpoint starts: earliest, latest or Kafka JSON offsets "
    "[default: the profile's stream.starting_offsets].",
)
@click.option(
    "--max-offsets-per-trigger",
    type=click.IntRange(min=1),
    default=None,
    help="Upper bound of records per micro-batch [default: stream.max_offsets_per_trigger].",
)
@click.option("--trigger", default=None, help="Micro-batch interval, e.g. 2s, 1m [default: stream.trigger].")
@click.option(
    "--lateness",
    default=None,
    help="Allowed event-time lateness before an hour counts as closed [default: stream.lateness].",
)
@click.option(
    "--dedupe-window",
    default=None,
    help="How long (processing time) an event_id is remembered, so later copies are dropped "
    "[default: stream.dedupe_window].",
)
@click.option(
    "--idle-timeout",
    default=None,
    help="Caught up with no new record: the watermark follows the clock minus this; "
    "0 = only data moves it [default: stream.idle_timeout].",
)
@click.option("--topic-prefix", default="", help="Prefix of the contract's topic names.")
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds to wait until the query has started (0 = return at once).",
)
@pass_ctx
def start(
    ctx: Context,
    starting_offsets: str | None,
    max_offsets_per_trigger: int | None,
    trigger: str | None,
    lateness: str | None,
    dedupe_window: str | None,
    idle_timeout: str | None,
    topic_prefix: str,
    wait_seconds: float,
) -> None:
    """Start the stream-ingest job in the background (one instance per state directory).

    Every option defaults to the profile's ``stream:`` section (conf/<profile>.yaml). Logs go to
    <state_dir>/stream/stream.log (one progress line per batch), the PID to
    <state_dir>/stream/stream.pid. A restart resumes from the checkpoint in the lake.

    \b
    Example:
      shopstream stream start --trigger 2s --lateness 5m
    """

    extra: list[str] = []
    for flag, value in (
        ("--trigger", trigger),
        ("--lateness", lateness),
        ("--dedupe-window", dedupe_window),
        ("--idle-timeout", idle_timeout),
    ):
        if value is None:
            continue
        try:
            parse_duration(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=flag) from None
        extra += [flag, value]
    if starting_offsets is not None:
        extra += ["--starting-offsets", starting_offsets]
    if max_offsets_per_trigger is not None:
        extra += ["--max-offsets-per-trigger", str(max_offsets_per_trigger)]
    if topic_prefix:
        extra += ["--topic-prefix", topic_prefix]
    st = streaming.start(ctx.settings, extra, wait_seconds=wait_seconds)
    click.echo(f"stream running (pid {st.pid}); log: {st.log}")


@stream.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
@pass_ctx
def status(ctx: Context, as_json: bool) -> None:
    """Is the stream running? Its last progress line and the watermark per entity.

    Exit code 1 when it is not running.

    \b
    Example:
      shopstream stream status --json
    """
    st = streaming.status(ctx.settings)
    marks = {e: row.get("complete_until") for e, row in lake.watermarks(ctx.settings).items()}
    if as_json:
        click.echo(
            json.dumps(
                {
                    "running": st.running,
                    "pid": st.pid,
                    "started_at": st.started_at,
                    "args": st.args,
                    "last_progress": st.last_progress,
                    "log": str(st.log),
                    "watermarks": {e: t.isoformat() if t else None for e, t in marks.items()},
                }
            )
        )
    else:
        click.echo(
            f"stream: {'running' if st.running else 'stopped'}" + (f" (pid {st.pid})" if st.pid else "")
        )
        click.echo(f"last batch: {st.last_progress or '-'}")
        for e, t in sorted(marks.items()):
            click.echo(f"watermark {e}: {t.isoformat() if t else '-'}")
    if not st.running:
        raise SystemExit(1)


@stream.command("stop")
@click.option(
    "--timeout",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds to wait for the batch in flight to finish.",
)
@click.option(
    "--force", is_flag=True, help="SIGKILL instead of SIGTERM (safe: the batch replays on restart)."
)
@pass_ctx
def stop(ctx: Context, timeout: float, force: bool) -> None:
    """Stop the stream gracefully: SIGTERM, the batch in flight completes, then the query stops.

    \b
    Example:
      shopstream stream stop
    """
    before = streaming.status(ctx.settings)
    streaming.stop(ctx.settings, timeout=timeout, force=force)
    click.echo("stream stopped" if before.running else "stream was not running")


command = stream
