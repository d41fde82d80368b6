"""``shopstream stream start|status|stop`` as process handling, with a stand-in for the Spark job
(a small Python script): the same PID, log and signal rules as the local engines
(``stack.process.Proc``). The real job under kill -9 is tests/test_stream_crash.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopstream import config, streaming
from shopstream.errors import RuntimeFailure

FAKE_JOB = """
import signal, subprocess, sys, time
if "--exit-early" in sys.argv:
    sys.exit(3)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # like the JVM
def stop(*_):
    print("[stream] stopped", flush=True)
    child.terminate()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print(f"[stream] started child={child.pid}", flush=True)
while True:
    time.sleep(0.1)
"""


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> config.Settings:
    job = tmp_path / "fake_job.py"
    job.write_text(FAKE_JOB)
    monkeypatch.setattr(streaming, "JOB", job)
    monkeypatch.setenv("SHOPSTREAM_STATE_DIR", str(tmp_path / "state"))
    return config.load("local")


def _child_pid(settings: config.Settings) -> int:
    text = streaming.log_file(settings).read_text()
    return int(text.rsplit("child=", 1)[1].split()[0])


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def test_start_status_graceful_stop(local: config.Settings) -> None:
    st = streaming.start(local, ["--trigger", "1s"], wait_seconds=30)
    try:
        assert st.running and st.pid and st.args == ["--profile", "local", "--trigger", "1s"]
        assert streaming.pid_file(local).read_text().strip() == str(st.pid)
        with pytest.raises(Exception, match="already running"):
            streaming.start(local, [], wait_seconds=0)
        after = streaming.stop(local, timeout=30)
        assert not after.running and not streaming.pid_file(local).exists()
        assert "[stream] stopped" in streaming.log_file(local).read_text()
    finally:
        streaming.stop(local, force=True, timeout=10)


def test_force_kills_the_whole_process_group(local: config.Settings) -> None:
    st = streaming.start(local, ["--ignore-term"], wait_seconds=30)
    try:
        child = _child_pid(local)
        with pytest.raises(RuntimeFailure, match="did not stop"):
            streaming.stop(local, timeout=1)  # SIGTERM ignored: refused to kill, still running
        assert streaming.status(local).running
    finally:
        streaming.stop(local, force=True, timeout=10)
    assert st.pid is not None and _gone(st.pid) and _gone(child)
    assert not streaming.status(local).running


def test_a_job_that_dies_during_start_up_is_reported(local: config.Settings) -> None:
    with pytest.raises(RuntimeFailure, match="exited during start-up"):
        streaming.start(local, ["--exit-early"], wait_seconds=30)
    assert not streaming.status(local).running


def test_a_recycled_pid_is_not_the_stream(local: config.Settings) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        streaming.pid_file(local).parent.mkdir(parents=True)
        streaming.pid_file(local).write_text(str(other.pid))
        assert not streaming.status(local).running
        streaming.stop(local, force=True, timeout=5)  # must not kill someone else's process
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_a_job_is_recognised_right_after_its_start(tmp_path: Path) -> None:
    """The PID check reads ``/proc/<pid>/environ``, which can still be empty for a few ms after
    ``exec``; a job checked at once must not be taken for a stranger (``Proc.pid`` would then
    remove its PID file and the job would run on untracked)."""
    from shopstream.stack.process import _cmdline_has

    marker = str(tmp_path)
    for _ in range(200):
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(5)"],
            env={**os.environ, "SHOPSTREAM_ENGINE_DIR": marker},
            stdout=subprocess.DEVNULL,
        )
        try:
            assert _cmdline_has(child.pid, marker)  # at once, as streaming.start does
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
