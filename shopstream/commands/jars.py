"""``shopstream jars``: resolve engine jars with Maven into the local cache (once)."""

from __future__ import annotations

import click

from shopstream import jars as jars_mod
from shopstream.cli import Context, pass_ctx
from shopstream.errors import RuntimeFailure


@click.command("jars")
@click.option("--force", is_flag=True, help="Resolve again even if the cache matches the manifest.")
@click.option(
    "-P",
    "--profile-maven",
    "profiles",
    multiple=True,
    help="Extra Maven profile from conf/jars (e.g. aws-logstore for Delta's DynamoDB LogStore).",
)
@click.option("--verbose", is_flag=True, help="Show Maven's output.")
@pass_ctx
def command(ctx: Context, force: bool, profiles: tuple[str, ...], verbose: bool) -> None:
    """Resolve the jars in conf/jars/pom.xml with `mvn dependency:copy-dependencies`.

    Jars land in <state_dir>/jars/<module>/ (git-ignored); a second run is a no-op unless the
    manifest changed. Nothing downloads jars at run time.

    \b
    Example:
      shopstream jars
      shopstream jars -P aws-logstore
    """
    try:
        did = jars_mod.resolve(ctx.settings, profiles, force=force, quiet=not verbose)
    except jars_mod.JarsError as exc:
        raise RuntimeFailure(str(exc)) from None
    where = ctx.settings.jars_dir
    click.echo(f"jars {'resolved' if did else 'already resolved'} in {where}", err=True)
