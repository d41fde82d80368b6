"""``shopstream produce``: simulated users and orders into Kafka (see producer/)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from producer.clock import parse_timestamp
from producer.options import OptionError, ProduceOptions
from producer.runner import ProducerRun
from shopstream.cli import pass_ctx
from shopstream.durations import parse_seconds
from shopstream.errors import RuntimeFailure, UsageError


def _duration(flag: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_seconds(value)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def _producer_config(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--producer-config: expected KEY=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


class _Progress:
    """A one-line live view of a run's counters (rendered by rich on stderr)."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats
        self._last = (time.monotonic(), 0)
        self._rate = 0.0

    def __rich__(self) -> Any:
        st = self.stats
        now, acked = time.monotonic(), sum(st.acked)
        t0, a0 = self._last
        if now - t0 >= 0.5:
            self._rate = (acked - a0) / (now - t0)
            self._last = (now, acked)
        failed = sum(st.failed)
        text = Text()
        text.append("producing ", style="bold")
        text.append(f"{sum(st.produced):,} sent · ")
        text.append(f"{acked:,} acked", style="green")
        text.append(" · ")
        text.append(f"{failed:,} failed", style="red" if failed else "")
        text.append(f" · {st.queued():,} queued · {self._rate:,.0f} acked/s · {st.elapsed:,.1f}s")
        if st.last_client_error:
            text.append(f" · last client error: {st.last_client_error}", style="yellow")
        return text


def _summary_table(summary: Any) -> Any:
    table = Table(title=f"shopstream produce · seed {summary.seed} · stopped by {summary.stop_reason}")
    for col in ("records", "produced", "acked", "failed"):
        table.add_column(col, justify="left" if col == "records" else "right")
    p, a, f = summary.produced, summary.acked, summary.failed
    rows: list[tuple[str, int, int, int]] = [
        (f"users ({summary.topics['users']})", p["users"], a["users"], f["users"]),
        (f"orders ({summary.topics['orders']})", p["orders"], a["orders"], f["orders"]),
    ]
    if p["duplicates"]:
        rows.append(("duplicates (chaos)", p["duplicates"], a["duplicates"], f["duplicates"]))
    for kind, n in p["malformed"].items():
        if n:
            rows.append((f"malformed: {kind} (chaos)", n, a["malformed"][kind], f["malformed"][kind]))
    rows.append(("total", p["total"], a["total"], f["total"]))
    for name, *nums in rows:
        table.add_row(name, *(f"{n:,}" for n in nums), end_section=name.startswith("orders"))
    late = summary.late
    notes = [
        f"{summary.elapsed_seconds:,.2f}s",
        f"{summary.acked_per_second:,.0f} acked/s",
        f"user_id {summary.ids['first_user_id']}..{summary.ids['last_user_id']}",
        f"order_id {summary.ids['first_order_id']}..{summary.ids['last_order_id']}",
    ]
    if late["users"] or late["orders"]:
        notes.append(f"late (chaos): {late['users']:,} users, {late['orders']:,} orders")
    if summary.unconfirmed:
        notes.append(f"unconfirmed at exit: {summary.unconfirmed:,}")
    table.caption = " · ".join(notes)
    return table


