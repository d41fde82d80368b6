"""One rehearsal's workspace: its directory, tag and buckets, the clients of the local S3 API, the
environments a node's commands see, running and timing each entry point, and the result table."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shopstream.aws import boto_client

REPO = Path(__file__).resolve().parents[2]


class RehearsalError(RuntimeError):
    """A rehearsed entry point failed (the message names it and the tail of its log)."""


@dataclass
class Row:
    entry_point: str
    artifact: str
    environment: str
    result: str
    seconds: float


@dataclass
class Workspace:
    """One rehearsal against a running local stack (``settings``: its local profile)."""

    settings: Any
    work: Path
    airflow_python: Path | None = None
    rows: list[Row] = field(default_factory=list)
    cluster: str = ""
    airflow_env: dict[str, str] = field(default_factory=dict)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def endpoint(self) -> str:
        return str(self.settings.s3.endpoint_url)

    @property
    def bucket(self) -> dict[str, str]:
        return {k: f"rehearsal-{k}-{self.tag}" for k in ("artifacts", "lake", "export", "archive")}

    @property
    def artifacts_uri(self) -> str:
        return f"s3://{self.bucket['artifacts']}/emr"

    @property
    def install_dir(self) -> Path:
        return self.work / "opt" / "shopstream"

    @property
    def mart_secret(self) -> str:
        return f"rehearsal/{self.tag}/mart-password"

    def s3(self) -> Any:
        return self.s3_client("s3")

    def s3_client(self, service: str) -> Any:
        """A client of the local S3 API (moto: S3, EMR, Secrets Manager)."""
        return boto_client(self.settings, service)

    def aws_env(self) -> dict[str, str]:
        """What the AWS CLI/SDK of a node sees: the local S3 API (and EMR API) instead of AWS."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": self.settings.s3.region,
        }

    def clean_env(self) -> dict[str, str]:
        """The machine's environment without this checkout's virtualenv or SHOPSTREAM_* settings."""
        venv_bin = str(Path(sys.executable).parent)
        path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
        keep = {
            k: v for k, v in os.environ.items() if not k.startswith(("SHOPSTREAM_", "PYTHON", "VIRTUAL_ENV"))
        }
        return {**keep, "PATH": path}

    def run(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log: str, timeout: float = 1800
    ) -> None:
        """Run ``argv`` with its output in ``logs/<log>.log``; a non-zero exit raises with its tail."""
        logfile = self.work / "logs" / f"{log}.log"
        logfile.parent.mkdir(parents=True, exist_ok=True)
        with logfile.open("w") as fh:
            res = subprocess.run(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if res.returncode != 0:
            tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-25:])
            raise RehearsalError(f"{log}: exit {res.returncode} ({logfile})\n{tail}")

    def timed(self, entry: str, artifact: str, environment: str, fn: Any) -> Any:
        """Run ``fn`` as one row of the table (its result a string, or "ok"; a failure is a row too)."""
        t0 = time.monotonic()
        try:
            out = fn()
        except Exception as exc:
            self.rows.append(
                Row(entry, artifact, environment, f"FAILED: {str(exc).splitlines()[0]}", _since(t0))
            )
            raise
        self.rows.append(Row(entry, artifact, environment, out if isinstance(out, str) else "ok", _since(t0)))
        return out


def _since(t0: float) -> float:
    return round(time.monotonic() - t0, 1)


def table(rows: Sequence[Row]) -> str:
    head = ("entry point", "artifact", "environment source", "result", "seconds")
    cells = [head, *((r.entry_point, r.artifact, r.environment, r.result, f"{r.seconds:.1f}") for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = [" | ".join(c[i].ljust(widths[i]) for i in range(len(head))) for c in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def rehearsal_hour(tag: str) -> datetime:
    """A closed hour of its own (after the DAGs' start date) so parallel tests never share it."""
    return datetime(2026, 11, 2, tzinfo=UTC) + timedelta(hours=int(tag, 16) % (24 * 14))


def keep_or_remove(path: Path) -> None:
    if not os.environ.get("SHOPSTREAM_REHEARSAL_KEEP"):
        shutil.rmtree(path, ignore_errors=True)
