"""Where every secret the library needs comes from: one function per secret, one order.

1. the environment variable the profile names (on AWS: injected from Secrets Manager / an
   Airflow Connection into the step's or pod's environment);
2. only under the ``local`` profile: the file the local stack generated on its first start.

Nothing else reads a password; ``mart``, ``warehouse`` and the stack all call these.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from shopstream.errors import UsageError

if TYPE_CHECKING:
    from shopstream.config import Settings


class CredentialsError(UsageError):
    """A secret is not where the profile says it is (exit code 2)."""


def local_postgres_password_file(settings: Settings) -> Path:
    """The password the local stack generates on first start (mode 0600, in the state dir)."""
    return settings.state_path / "postgres" / "password"


def postgres_password(settings: Settings) -> str:
    """The PostgreSQL (mart, and the local warehouse stand-in) password."""
    var = settings.postgres.password_env
    env = os.environ.get(var)
    if env:
        return env
    if settings.profile != "local":
        raise CredentialsError(
            f"postgres: no password: set {var} (the {settings.profile} profile reads no files)"
        )
    path = local_postgres_password_file(settings)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise CredentialsError(f"postgres: no password: set {var} or run `shopstream up` first") from None