@click.command("produce")
@click.option(
    "--count",
    type=int,
    default=None,
    help="Stop after this many valid events (users + orders) [default: run until Ctrl-C/SIGTERM].",
)
@click.option("--duration", metavar="DURATION", help="Stop after this long (e.g. 30s, 5m, 1h30m).")
@click.option("--rate", type=float, default=None, help="Valid events per second [default: unlimited].")
@click.option(
    "--orders-per-user",
    type=float,
    default=None,
    help="Average orders per new user in each loop [default: 3.0]. Excludes --ratio-order-user.",
)
@click.option(
    "--seed", type=int, default=None, help="Seed: same seed, same events and event_ids [default: random]."
)
@click.option(
    "--bootstrap-servers", metavar="HOST:PORT[,...]", help="Kafka brokers [default: from the profile]."
)
@click.option(
    "--initial-users", type=int, default=100, show_default=True, help="Sign-ups sent before the first loop."
)
@click.option(
    "--users-per-loop", type=int, default=10, show_default=True, help="Sign-ups per loop (original knob)."
)
@click.option(
    "--ratio-order-user",
    type=float,
    default=None,
    help="Original knob: orders per loop = max(1, users so far x RATIO). Excludes --orders-per-user.",
)
@click.option(
    "--inter-message-second",
    type=float,
    default=0.0,
    show_default=True,
    help="Sleep after every event (original).",
)
@click.option(
    "--inter-iter-second",
    type=float,
    default=0.0,
    show_default=True,
    help="Sleep after every loop (original).",
)
@click.option(
    "--malformed",
    type=float,
    default=0.0,
    show_default=True,
    metavar="RATIO",
    help="Chaos: extra malformed records.",
)
@click.option(
    "--duplicates",
    type=float,
    default=0.0,
    show_default=True,
    metavar="RATIO",
    help="Chaos: re-sent recent records.",
)
@click.option(
    "--late", type=float, default=0.0, show_default=True, metavar="RATIO", help="Chaos: events made late."
)
@click.option(
    "--late-by", default="2h", show_default=True, metavar="DURATION", help="How much earlier a late event is."
)
@click.option(
    "--start-time",
    metavar="TIMESTAMP",
    help="Simulated event time: event i at START + i x --time-step (ISO-8601) [default: wall clock].",
)
@click.option(
    "--time-step", default="1ms", show_default=True, metavar="DURATION", help="Step of --start-time."
)
@click.option("--first-user-id", type=int, default=1, show_default=True, help="user_id of the first sign-up.")
@click.option("--first-order-id", type=int, default=1, show_default=True, help="order_id of the first order.")
@click.option("--topic-prefix", default="", help="Prefix for the contract's topic names (e.g. 'test1.').")
@click.option(
    "--create-topics/--no-create-topics",
    default=True,
    show_default=True,
    help="Create missing topics from the contract before producing.",
)
@click.option(
    "-X",
    "--producer-config",
    "producer_config",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra librdkafka setting (repeatable), e.g. -X linger.ms=50.",
)
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False),
    help="Also write the summary as JSON here ('-': stdout).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Live progress on stderr [default: when stderr is a terminal].",
)
@click.option(
    "--pool-size", type=int, default=4096, show_default=True, help="Faker values per pool (names, ...)."
)
@click.option(
    "--flush-timeout", default="130s", show_default=True, metavar="DURATION", help="Max wait at exit."
)
@pass_ctx
def command(ctx: Any, **kw: Any) -> None:
    """Send simulated users and orders to Kafka: exact weights, keyed, idempotent.

    Users and orders follow conf/contract.yaml (exact weights of the original system). Every
    event has an event_id, a UTC event time and a schema_version; keys are user_id / order_id.
    Delivery is idempotent (acks=all); Ctrl-C or SIGTERM stop and flush. Exit code 1 if any
    record failed delivery, 2 for a bad flag (nothing is sent).

    \b
    Example:
      shopstream produce --count 100000 --seed 42
      shopstream produce --duration 10m --rate 200
      shopstream produce --count 20000 --malformed 0.01 --duplicates 0.01 \\
          --late 0.02 --late-by 2h --summary-json /tmp/chaos.json
    """

    start_time_us = None
    if kw["start_time"] is not None:
        try:
            start_time_us = parse_timestamp(kw["start_time"])
        except ValueError as exc:
            raise UsageError(f"--start-time: {exc}") from None
    summary_path = kw["summary_json"]
    if summary_path and summary_path != "-":
        parent = Path(summary_path).resolve().parent
        if not parent.is_dir():
            raise UsageError(f"--summary-json: directory {parent} does not exist")
    options = ProduceOptions(
        count=kw["count"],
        duration=_duration("--duration", kw["duration"]),
        rate=kw["rate"],
        orders_per_user=kw["orders_per_user"],
        ratio_order_user=kw["ratio_order_user"],
        initial_users=kw["initial_users"],
        users_per_loop=kw["users_per_loop"],
        inter_message_second=kw["inter_message_second"],
        inter_iter_second=kw["inter_iter_second"],
        seed=kw["seed"],
        malformed=kw["malformed"],
        duplicates=kw["duplicates"],
        late=kw["late"],
        late_by=_duration("--late-by", kw["late_by"]) or 0.0,
        start_time_us=start_time_us,
        time_step=_duration("--time-step", kw["time_step"]) or 0.0,
        first_user_id=kw["first_user_id"],
        first_order_id=kw["first_order_id"],
        topic_prefix=kw["topic_prefix"],
        pool_size=kw["pool_size"],
        producer_config=_producer_config(kw["producer_config"]),
        create_topics=kw["create_topics"],
        flush_timeout=_duration("--flush-timeout", kw["flush_timeout"]) or 0.0,
    )
    try:
        run = ProducerRun(options, ctx.settings, bootstrap_servers=kw["bootstrap_servers"])
    except OptionError as exc:
        raise UsageError(str(exc)) from None
    run.prepare()

    err_console = Console(stderr=True)
    show_progress = kw["progress"] if kw["progress"] is not None else sys.stderr.isatty()
    if show_progress:
        with Live(_Progress(run.stats), console=err_console, refresh_per_second=4, transient=True):
            summary = run.run()
    else:
        summary = run.run()

    if summary_path == "-":
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)
        console.print(_summary_table(summary))
        if summary_path:
            summary.write_json(summary_path)
    if not summary.ok:
        failed = summary.failed["total"] + summary.unconfirmed
        errors = (
            ", ".join(f"{k} x{v}" for k, v in summary.delivery_errors.items()) or "not confirmed before exit"
        )
        raise RuntimeFailure(
            f"{failed:,} of {summary.produced['total']:,} records failed delivery ({errors})"
        )
