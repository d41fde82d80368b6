"""The local stack: ``up``, ``status`` and ``down`` for Kafka, PostgreSQL, OpenSearch and S3 API.

``up`` starts every requested engine that is not already running (all at once, so the
slowest one sets the pace), waits for each to answer, then prepares it (topics, databases,
buckets). ``down`` stops only what ``up`` started, by PID. State, logs and PIDs live under
``settings.state_path``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shopstream.config import Settings
from shopstream.private import private_dir
from shopstream.stack.engines import ENGINES, Engine
from shopstream.stack.postgres import password
from shopstream.stack.process import EngineError, port_in_use, wait_until

__all__ = ["ENGINES", "EngineError", "EngineStatus", "down", "engines", "password", "status", "up"]


@dataclass
class EngineStatus:
    name: str
    running: bool
    pid: int | None
    endpoint: str
    rss_mb: float | None
    seconds: float | None = None
    note: str = ""


def engines(settings: Settings, only: Iterable[str] | None = None) -> list[Engine]:
    names = list(only) if only else list(ENGINES)
    unknown = [n for n in names if n not in ENGINES]
    if unknown:
        raise ValueError(f"unknown engine {unknown[0]!r}; allowed: {', '.join(ENGINES)}")
    return [ENGINES[n](settings) for n in names]


def up(
    settings: Settings, only: Iterable[str] | None = None, report: Callable[[str], None] = lambda _m: None
) -> list[EngineStatus]:
    """Start what is not running, wait for readiness, prepare. Idempotent."""
    chosen = engines(settings, only)
    private_dir(settings.state_path)  # 0700: it holds the PostgreSQL password
    started: list[Engine] = []
    t0: dict[str, float] = {}
    try:
        for eng in chosen:
            if eng.proc.pid() is not None:
                report(f"{eng.name}: already running (pid {eng.proc.pid()})")
                continue
            taken = [p for p in eng.ports if port_in_use(p)]
            if taken:
                raise EngineError(
                    f"{eng.name}: port {taken[0]} on 127.0.0.1 is already in use by another process; stop "
                    f"it or choose another port (conf/{settings.profile}.yaml or SHOPSTREAM_* overrides)"
                )
            report(f"{eng.name}: starting")
            t0[eng.name] = time.monotonic()
            started.append(eng)
            eng.start()
        out: list[EngineStatus] = []
        for eng in chosen:
            secs = None
            if eng in started:
                wait_until(eng.name, eng.proc, eng.ready, eng.timeout)
                secs = time.monotonic() - t0[eng.name]
            note = eng.prepare()
            report(
                f"{eng.name}: ready at {eng.endpoint}" + (f" in {secs:.1f}s" if secs else "") + f"; {note}"
            )
            out.append(
                EngineStatus(eng.name, True, eng.proc.pid(), eng.endpoint, eng.proc.rss_mb(), secs, note)
            )
    except Exception:
        # Leave nothing half-started behind: stop what this call started.
        for eng in started:
            eng.proc.stop()
        raise
    return out


def status(settings: Settings, only: Iterable[str] | None = None) -> list[EngineStatus]:
    out = []
    for eng in engines(settings, only):
        pid = eng.proc.pid()
        ok = False
        if pid is not None:
            try:
                ok = eng.ready()
            except Exception:  # an engine that does not answer is reported as not ready
                ok = False
        note = "ready" if ok else ("starting / not answering" if pid else "stopped")
        out.append(EngineStatus(eng.name, pid is not None, pid, eng.endpoint, eng.proc.rss_mb(), None, note))
    return out


def down(
    settings: Settings, only: Iterable[str] | None = None, report: Callable[[str], None] = lambda _m: None
) -> list[str]:
    stopped = []
    for eng in reversed(engines(settings, only)):
        if eng.proc.stop():
            stopped.append(eng.name)
            report(f"{eng.name}: stopped")
        else:
            report(f"{eng.name}: not running")
    return stopped
