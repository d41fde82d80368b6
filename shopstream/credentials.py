"""Where every secret the library needs comes from: one function per secret, one order.

1. the environment variable the profile names (on AWS: an Airflow Connection handed to the
   worker's command, :func:`shopstream.orchestration.connection_env`);
2. the Secrets Manager secret the profile names (``postgres.password_secret``: the EMR steps,
   whose environment Terraform writes into the cluster's configuration, so it holds no secret);
3. only under the ``local`` profile: the file the local stack generated on its first start.

Nothing else reads a password; ``mart``, ``warehouse`` and the stack all call these.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopstream.aws import client_kwargs
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
    if settings.postgres.password_secret:
        return secret_password(settings, settings.postgres.password_secret)
    if settings.profile != "local":
        raise CredentialsError(
            f"postgres: no password: set {var} or postgres.password_secret "
            f"(the {settings.profile} profile reads no files)"
        )
    path = local_postgres_password_file(settings)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise CredentialsError(f"postgres: no password: set {var} or run `shopstream up` first") from None


def secret_password(settings: Settings, secret_id: str) -> str:
    """A password from Secrets Manager: a plain ``SecretString``, or the ``password`` key of a
    JSON one (the shape RDS and Secrets Manager's rotation templates use). Read once a process."""
    return _secret_password(secret_id, tuple(sorted(client_kwargs(settings).items())))


@cache
def _secret_password(secret_id: str, client: tuple[tuple[str, Any], ...]) -> str:
    # boto3 loads only on AWS, where the password is a secret (~0.5 s the local CLI never pays)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        reply = boto3.client("secretsmanager", **dict(client)).get_secret_value(SecretId=secret_id)
        text = reply["SecretString"]
    except (BotoCoreError, ClientError, KeyError) as exc:
        raise CredentialsError(f"postgres: cannot read the secret {secret_id}: {exc}") from None
    if text.lstrip().startswith("{"):
        try:
            text = json.loads(text)["password"]
        except (ValueError, KeyError, TypeError):
            raise CredentialsError(
                f"postgres: the secret {secret_id} is JSON without a password key"
            ) from None
    if not isinstance(text, str) or not text:
        raise CredentialsError(f"postgres: the secret {secret_id} is empty")
    return text
