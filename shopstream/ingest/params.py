"""What shapes the stream-ingest query: :class:`StreamParams` (parsed once by the entry point,
passed down to the source, the writer and the watermark tracker)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta

from shopstream import lake


@dataclass(frozen=True)
class StreamParams:
    """Everything that shapes the query (parsed once in ``main``, passed down)."""

    starting_offsets: str = "earliest"
    max_offsets_per_trigger: int | None = 50_000
    trigger_interval: timedelta = timedelta(seconds=1)
    available_now: bool = False
    lateness: timedelta = timedelta(minutes=10)
    dedupe_window: timedelta = timedelta(hours=1)  # how long an event_id is remembered
    idle_timeout: timedelta = timedelta(minutes=1)  # 0 = the watermark only moves with data
    topic_prefix: str = ""
    query_name: str = lake.STREAM_QUERY
    watermark_every: timedelta = timedelta(seconds=30)  # unless its hour moved (then at once)
    watermark_rewrite_every: int = 50  # _watermarks is rewritten (compacted) every N appends
    stop_timeout: timedelta = timedelta(minutes=5)

    def validate(self) -> StreamParams:
        so = self.starting_offsets.strip()
        if so not in ("earliest", "latest"):
            try:
                json.loads(so)
            except ValueError:
                raise ValueError("--starting-offsets: earliest, latest or Kafka's JSON offsets") from None
        if self.max_offsets_per_trigger is not None and self.max_offsets_per_trigger < 1:
            raise ValueError(f"--max-offsets-per-trigger: must be >= 1, got {self.max_offsets_per_trigger}")
        if min(self.trigger_interval, self.lateness, self.dedupe_window, self.idle_timeout) < timedelta(0):
            raise ValueError("--trigger, --lateness, --dedupe-window and --idle-timeout must not be negative")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.query_name):
            raise ValueError(f"--query-name: letters, digits, '_' and '-' only, got {self.query_name!r}")
        return self
