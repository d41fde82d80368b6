"""Start, find and stop the local engines' processes: PID files, logs, readiness, ports.

Every engine runs as a detached child with its own process group, its output in
``<state>/<engine>/<engine>.log`` and its PID in ``<state>/<engine>/<engine>.pid``. A PID is
only trusted when ``/proc/<pid>/cmdline`` still contains the engine's marker (its state
directory), so a recycled PID never makes us kill or report someone else's process.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class EngineError(Exception):
    """An engine failed to start or stop; the message names the engine and its log."""


def run_as(user: str | None) -> dict[str, Any]:
    """subprocess arguments that run as ``user`` with *its* groups (by default only the user id
    changes and root's group and supplementary groups are kept)."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


@dataclass(frozen=True)
class Proc:
    name: str
    workdir: Path

    @property
    def pid_file(self) -> Path:
        return self.workdir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def marker(self) -> str:
        return str(self.workdir)

    def pid(self) -> int | None:
        """The PID of our running process, or None (stale PID files are removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _cmdline_has(pid, self.marker):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(
        self,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        user: str | None = None,
        cwd: Path | None = None,
        umask: int | None = None,
    ) -> int:
        """Start ``argv`` in its own session, output to the log; ``umask`` for what it creates."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(self.log_file, "ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                cwd=str(cwd or self.workdir),
                start_new_session=True,
                umask=-1 if umask is None else umask,
                **run_as(user),
            )
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def send(self, sig: int, group: bool = False) -> int | None:
        """Send ``sig`` to our process (with ``group``, to its whole process group: it was started
        in its own session). Returns its PID, or None when it is not running."""
        pid = self.pid()
        if pid is None:
            return None
        try:
            os.killpg(pid, sig) if group else os.kill(pid, sig)
        except ProcessLookupError:
            pass
        return pid

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, wait, then SIGKILL. Returns True if a process was stopped."""
        pid = self.send(signal.SIGTERM)
        if pid is None:
            return False
        if not wait_exit(pid, timeout):
            _signal(pid, signal.SIGKILL)
            wait_exit(pid, 5.0)
        self.pid_file.unlink(missing_ok=True)
        return True

    def rss_mb(self) -> float | None:
        """Resident memory of the process (and its children), in MB."""
        pid = self.pid()
        if pid is None:
            return None
        total = 0
        for p in [pid, *_children(pid)]:
            try:
                for line in Path(f"/proc/{p}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except FileNotFoundError:
                continue
        return total / 1024

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def wait_exit(pid: int, timeout: float, interval: float = 0.2) -> bool:
    """Wait until ``pid`` has exited (a zombie counts as exited); False if it still runs."""
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return


def _cmdline_has(pid: int, marker: str, settle: float = 2.0) -> bool:
    """``pid`` is alive and carries ``marker`` in its command line or its environment.

    Right after ``exec`` Linux can show a process's new command line while its
    ``/proc/<pid>/environ`` still reads empty (measured: 25 of 200 Python children read at once
    after ``Popen`` returned, for up to ~5 ms). An empty environment of a live process is read
    again for up to ``settle`` seconds, so a job checked right after its start is not taken for
    a stranger (its PID file was removed and the job ran on, untracked).
    """
    deadline = time.monotonic() + settle
    while True:
        if not _alive(pid):
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            raw_env = Path(f"/proc/{pid}/environ").read_bytes()
        except (FileNotFoundError, PermissionError):
            return False
        if marker in cmdline:
            return True
        if raw_env or time.monotonic() >= deadline:
            return f"SHOPSTREAM_ENGINE_DIR={marker}" in raw_env.decode(errors="replace")
        time.sleep(0.005)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            kids = (task / "children").read_text().split()
            for k in kids:
                out.append(int(k))
                out.extend(_children(int(k)))
    except FileNotFoundError:
        pass
    return out


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_until(
    name: str, proc: Proc, check: Callable[[], bool], timeout: float, interval: float = 0.5
) -> float:
    """Poll ``check`` until it returns True; fail fast if the process died. Returns seconds waited."""
    start = time.monotonic()
    last_exc: Exception | None = None
    while time.monotonic() - start < timeout:
        if proc.pid() is None:
            raise EngineError(
                f"{name}: process exited during start-up; see {proc.log_file}\n{proc.log_tail()}"
            )
        try:
            if check():
                return time.monotonic() - start
        except Exception as exc:  # readiness probes raise until the engine answers
            last_exc = exc
        time.sleep(interval)
    why = f" (last error: {last_exc})" if last_exc else ""
    raise EngineError(f"{name}: not ready after {timeout:.0f}s{why}; see {proc.log_file}")
