"""``shopstream topics create|describe``: the contract's Kafka topics."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from shopstream.cli import pass_ctx
from shopstream.kafka_admin import describe_topics, ensure_topics, topic_specs

_common = [
    click.option(
        "--bootstrap-servers", metavar="HOST:PORT[,...]", help="Kafka brokers [default: from the profile]."
    ),
    click.option("--topic-prefix", default="", help="Prefix for the contract's topic names (e.g. 'test1.')."),
    click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for Kafka."),
]


def _with_common(fn: Any) -> Any:
    for opt in reversed(_common):
        fn = opt(fn)
    return fn


@click.group("topics")
def command() -> None:
    """Create or inspect the Kafka topics of conf/contract.yaml.

    Partitions, replication factor, retention and min.insync.replicas come from the profile
    (kafka.*); in the aws profile min.insync.replicas must be >= 2.

    \b
    Example:
      shopstream topics create
      shopstream topics describe --json
    """


@command.command("create")
@_with_common
@pass_ctx
def create(ctx: Any, bootstrap_servers: str | None, topic_prefix: str, timeout: float) -> None:
    """Create the contract's missing topics (existing ones are left unchanged).

    \b
    Example:
      shopstream topics create --topic-prefix dev.
    """

    settings = ctx.settings
    specs = topic_specs(settings, topic_prefix=topic_prefix)
    created = ensure_topics(
        settings, topic_prefix=topic_prefix, bootstrap_servers=bootstrap_servers, timeout=timeout
    )
    for spec in specs:
        state = "created" if spec.name in created else "exists"
        click.echo(
            f"{spec.name}\t{state}\tpartitions={spec.partitions}\treplication={spec.replication_factor}"
        )


@command.command("describe")
@_with_common
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_ctx
def describe(
    ctx: Any, bootstrap_servers: str | None, topic_prefix: str, timeout: float, as_json: bool
) -> None:
    """Show each contract topic on the cluster and its drift from the profile.

    \b
    Example:
      shopstream topics describe
    """

    states = describe_topics(
        ctx.settings, topic_prefix=topic_prefix, bootstrap_servers=bootstrap_servers, timeout=timeout
    )
    if as_json:
        out = [
            {
                "entity": s.spec.entity,
                "topic": s.spec.name,
                "exists": s.exists,
                "partitions": s.partitions,
                "replication_factor": s.replication_factor,
                "config": s.config,
                "expected": {
                    "partitions": s.spec.partitions,
                    "replication_factor": s.spec.replication_factor,
                    "config": s.spec.config,
                },
                "drift": s.drift,
            }
            for s in states
        ]
        click.echo(json.dumps(out, indent=2))
        return

    table = Table(title="contract topics")
    for col in ("entity", "topic", "partitions", "replication", "retention.ms", "min.insync", "drift"):
        table.add_column(col)
    for s in states:
        table.add_row(
            s.spec.entity,
            s.spec.name,
            str(s.partitions) if s.exists else "-",
            str(s.replication_factor) if s.exists else "-",
            s.config.get("retention.ms", "-"),
            s.config.get("min.insync.replicas", "-"),
            ", ".join(s.drift) or "none",
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(table)
