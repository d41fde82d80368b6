"""Chaos injection for reliability tests: malformed records, duplicates, late events.

Chaos draws come from their own seeded RNG, so the valid event stream of a run is the same
with or without chaos (only the ``created_at`` of late events differs).

* ``malformed`` (ratio per valid event): after a valid event, with this probability, one EXTRA
  record goes to the same topic with the same key: a corrupted copy with a fresh ``event_id``.
  Kinds (uniformly chosen, each counted): ``bad_json`` (truncated JSON), ``wrong_types`` (one
  field with the wrong JSON type), ``missing_fields`` (one required field removed), ``oversized``
  (a field padded so the record exceeds ``max_event_bytes``, still below Kafka's 1 MB limit),
  ``non_utf8`` (a text field encoded as CP949, the legacy Korean code page).
* ``duplicates`` (ratio per valid event): with this probability, one of the last
  ``DUPLICATE_WINDOW`` records (same key, same bytes, same ``event_id``) is sent again, as a
  producer retry after a restart would.
* ``late`` (ratio per valid event): the event's ``created_at`` is moved ``late_by`` earlier; the
  event is otherwise valid and counted once, in the hour of its (late) event time.
"""

from __future__ import annotations

import json
import random
from typing import Any

from producer.generators import uuid4_from_int

MALFORMED_KINDS = ("bad_json", "wrong_types", "missing_fields", "oversized", "non_utf8")
DUPLICATE_WINDOW = 1024
OVERSIZE_FACTOR = 4  # an oversized record is ~4 x max_event_bytes (32 KiB with the default contract)

# text fields that get the CP949 treatment / the padding, per entity
_TEXT_FIELD = {"users": "name", "orders": "second_category"}
_CP949_TEXT = {"users": None, "orders": "블라우스"}


class Chaos:
    """Decides and builds chaos records. Holds only fixed-size state (a ring of recent records)."""

    def __init__(
        self,
        seed: int,
        *,
        malformed: float = 0.0,
        duplicates: float = 0.0,
        late: float = 0.0,
        max_event_bytes: int = 8192,
    ) -> None:
        for name, ratio in (("malformed", malformed), ("duplicates", duplicates), ("late", late)):
            if not 0.0 <= ratio <= 1.0:
                raise ValueError(f"{name} ratio must be within [0, 1], got {ratio}")
        self.rng = random.Random(f"shopstream:{seed}:chaos")
        self.malformed = malformed
        self.duplicates = duplicates
        self.late = late
        self.max_event_bytes = max_event_bytes
        self._ring: list[tuple[str, str, str | bytes, int] | None] = [None] * DUPLICATE_WINDOW
        self._ring_pos = 0
        self._ring_len = 0

    @property
    def enabled(self) -> bool:
        return bool(self.malformed or self.duplicates)

    # --- duplicates -------------------------------------------------------------------------
    def remember(self, topic: str, key: str, value: str | bytes, category: int) -> None:
        self._ring[self._ring_pos] = (topic, key, value, category)
        self._ring_pos = (self._ring_pos + 1) % DUPLICATE_WINDOW
        if self._ring_len < DUPLICATE_WINDOW:
            self._ring_len += 1

    def pick_duplicate(self) -> tuple[str, str, str | bytes, int]:
        rec = self._ring[int(self.rng.random() * self._ring_len)]
        assert rec is not None
        return rec

    # --- malformed --------------------------------------------------------------------------
    def pick_kind(self) -> str:
        return MALFORMED_KINDS[int(self.rng.random() * len(MALFORMED_KINDS))]

    def malformed_value(self, kind: str, entity: str, value: str) -> bytes:
        """A corrupted copy (fresh event_id) of a valid JSON event of ``entity``."""
        event: dict[str, Any] = json.loads(value)
        event["event_id"] = uuid4_from_int(self.rng.getrandbits(128))
        if kind == "bad_json":
            text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
            cut = 1 + int(self.rng.random() * (len(text) - 2))  # a strict prefix of an object
            return text[:cut].encode("utf-8")
        if kind == "wrong_types":
            names = [n for n in event if n != "event_id"]
            name = names[int(self.rng.random() * len(names))]
            v = event[name]
            event[name] = str(v) if isinstance(v, int) else int(self.rng.random() * 100000)
        elif kind == "missing_fields":
            names = list(event)
            del event[names[int(self.rng.random() * len(names))]]
        elif kind == "oversized":
            event[_TEXT_FIELD[entity]] = "x" * (self.max_event_bytes * OVERSIZE_FACTOR)
        elif kind == "non_utf8":
            field = _TEXT_FIELD[entity]
            marker = "__shopstream_cp949__"
            original = event[field]
            event[field] = marker
            text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
            legacy = (_CP949_TEXT[entity] or original).encode("cp949", errors="replace")
            raw = text.encode("utf-8").replace(json.dumps(marker).encode(), b'"' + legacy + b'\xff"')
            return raw  # the trailing 0xFF makes it invalid UTF-8 whatever the CP949 bytes were
        else:
            raise ValueError(f"unknown malformed kind {kind!r}")
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
