"""Local secrets never exist with a mode wider than 0600, even under a umask of 000; the state
directory is 0700 (shopstream/private.py). Every test runs with ``os.umask(0)``: any file created
the usual way (open + chmod afterwards) would be 0666 for a moment, and the tests would see it."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopstream import cli, config, private
from shopstream.stack.postgres import password as pg_password
from shopstream.stack.process import Proc

# shopstream.cli imports every command module (importing one of them first is circular).
airflow_cmd = sys.modules[cli.__name__.replace("cli", "commands.airflow")]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def creations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every file os.open creates, with its mode observed right after creation (before any write)."""
    seen: list[tuple[str, int]] = []
    real_open = os.open

    def watched(path, flags, mode=0o777, *a, **kw):  # type: ignore[no-untyped-def]
        existed = os.path.exists(path)
        fd = real_open(path, flags, mode, *a, **kw)
        if flags & os.O_CREAT and not existed:
            seen.append((str(path), stat.S_IMODE(os.fstat(fd).st_mode)))
        return fd

    monkeypatch.setattr(os, "open", watched)
    return seen


def _no_plain_writes(monkeypatch: pytest.MonkeyPatch, under: Path) -> list[str]:
    """Path.write_text / write_bytes below ``under`` (the open-then-chmod pattern) are recorded."""
    calls: list[str] = []
    for name in ("write_text", "write_bytes"):
        real = getattr(Path, name)

        def spy(self: Path, *a, _real=real, **kw):  # type: ignore[no-untyped-def]
            if self.resolve().is_relative_to(under.resolve()):
                calls.append(str(self))
            return _real(self, *a, **kw)

        monkeypatch.setattr(Path, name, spy)
    return calls


def test_write_private_creates_0600_from_the_first_byte(
    tmp_path: Path, umask_000: None, creations: list[tuple[str, int]]
) -> None:
    target = tmp_path / "secret"
    private.write_private(target, "s3cr3t\n")
    assert creations and all(mode == 0o600 for _, mode in creations), creations
    assert _mode(target) == 0o600 and target.read_text() == "s3cr3t\n"
    private.write_private(target, "rotated\n")  # replacing keeps the mode, atomically
    assert _mode(target) == 0o600 and target.read_text() == "rotated\n"
    assert [p.name for p in tmp_path.iterdir()] == ["secret"], "no temporary file left behind"


def test_the_creation_check_sees_a_file_chmod_ed_afterwards(
    tmp_path: Path, umask_000: None, creations: list[tuple[str, int]]
) -> None:
    """The same check on the old pattern (create, then chmod) catches the 0666 moment."""
    fd = os.open(tmp_path / "old-style", os.O_WRONLY | os.O_CREAT, 0o666)
    os.close(fd)
    (tmp_path / "old-style").chmod(0o600)
    assert creations == [(str(tmp_path / "old-style"), 0o666)]


def test_the_postgres_password_file_and_state_dir(
    tmp_path: Path, umask_000: None, creations: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.delenv("SHOPSTREAM_PG_PASSWORD", raising=False)
    settings = config.load("local", environ={"SHOPSTREAM_STATE_DIR": str(state)})
    plain = _no_plain_writes(monkeypatch, state)
    pw = pg_password(settings, create=True)
    secret = state / "postgres" / "password"
    assert secret.read_text().strip() == pw
    assert _mode(secret) == 0o600
    assert _mode(state) == 0o700 and _mode(state / "postgres") == 0o700
    assert not plain, f"written the open-then-chmod way: {plain}"
    assert creations and all(mode == 0o600 for _, mode in creations), creations
    assert pg_password(settings) == pw  # read back, not regenerated


def test_the_state_dir_is_tightened_when_it_exists_wider(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o755)
    private.private_dir(state)
    assert _mode(state) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to the postgres group needs root")
def test_postgres_may_only_traverse_the_state_dir(tmp_path: Path) -> None:
    try:
        gid = pwd.getpwnam("postgres").pw_gid
    except KeyError:
        pytest.skip("no postgres OS user")
    state = private.private_dir(tmp_path / "state")
    private.allow_traverse(state, "postgres")
    assert _mode(state) == 0o710 and state.stat().st_gid == gid
    private.private_dir(state)  # up() again: the deliberate search bit stays, nothing else
    assert _mode(state) == 0o710


def _airflow_writes_its_password_file(tmp_path: Path, start) -> Path:  # type: ignore[no-untyped-def]
    """A stand-in component that creates the file the way Airflow's SimpleAuthManager does
    (plain open(..., "w") in AIRFLOW_HOME), started through ``start``."""
    home = tmp_path / "airflow"
    env = {"AIRFLOW_HOME": str(home)}
    target = home / "simple_auth_manager_passwords.json.generated"
    code = (
        "import json, os; "
        "p = os.path.join(os.environ['AIRFLOW_HOME'], 'simple_auth_manager_passwords.json.generated'); "
        "json.dump({'admin': 'generated'}, open(p, 'w'))"
    )
    home.mkdir(mode=0o777, exist_ok=True)
    proc = Proc("airflow-standin", tmp_path / "proc")
    start(proc, [sys.executable, "-c", code], env)
    for _ in range(100):
        if target.exists() and target.stat().st_size:
            break
        time.sleep(0.05)
    return target


def test_airflow_components_create_their_admin_password_file_0600(tmp_path: Path, umask_000: None) -> None:
    target = _airflow_writes_its_password_file(tmp_path, airflow_cmd.start_component)
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700


def test_without_the_private_umask_the_same_file_would_be_world_readable(
    tmp_path: Path, umask_000: None
) -> None:
    """The check above can fail: started the plain way, the stand-in's file is 0666."""

    def plain(proc: Proc, argv: list[str], env: dict[str, str]) -> int:
        return proc.start(argv, env=env)

    target = _airflow_writes_its_password_file(tmp_path, plain)
    assert _mode(target) == 0o666


def test_airflow_db_migrate_runs_under_the_private_umask(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, object] = {}

    def fake_run(argv, **kw):  # type: ignore[no-untyped-def]
        seen.update(kw)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(airflow_cmd, "airflow_bin", lambda: Path("/bin/true"))
    monkeypatch.setattr(airflow_cmd.subprocess, "run", fake_run)
    airflow_cmd.migrate({"AIRFLOW_HOME": str(tmp_path / "home")})
    assert seen["umask"] == private.PRIVATE_UMASK
    assert _mode(tmp_path / "home") == 0o700
