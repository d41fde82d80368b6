"""Durations as people write them on the command line and in the profiles: ``90``, ``5s``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_seconds(text: str) -> float:
    """``"90"`` (seconds), ``"90s"``, ``"1h30m"``, ``"250ms"`` -> seconds. Raises ValueError.

    Only non-negative decimal numbers with units: no sign, exponent, ``inf`` or ``nan``.
    """
    s = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(f"{text!r} is not a duration (examples: 30s, 5m, 1h30m, 250ms)")
    return total


def parse_duration(text: str) -> timedelta:
    """Like :func:`parse_seconds`, as a timedelta."""
    return timedelta(seconds=parse_seconds(text))
