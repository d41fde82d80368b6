"""Errors the CLI turns into one clear line (no traceback) and an exit code."""

from __future__ import annotations

import click


class UsageError(click.ClickException):
    """The user asked for something invalid (bad flag, value, config): exit code 2."""

    exit_code = 2


class RuntimeFailure(click.ClickException):
    """The work itself failed (an engine did not start, a delivery failed): exit code 1."""

    exit_code = 1
