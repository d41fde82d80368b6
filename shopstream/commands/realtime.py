"""``shopstream realtime``: the local Kafka -> OpenSearch consumer and its artifacts."""

from __future__ import annotations

import click

from shopstream.cli import Context, pass_ctx
from shopstream.errors import RuntimeFailure, UsageError
from shopstream.realtime import generate
from shopstream.realtime.consumer import run
from shopstream.realtime.opensearch import counts, install_templates
from shopstream.realtime.options import RunOptions
from shopstream.realtime.spec import LOCAL_GROUP_ID


@click.group("realtime", invoke_without_command=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Consumer processes in one consumer group (at most the partitions per topic).",
)
@click.option(
    "--from-beginning",
    is_flag=True,
    help="Reset the group's committed offsets first and re-read every topic from the start (a replay).",
)
@click.option("--max-events", type=click.IntRange(min=1), default=None, help="Stop after this many records.")
@click.option(
    "--idle-exit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Stop once no record arrived for SECONDS (after the first partition assignment).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Records per bulk request.",
)
@click.option(
    "--bulk-concurrency",
    type=click.IntRange(min=1, max=16),
    default=2,
    show_default=True,
    help="Bulk requests in flight per worker (offsets are still committed in batch order).",
)
@click.option("--group-id", default=None, help="Consumer group (default: shopstream-realtime).")
@click.option("--topic-prefix", default="", help="Prefix of the topic names (as given to `produce`).")
@click.option(
    "--index-prefix", default="", help="Prefix of every index, alias and template name (isolation)."
)
@click.option("--no-progress", is_flag=True, help="Do not print the progress line on stderr.")
@click.pass_context
def command(
    click_ctx: click.Context,
    workers: int,
    from_beginning: bool,
    max_events: int | None,
    idle_exit: float | None,
    batch_size: int,
    bulk_concurrency: int,
    group_id: str | None,
    topic_prefix: str,
    index_prefix: str,
    no_progress: bool,
) -> None:
    """Consume the contract's topics into OpenSearch, like the Logstash pipelines do.

    Offsets are committed only after the bulk request succeeded; document _id = event_id, so a
    replay or a restart after a crash never double counts. Invalid records go to
    shopstream-deadletter-<entity>-YYYY.MM with the reason and topic/partition/offset.
    SIGTERM or Ctrl-C finishes the batch in flight, commits and exits.

    \b
    Example:
      shopstream realtime --workers 3 --idle-exit 10
      shopstream realtime --from-beginning --idle-exit 5     # replay: counts stay the same
      shopstream realtime counts
    """
    if click_ctx.invoked_subcommand is not None:
        return

    ctx: Context = click_ctx.find_object(Context)  # type: ignore[assignment]
    opts = RunOptions(
        workers=workers,
        from_beginning=from_beginning,
        max_events=max_events,
        idle_exit=idle_exit,
        batch_size=batch_size,
        bulk_concurrency=bulk_concurrency,
        group_id=group_id or LOCAL_GROUP_ID,
        topic_prefix=topic_prefix,
        index_prefix=index_prefix,
        progress=not no_progress,
    )
    summary = run(ctx.settings, opts)
    click.echo(summary.line())


@command.command("counts")
@click.option("--index-prefix", default="", help="Prefix of the index names (as given to `realtime`).")
@pass_ctx
def counts_cmd(ctx: Context, index_prefix: str) -> None:
    """Print the live document and dead-letter counts per entity.

    \b
    Example:
      shopstream realtime counts
    """

    for key, n in counts(ctx.settings, index_prefix=index_prefix).items():
        click.echo(f"{key}: {n:,}")


@command.group("templates")
def templates_group() -> None:
    """Index templates and ISM policies (logstash/templates/).

    \b
    Example:
      shopstream realtime templates install
    """


@templates_group.command("install")
@pass_ctx
def templates_install_cmd(ctx: Context) -> None:
    """PUT the index templates, and the ISM policies when the cluster has ISM (idempotent).

    \b
    Example:
      shopstream --profile aws realtime templates install
    """

    res = install_templates(ctx.settings)
    click.echo(f"index templates: {', '.join(res.templates)}")
    if res.ism_policies:
        click.echo(f"ISM policies: {', '.join(res.ism_policies)}")
    else:
        click.echo(f"ISM policies: skipped ({res.ism_skipped})")


@command.command("generate")
@click.option("--check", is_flag=True, help="Only report generated files that are stale; exit 1 if any.")
def generate_cmd(check: bool) -> None:
    """Regenerate logstash/ (pipelines, templates, ISM, dashboards, ConfigMap) from the contract.

    \b
    Example:
      shopstream realtime generate
      shopstream realtime generate --check
    """

    if check:
        stale = generate.stale_files()
        if stale:
            raise RuntimeFailure(
                "stale generated files (run `shopstream realtime generate`): " + ", ".join(stale)
            )
        click.echo("logstash/: every generated file is up to date")
        return
    changed = generate.write_all()
    click.echo("wrote " + ", ".join(f"logstash/{p}" for p in changed) if changed else "nothing to regenerate")


__all__ = ["UsageError", "command"]
