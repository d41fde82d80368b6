"""Headless Chromium (Debian's ``chromium``) for the report: flags and a PNG screenshot.

The flags keep the browser off the network entirely (no background services, component updates,
sync or QUIC), and every run gets a fresh profile directory. Nothing here downloads a browser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


class BrowserError(Exception):
    """No Chromium on this machine, or it failed (one line)."""


def chromium() -> str:
    """Path of the system Chromium (``$SHOPSTREAM_CHROMIUM`` overrides)."""
    env = os.environ.get("SHOPSTREAM_CHROMIUM")
    found = env or next((p for p in map(shutil.which, CHROMIUM_CANDIDATES) if p), None)
    if not found or not Path(found).exists():
        raise BrowserError(
            "no chromium found (Debian: apt-get install chromium); or set $SHOPSTREAM_CHROMIUM"
        )
    return found


def screenshot(page: Path, png: Path, *, width: int = 1280, height: int = 1800, timeout: float = 120) -> Path:
    """A PNG of the top ``width`` x ``height`` of ``page`` (a local HTML file)."""
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="shopstream-chromium-") as profile:
        cmd = [
            chromium(),
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={png.resolve()}",
            page.resolve().as_uri(),
        ]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BrowserError(f"chromium took longer than {timeout:.0f} s") from None
    if res.returncode != 0 or not png.exists():
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise BrowserError(f"chromium failed (exit {res.returncode}): {last}")
    return png
