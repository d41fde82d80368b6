"""``shopstream dashboards``: OpenSearch Dashboards saved objects as code."""

from __future__ import annotations

import os
from pathlib import Path

import click

from shopstream.errors import RuntimeFailure, UsageError
from shopstream.realtime.dashboards import NDJSON_PATH, DashboardsError, import_file, validate


@click.group("dashboards")
def command() -> None:
    """Saved objects (index patterns, visualizations, the dashboard) in logstash/dashboards/.

    \b
    Example:
      shopstream dashboards validate
      shopstream dashboards import --url https://dashboards.example.internal
    """


@command.command("validate")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=NDJSON_PATH,
    show_default=True,
    help="NDJSON file of saved objects.",
)
def validate_cmd(path: Path) -> None:
    """Check ids, references and fields (against logstash/templates/) without a server.

    \b
    Example:
      shopstream dashboards validate
    """
    problems = validate(path)
    if problems:
        for p in problems:
            click.echo(p, err=True)
        raise UsageError(f"{path}: {len(problems)} problem(s)")
    click.echo(f"{path}: valid")


@command.command("import")
@click.option("--url", required=True, help="OpenSearch Dashboards base URL, e.g. https://host/_dashboards.")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=NDJSON_PATH,
    show_default=True,
    help="NDJSON file of saved objects.",
)
@click.option("--tenant", default=None, help="Security tenant (e.g. global) when multi-tenancy is on.")
@click.option(
    "--username",
    default=None,
    help="Basic-auth user; the password is read from $SHOPSTREAM_DASHBOARDS_PASSWORD.",
)
@click.option("--insecure", is_flag=True, help="Do not verify the server's TLS certificate.")
def import_cmd(url: str, path: Path, tenant: str | None, username: str | None, insecure: bool) -> None:
    """Import the saved objects with the saved-objects API (overwrite=true, osd-xsrf header).

    Validates the file first; nothing is sent if it is invalid.

    \b
    Example:
      shopstream dashboards import --url http://127.0.0.1:5601
    """
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url: must start with http:// or https://, got {url!r}")
    problems = validate(path)
    if problems:
        raise UsageError(
            f"{path}: invalid ({problems[0]}; {len(problems)} problem(s)); run `dashboards validate`"
        )
    auth = None
    if username:
        password = os.environ.get("SHOPSTREAM_DASHBOARDS_PASSWORD")
        if password is None:
            raise UsageError("--username needs the password in $SHOPSTREAM_DASHBOARDS_PASSWORD")
        auth = (username, password)
    try:
        res = import_file(url, path, tenant=tenant, auth=auth, verify=not insecure)
    except DashboardsError as exc:
        raise RuntimeFailure(str(exc)) from None
    click.echo(f"imported {res.success_count} saved objects into {url}")
