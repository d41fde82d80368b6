"""The library's own errors. Only the CLI (``shopstream/cli.py``) turns them into one clear line
on stderr and an exit code; the library never imports click."""

from __future__ import annotations


class ShopstreamError(Exception):
    """An expected failure, already phrased as one line for the user."""

    exit_code = 1


class UsageError(ShopstreamError):
    """The user asked for something invalid (bad flag, value, config): exit code 2."""

    exit_code = 2


class RuntimeFailure(ShopstreamError):
    """The work itself failed (an engine did not start, a delivery failed): exit code 1."""

    exit_code = 1
