"""Secrets come from one library function: the environment, then (only under the local profile)
the local stack's generated file; the library raises its own errors and only the CLI converts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shopstream import config
from shopstream.credentials import CredentialsError, local_postgres_password_file, postgres_password
from shopstream.errors import ShopstreamError
from tests.aws_env import AWS_ENV

REPO = Path(__file__).resolve().parent.parent


def _settings(profile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> config.Settings:
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SHOPSTREAM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("SHOPSTREAM_PG_PASSWORD", raising=False)
    return config.load(profile)


def test_environment_first_then_the_local_stack_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _settings("local", tmp_path, monkeypatch)
    with pytest.raises(CredentialsError, match="shopstream up"):
        postgres_password(s)
    f = local_postgres_password_file(s)
    f.parent.mkdir(parents=True)
    f.write_text("from-the-file\n")
    assert postgres_password(s) == "from-the-file"
    monkeypatch.setenv(s.postgres.password_env, "from-the-env")
    assert postgres_password(s) == "from-the-env"


def test_aws_profile_never_reads_the_local_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _settings("aws", tmp_path, monkeypatch)
    f = local_postgres_password_file(s)
    f.parent.mkdir(parents=True)
    f.write_text("a-local-secret\n")
    with pytest.raises(CredentialsError, match="SHOPSTREAM_PG_PASSWORD") as err:
        postgres_password(s)
    assert err.value.exit_code == 2
    monkeypatch.setenv(s.postgres.password_env, "from-secrets-manager")
    assert postgres_password(s) == "from-secrets-manager"


def test_only_the_cli_knows_click() -> None:
    """Library errors are the library's own (no click base class); click is imported only by the
    CLI layer (shopstream/cli.py and shopstream/commands/)."""
    assert not any("click" in c.__module__ for c in ShopstreamError.__mro__)
    offenders = []
    for path in sorted((REPO / "shopstream").rglob("*.py")):
        rel = path.relative_to(REPO / "shopstream")
        if rel.parts[0] == "commands" or rel.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"shopstream/{rel}: {n}" for n in names if n.split(".")[0] == "click"]
    assert not offenders, offenders


def test_the_cli_turns_a_library_error_into_one_line_and_its_exit_code(tmp_path: Path) -> None:
    """A library UsageError raised inside a command (here: the profile's config) ends as exit 2."""
    from click.testing import CliRunner

    from shopstream.cli import cli

    res = CliRunner().invoke(
        cli, ["--profile", "aws", "status"], env={"SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": ""}
    )
    assert res.exit_code == 2, res.output
    assert res.output.startswith("Error: conf/aws.yaml:") and len(res.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_aws_profile_reads_the_secret_the_profile_names(
    stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """EMR steps: no password in the environment, the secret named by postgres.password_secret
    (Secrets Manager on the local S3 API); plain or RDS-style JSON; a missing one is one line."""
    import uuid

    from shopstream.aws import boto_client

    name = f"shopstream/emr/mart-password-{uuid.uuid4().hex[:8]}"
    sm = boto_client(stack, "secretsmanager")
    sm.create_secret(Name=name, SecretString="plain-secret")
    sm.create_secret(
        Name=f"{name}-json", SecretString='{"username": "shopstream", "password": "json-secret"}'
    )
    monkeypatch.setenv("SHOPSTREAM_S3__ENDPOINT_URL", str(stack.s3.endpoint_url))
    for secret, want in ((name, "plain-secret"), (f"{name}-json", "json-secret")):
        monkeypatch.setenv("SHOPSTREAM_POSTGRES__PASSWORD_SECRET", secret)
        assert postgres_password(_settings("aws", tmp_path, monkeypatch)) == want
    monkeypatch.setenv("SHOPSTREAM_POSTGRES__PASSWORD_SECRET", f"{name}-missing")
    with pytest.raises(CredentialsError, match=f"{name}-missing") as err:
        postgres_password(_settings("aws", tmp_path, monkeypatch))
    assert err.value.exit_code == 2 and "\n" not in str(err.value)
