"""``shopstream report``: the HTML page of both paths against the contract for a period."""

from __future__ import annotations

import importlib.util
from datetime import datetime
from pathlib import Path

import click

from shopstream.cli import Context, pass_ctx
from shopstream.commands.batch import HOUR
from shopstream.errors import RuntimeFailure, UsageError


@click.command("report")
@click.option(
    "--from", "start", type=HOUR, required=True, help="First UTC hour of the period, e.g. 2026-11-23T00."
)
@click.option("--to", "end", type=HOUR, required=True, help="Last UTC hour of the period (inclusive).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="HTML file to write (default: <state dir>/reports/report-<from>-<to>.html).",
)
@click.option(
    "--screenshot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a PNG of the page's top with headless Chromium (Debian's chromium).",
)
@click.option(
    "--index-prefix", default="", help="Prefix of the OpenSearch index names (as given to `realtime`)."
)
@pass_ctx
def command(
    ctx: Context, start: datetime, end: datetime, out: Path | None, screenshot: Path | None, index_prefix: str
) -> None:
    """Write one self-contained HTML page: each dimension's share in the mart (batch path) and in
    OpenSearch (real-time path) beside the contract's exact weights, with deviations and a
    chi-square p-value; sign-ups, orders and revenue per hour on both paths; the reconciliation
    ledger per hour and stage; the freshness of each path. Opens with no network. Prints its path.

    \b
    Example:
      shopstream report --from 2026-11-23T10 --to 2026-11-23T10
      shopstream report --from 2026-11-23T00 --to 2026-11-23T23 --out /tmp/day.html --screenshot /tmp/day.png
    """
    # the report package needs the report extra (altair, vl-convert, scipy): checked first
    from shopstream import report

    missing = [m for m in ("altair", "vl_convert", "scipy") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"the report needs {', '.join(missing)}: pip install 'shopstream[report]'")
    if end < start:
        raise UsageError(f"--to {end:%Y-%m-%dT%H} is before --from {start:%Y-%m-%dT%H}")
    if out is not None and out.exists() and out.is_dir():
        raise UsageError(f"--out {out}: is a directory")
    try:
        written = report.write(ctx.settings, start, end, out, index_prefix=index_prefix)
    except report.ReportError as exc:
        raise RuntimeFailure(f"report: {exc}") from None
    except OSError as exc:
        raise RuntimeFailure(f"report: cannot write {out}: {exc.strerror or exc}") from None
    t = written.data.timings
    click.echo(
        f"report: {int(t.get('chart_count', 0))} charts, {written.size / 1024:.0f} KiB "
        f"in {written.seconds:.1f} s "
        f"(read {t.get('read', 0):.1f} s, charts {t.get('charts', 0):.1f} s)",
        err=True,
    )
    if screenshot is not None:
        # the browser (selenium + chromium) only when a screenshot is asked for
        from shopstream.report.browser import BrowserError
        from shopstream.report.browser import screenshot as shoot

        try:
            shoot(written.path, screenshot)
        except BrowserError as exc:
            raise RuntimeFailure(f"screenshot: {exc}") from None
        click.echo(f"screenshot: {screenshot}", err=True)
    click.echo(str(written.path))
