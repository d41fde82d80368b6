"""``shopstream dashboards``: OpenSearch Dashboards saved objects as code."""

from __future__ import annotations

import json
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


FILE = click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=NDJSON_PATH,
    show_default=True,
    help="NDJSON file of saved objects.",
)


@command.command("validate")
@FILE
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
@FILE
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


@command.group("redash")
def redash_group() -> None:
    """Redash dashboards as code: the queries in sql/redash/, their charts, one dashboard per entity.

    \b
    Example:
      shopstream dashboards redash export --out redash.json
      REDASH_API_KEY=... shopstream dashboards redash apply --url https://redash.example.internal
    """


@redash_group.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="JSON file to write (default: standard output).",
)
def redash_export_cmd(out: Path | None) -> None:
    """Write every payload `apply` would send (queries, visualizations, dashboards, widgets).

    Ids appear as the names they resolve to, so the file can be reviewed and diffed.

    \b
    Example:
      shopstream dashboards redash export --out /tmp/redash.json
    """
    from shopstream.redash import spec

    text = json.dumps(spec.export(), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    if out.is_dir():
        raise UsageError(f"--out {out}: is a directory")
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}")


@redash_group.command("apply")
@click.option("--url", required=True, help="Redash base URL, e.g. https://redash.example.internal.")
@click.option(
    "--api-key-env",
    default="REDASH_API_KEY",
    show_default=True,
    help="Environment variable holding the Redash user API key (never a flag: it would land in history).",
)
@click.option(
    "--data-source", default=None, help="Name of the mart's data source (needed when Redash has several)."
)
@click.option("--insecure", is_flag=True, help="Do not verify the server's TLS certificate.")
def redash_apply_cmd(url: str, api_key_env: str, data_source: str | None, insecure: bool) -> None:
    """Create or update the queries, visualizations, dashboards and widgets by name (idempotent).

    A second run changes nothing and sends no POST; nothing is ever deleted.

    \b
    Example:
      REDASH_API_KEY=... shopstream dashboards redash apply --url http://127.0.0.1:5000 --data-source mart
    """
    from shopstream.redash.api import Client, RedashError, apply

    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url: must start with http:// or https://, got {url!r}")
    key = os.environ.get(api_key_env)
    if not key:
        raise UsageError(f"--api-key-env: ${api_key_env} is not set (the Redash user API key)")
    try:
        result = apply(Client(url, key, verify=not insecure), data_source)
    except RedashError as exc:
        raise RuntimeFailure(str(exc)) from None
    click.echo(result.line())
