"""Configuration: profiles load; a wrong key, type or missing value is one line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from shopstream import config
from shopstream.cli import cli
from tests.aws_env import AWS_ENV

REPO = Path(__file__).resolve().parent.parent


def _write(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((REPO / "conf" / "local.yaml").read_text())
    mutate(data)
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_local_profile_loads_with_loopback_endpoints() -> None:
    s = config.load("local", environ={})
    assert s.kafka.bootstrap_servers.startswith("127.0.0.1:")
    assert s.opensearch.url.startswith("http://127.0.0.1:")
    assert s.s3.endpoint_url.startswith("http://127.0.0.1:")
    assert s.postgres.host == "127.0.0.1"


def test_env_override_wins_and_is_typed() -> None:
    s = config.load("local", environ={"SHOPSTREAM_KAFKA__PARTITIONS": "7"})
    assert s.kafka.partitions == 7


def test_aws_profile_needs_its_environment() -> None:
    with pytest.raises(
        config.ConfigError, match=r"conf/aws.yaml: kafka.bootstrap_servers: requires environment"
    ):
        config.load("aws", environ={})
    env = AWS_ENV
    s = config.load("aws", environ=env)
    assert s.lake.root == "s3a://acme-lake/bronze"
    assert s.kafka.min_insync_replicas >= 2 and s.kafka.security_protocol == "SASL_SSL"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["kafka"].update(colour="blue"),
            "kafka.colour: unknown key; allowed keys: bootstrap_servers",
        ),
        (lambda d: d["kafka"].update(port="nineteen"), "kafka.port: input should be a valid integer"),
        (lambda d: d["kafka"].update(port=70000), "kafka.port: input should be less than or equal to 65535"),
        (lambda d: d["lake"].update(log_store="ftp"), "allowed: local | s3-dynamodb"),
        (lambda d: d["postgres"].pop("port"), "postgres.port: required value is missing"),
        (lambda d: d.pop("spark"), "spark: required value is missing"),
        (
            lambda d: d["stream"].update(dedupe_window="15 minutes"),
            "stream.dedupe_window: string should match pattern",
        ),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path: Path, mutate, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, mutate)
    with pytest.raises(config.ConfigError) as exc:
        config.load(path=path, environ={})
    msg = str(exc.value)
    assert expected in msg
    assert "\n" not in msg and msg.startswith(str(path))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SHOPSTREAM_KAFKA__COLOUR": "x"}, "conf/local.yaml: kafka.colour: unknown key"),
        ({"SHOPSTREAM_KAFKA__PORT": "abc"}, "conf/local.yaml: kafka.port: input should be a valid integer"),
        (
            {"SHOPSTREAM_PROFILE": "aws"},
            "conf/aws.yaml: kafka.bootstrap_servers: requires environment variable",
        ),
        # quoted into SQL: COPY ... iam_role '<arn>' and delta.`<lake root>`
        (
            {"SHOPSTREAM_WAREHOUSE__COPY_IAM_ROLE_ARN": "arn:aws:iam::123456789012:role/x' --"},
            "conf/local.yaml: warehouse.copy_iam_role_arn:",
        ),
        (
            {"SHOPSTREAM_WAREHOUSE__COPY_IAM_ROLE_ARN": "arn:aws:iam::\uff11" + "1" * 11 + ":role/x"},
            "conf/local.yaml: warehouse.copy_iam_role_arn:",
        ),
        ({"SHOPSTREAM_LAKE__ROOT": "/tmp/lake`; DROP"}, "conf/local.yaml: lake.root:"),
        ({"SHOPSTREAM_LAKE__ROOT": "/tmp/la\nke"}, "conf/local.yaml: lake.root:"),
    ],
)
def test_cli_exits_2_with_one_line(env: dict[str, str], expected: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHOPSTREAM_")}
    res = subprocess.run(
        [sys.executable, "-m", "shopstream", "status"],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=REPO,
        timeout=60,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert expected in lines[0]


def test_unknown_cli_option_exits_2() -> None:
    res = CliRunner().invoke(cli, ["up", "--colour"])
    assert res.exit_code == 2
    assert "No such option: --colour" in res.output


def _all_commands(group, prefix=()):  # type: ignore[no-untyped-def]
    import click

    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, (*prefix, name))


def test_every_command_and_option_has_help() -> None:
    missing = []
    for path, cmd in _all_commands(cli):
        if not (cmd.help or "").strip():
            missing.append(" ".join(path))
        if not cmd.__class__.__name__ == "Group" and "Example" not in (cmd.help or ""):
            missing.append(" ".join(path) + " (no Example:)")
        for param in cmd.params:
            if param.param_type_name == "option" and not getattr(param, "help", None):
                missing.append(f"{' '.join(path)} {param.opts[0]}")
        res = CliRunner().invoke(cli, [*path, "--help"])
        assert res.exit_code == 0, (path, res.output)
    assert missing == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["up", "--bogus"], "Error: shopstream up: No such option: --bogus"),
        (["batch", "run", "--hour", "2026-13-01T00"], "is not an hour like"),
        (["batch", "run", "--hour", "2999-01-01T00"], "is in the future"),
        (["batch", "run", "--hour", "2026-11-24T10", "--entity", "carts"], "'carts' is not one of"),
        (["nonsense"], "No such command 'nonsense'"),
        (["stream", "start", "--idle-timeout", "soon"], "'soon' is not a duration"),
        (["batch", "run", "--hour", "0001-01-01T00"], "before the contract's earliest event time"),
        (["batch", "run", "--hour", "1999-12-31T23"], "before the contract's earliest event time"),
        (["batch", "run", "--hour", "9999-12-31T23"], "is in the future"),
        (["batch", "run", "--hour", "2026-11-24T10", "--run-id", "../../etc"], "'--run-id'"),
        (["batch", "run", "--hour", "2026-11-24T10", "--run-id", "a/b"], "no path separators"),
        (["batch", "run", "--hour", "2026-11-24T10", "--run-id", "r1'; drop table x;--"], "'--run-id'"),
        (["batch", "run", "--hour", "2026-11-24T10", "--run-id", ""], "'--run-id'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], expected: str) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "shopstream", *args], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and expected in res.stderr, res.stderr
    assert res.stdout == ""
