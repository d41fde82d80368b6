"""Run the stream-ingest job as a managed local process: start, status, stop.

``start`` launches ``python jobs/run_stream.py`` as a local engine does (``stack.process.Proc``:
its own session, ``<state_dir>/stream/stream.log``, the PID in ``<state_dir>/stream/stream.pid``,
trusted only while the process carries that directory), with its arguments and start time in
``stream.json``. ``stop`` sends SIGTERM to that PID only: the job finishes the
batch in flight, stops the query and exits; ``--force`` (SIGKILL) is safe too, because the next
start replays the unfinished batch idempotently from the checkpoint.
On AWS the same job runs as a long-running EMR step instead (see ``spark_submit_args``).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopstream import submit
from shopstream.config import REPO_ROOT
from shopstream.errors import RuntimeFailure, UsageError
from shopstream.stack.process import Proc, wait_exit
from shopstream.submit import ENTRY_POINTS

if TYPE_CHECKING:
    from shopstream.config import Settings

JOB = REPO_ROOT / ENTRY_POINTS["stream"]


def stream_dir(settings: Settings) -> Path:
    return settings.state_path / "stream"


def _proc(settings: Settings) -> Proc:
    return Proc("stream", stream_dir(settings))


def pid_file(settings: Settings) -> Path:
    return _proc(settings).pid_file


def log_file(settings: Settings) -> Path:
    return _proc(settings).log_file


def _info_file(settings: Settings) -> Path:
    return stream_dir(settings) / "stream.json"


@dataclass
class StreamState:
    running: bool
    pid: int | None
    started_at: str | None
    args: list[str]
    last_progress: str | None
    log: Path


def _read_info(settings: Settings) -> dict[str, Any]:
    """What ``start`` recorded (PID, start time, arguments); empty when nothing (readable) was."""
    try:
        info = json.loads(_info_file(settings).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def job_args(profile: str, extra: list[str]) -> list[str]:
    return ["--profile", profile, *extra]


def spark_submit_args(profile: str, extra: list[str]) -> list[str]:
    """The spark-submit command line of the same job (:mod:`shopstream.submit`, shown to the user)."""
    return submit.spark_submit(
        "stream", submit.app_args("stream", profile=profile, extra=extra), script_root=".", conf={}
    )


def status(settings: Settings) -> StreamState:
    info = _read_info(settings)
    last = None
    log = log_file(settings)
    if log.exists():
        with log.open("rb") as fh:
            fh.seek(max(0, log.stat().st_size - 65536))
            for raw in fh.read().decode("utf-8", "replace").splitlines():
                if raw.startswith("[stream] batch="):
                    last = raw
    pid = _proc(settings).pid()
    recorded = info.get("pid")
    return StreamState(
        running=pid is not None,
        pid=pid if pid is not None else (int(recorded) if recorded else None),
        started_at=info.get("started_at"),
        args=list(info.get("args", [])),
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
    proc = _proc(settings)
    args = job_args(settings.profile, extra)
    log = proc.log_file
    offset = log.stat().st_size if log.exists() else 0
    pid = proc.start(
        [sys.executable, str(JOB), *args],
        env={"PYTHONUNBUFFERED": "1", "SHOPSTREAM_ENGINE_DIR": proc.marker},
        cwd=REPO_ROOT,
    )
    info = {"pid": pid, "started_at": datetime.now(UTC).isoformat(), "args": args}
    tmp = _info_file(settings).with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(_info_file(settings))
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        with log.open("rb") as fh:
            fh.seek(offset)
            if b"[stream] started" in fh.read():
                break
        if proc.pid() is None:
            raise RuntimeFailure(f"the stream exited during start-up; see {log}\n{proc.log_tail()}")
        time.sleep(0.5)
    return status(settings)


def stop(settings: Settings, timeout: float = 300.0, force: bool = False) -> StreamState:
    """SIGTERM the recorded PID and wait for it to exit (``force``: SIGKILL its process group,
    python and the JVM). Refuses to kill on a timeout: the batch in flight may still be committing."""
    proc = _proc(settings)
    pid = proc.send(signal.SIGKILL if force else signal.SIGTERM, group=force)
    if pid is not None and not wait_exit(pid, timeout):
        raise RuntimeFailure(
            f"the stream (pid {pid}) did not stop within {timeout:g}s; "
            "`shopstream stream stop --force` kills it"
        )
    proc.pid_file.unlink(missing_ok=True)
    return status(settings)
