"""``shopstream report``: one self-contained HTML page of both paths against the contract.

:func:`write` reads the period (:mod:`.data`), renders the charts and the page (:mod:`.charts`,
:mod:`.page`) and replaces the output file atomically (a temporary file renamed into place), so
an interrupted run never leaves half a page. :mod:`.browser` shoots a PNG with headless Chromium.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from shopstream.config import Settings
from shopstream.report import data as data_mod
from shopstream.report import page
from shopstream.report.data import ReportData, ReportError

__all__ = ["ReportError", "Written", "default_path", "write"]


@dataclass(frozen=True)
class Written:
    path: Path
    data: ReportData
    seconds: float
    size: int


def default_path(settings: Settings, start: datetime, end: datetime) -> Path:
    return settings.state_path / "reports" / f"report-{start:%Y%m%dT%H}-{end:%Y%m%dT%H}.html"


def write(
    settings: Settings,
    start: datetime,
    end: datetime,
    out: Path | None = None,
    *,
    index_prefix: str = "",
    now: datetime | None = None,
) -> Written:
    """Read the period from both paths and write the page to ``out`` (default under the state dir)."""
    t0 = time.perf_counter()
    path = out or default_path(settings, start, end)
    report = data_mod.collect(settings, start, end, index_prefix=index_prefix, now=now)
    text = page.render(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Written(path, report, time.perf_counter() - t0, len(text.encode()))
