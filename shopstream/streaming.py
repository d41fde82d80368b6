"""Run the stream-ingest job as a managed local process: start, status, stop.

``start`` launches ``python jobs/run_stream.py`` in its own session, logging to
``<state_dir>/stream/stream.log``, and records its PID in ``<state_dir>/stream/stream.pid``
(with the arguments, as JSON). ``stop`` sends SIGTERM to that PID only: the job finishes the
batch in flight, stops the query and exits; ``--force`` (SIGKILL) is safe too, because the next
start replays the unfinished batch idempotently from the checkpoint.
On AWS the same job runs as a long-running EMR step instead (see ``spark_submit_args``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopstream.config import REPO_ROOT
from shopstream.errors import RuntimeFailure, UsageError

if TYPE_CHECKING:
    from shopstream.config import Settings

JOB = REPO_ROOT / "jobs" / "run_stream.py"


def stream_dir(settings: Settings) -> Path:
    return settings.state_path / "stream"


def pid_file(settings: Settings) -> Path:
    return stream_dir(settings) / "stream.pid"


def log_file(settings: Settings) -> Path:
    return stream_dir(settings) / "stream.log"


@dataclass
class StreamState:
    running: bool
    pid: int | None
    started_at: str | None
    args: list[str]
    last_progress: str | None
    log: Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not running
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _read_pid(settings: Settings) -> dict[str, Any] | None:
    try:
        return json.loads(pid_file(settings).read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        raise RuntimeFailure(
            f"{pid_file(settings)} is not valid JSON; remove it if no stream is running"
        ) from None


def job_args(profile: str, extra: list[str]) -> list[str]:
    return ["--profile", profile, *extra]


def spark_submit_args(profile: str, extra: list[str]) -> list[str]:
    """The EMR step / spark-submit command line of the same job (for docs and Terraform)."""
    return ["spark-submit", "--deploy-mode", "client", "jobs/run_stream.py", *job_args(profile, extra)]


def status(settings: Settings) -> StreamState:
    info = _read_pid(settings)
    last = None
    log = log_file(settings)
    if log.exists():
        with log.open("rb") as fh:
            fh.seek(max(0, log.stat().st_size - 65536))
            for raw in fh.read().decode("utf-8", "replace").splitlines():
                if raw.startswith("[stream] batch="):
                    last = raw
    pid = int(info["pid"]) if info else None
    return StreamState(
        running=bool(pid and _alive(pid)),
        pid=pid,
        started_at=info.get("started_at") if info else None,
        args=list(info.get("args", [])) if info else [],
        last_progress=last,
        log=log,
    )


def start(settings: Settings, extra: list[str], wait_seconds: float = 0.0) -> StreamState:
    """Start the job in the background (refuses if one is running). Returns its state."""
    if settings.profile != "local":
        cmd = " ".join(spark_submit_args(settings.profile, extra))
        raise UsageError(f"profile {settings.profile}: the stream runs as an EMR step there ({cmd})")
    current = status(settings)
    if current.running:
        raise UsageError(f"the stream is already running (pid {current.pid}); `shopstream stream stop` first")
    d = stream_dir(settings)
    d.mkdir(parents=True, exist_ok=True)
    args = job_args(settings.profile, extra)
    log = log_file(settings).open("ab")
    log.write(f"\n--- start {datetime.now(UTC).isoformat()} {' '.join(args)}\n".encode())
    log.flush()
    proc = subprocess.Popen(
        [sys.executable, str(JOB), *args],
        cwd=str(REPO_ROOT),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    log.close()
    tmp = pid_file(settings).with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": proc.pid, "started_at": datetime.now(UTC).isoformat(), "args": args}))
    tmp.replace(pid_file(settings))
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeFailure(f"the stream exited with code {proc.returncode}; see {log_file(settings)}")
        if "[stream] started" in log_file(settings).read_text(errors="replace").rsplit("--- start", 1)[-1]:
            break
        time.sleep(0.5)
    return status(settings)


def stop(settings: Settings, timeout: float = 300.0, force: bool = False) -> StreamState:
    """SIGTERM the recorded PID and wait for it to exit (SIGKILL with ``force`` or on timeout)."""
    st = status(settings)
    if not st.running or st.pid is None:
        pid_file(settings).unlink(missing_ok=True)
        return st
    if force:  # the job's whole process group (it was started in its own session): python + JVM
        os.killpg(st.pid, signal.SIGKILL)
    else:
        os.kill(st.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(st.pid) and time.monotonic() < deadline:
        time.sleep(0.25)
    if _alive(st.pid):
        raise RuntimeFailure(
            f"the stream (pid {st.pid}) did not stop within {timeout:g}s; "
            "`shopstream stream stop --force` kills it"
        )
    pid_file(settings).unlink(missing_ok=True)
    return status(settings)
