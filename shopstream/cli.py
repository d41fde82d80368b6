"""The ``shopstream`` command line: a thin layer over the library.

It parses, calls the library, and turns expected failures into one line on stderr:
exit 2 for a wrong flag, value or configuration; exit 1 when the work itself failed.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import datetime
from typing import Any

import click

from shopstream import __version__
from shopstream import config as config_mod
from shopstream.contract import entities
from shopstream.errors import ShopstreamError, UsageError
from shopstream.hours import parse_hour
from shopstream.process_exit import exit_process


class Context:
    """What every command receives: the chosen profile and its settings, loaded once."""

    def __init__(self, profile: str | None) -> None:
        self.profile = profile
        self._settings: config_mod.Settings | None = None

    @property
    def settings(self) -> config_mod.Settings:
        if self._settings is None:
            try:
                self._settings = config_mod.load(self.profile)
            except config_mod.ConfigError as exc:
                raise UsageError(str(exc)) from None
        return self._settings


pass_ctx = click.make_pass_decorator(Context)


class HourType(click.ParamType):
    """``--hour``: a UTC hour like ``2026-11-24T10`` (:func:`shopstream.hours.parse_hour`)."""

    name = "HOUR"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_hour(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class EntityChoice(click.Choice[str]):
    """``click.Choice`` over the contract's entities, read when an option first needs them (every
    command module is imported when the CLI starts; the contract is not read at import time)."""

    def __init__(self) -> None:
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]  # read-only: the contract decides
        return tuple(entities())


class _Failure(click.ClickException):
    """A library error as click shows it: ``Error: <message>`` and the error's exit code."""

    def __init__(self, error: ShopstreamError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code


class _Group(click.Group):
    """Registers every module under shopstream/commands and sorts commands in --help; turns the
    library's errors (:class:`~shopstream.errors.ShopstreamError`) into click's, the only place
    that does."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ShopstreamError as exc:
            raise _Failure(exc) from None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # here, not at the top: every command module imports this one (Context, pass_ctx)
        import shopstream.commands as pkg

        for info in pkgutil.iter_modules(pkg.__path__):
            mod = importlib.import_module(f"shopstream.commands.{info.name}")
            cmds = getattr(mod, "commands", None) or [mod.command]
            for cmd in cmds:
                self.add_command(cmd)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--profile",
    type=click.Choice(config_mod.PROFILES),
    default=None,
    envvar="SHOPSTREAM_PROFILE",
    help="Configuration profile: conf/<profile>.yaml (default: local, or $SHOPSTREAM_PROFILE).",
)
@click.version_option(__version__, prog_name="shopstream")
@click.pass_context
def cli(ctx: click.Context, profile: str | None) -> None:
    """shopstream: a commerce-event data platform you run locally first, then on AWS.

    \b
    Example (a fresh machine):
      shopstream jars          # resolve engine jars with Maven (once)
      shopstream up            # Kafka, PostgreSQL, OpenSearch, S3 API on 127.0.0.1
      shopstream status
      shopstream down
    """
    ctx.obj = Context(profile)


def _run() -> int:
    """Run the CLI; every expected failure ends as ONE line on stderr and an exit code."""
    try:
        rv = cli.main(prog_name="shopstream", standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C at a prompt
        click.echo("Aborted.", err=True)
        return 130
    except click.UsageError as exc:  # click's own: unknown option, bad number, missing argument
        where = exc.ctx.command_path if exc.ctx is not None else "shopstream"
        click.echo(f"Error: {where}: {exc.format_message()} (see --help)", err=True)
        return 2
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:  # pragma: no cover - interactive
        return 130
    except SystemExit as exc:  # a command's own sys.exit
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return rv if isinstance(rv, int) else 0


def main() -> None:
    """Entry point: every expected failure ends as ONE line on stderr and an exit code
    (2: wrong flag, value or configuration; 1: the work failed) — never a traceback. The process
    ends through :func:`shopstream.process_exit.exit_process` (C++ thread pools at teardown)."""
    exit_process(_run())


if __name__ == "__main__":
    main()
