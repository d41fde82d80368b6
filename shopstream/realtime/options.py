"""Options of a run of the real-time consumer (``shopstream realtime``) and its failure."""

from __future__ import annotations

from dataclasses import dataclass

from shopstream.errors import RuntimeFailure, UsageError
from shopstream.realtime.spec import LOCAL_GROUP_ID


class ConsumerFailure(RuntimeFailure):
    """Kafka or OpenSearch failed in a way that must stop the consumer (nothing was committed)."""


@dataclass
class RunOptions:
    workers: int = 1
    from_beginning: bool = False
    max_events: int | None = None
    idle_exit: float | None = None
    batch_size: int = 2000
    poll_timeout: float = 0.1
    topic_prefix: str = ""
    index_prefix: str = ""
    group_id: str = LOCAL_GROUP_ID
    bootstrap_servers: str | None = None
    install_templates: bool = True
    progress: bool = True
    bulk_retries: int = 5
    bulk_concurrency: int = 2

    def validate(self) -> RunOptions:
        if self.workers < 1:
            raise UsageError(f"--workers: must be >= 1, got {self.workers}")
        if self.max_events is not None and self.max_events < 1:
            raise UsageError(f"--max-events: must be >= 1, got {self.max_events}")
        if self.idle_exit is not None and self.idle_exit <= 0:
            raise UsageError(f"--idle-exit: must be > 0 seconds, got {self.idle_exit:g}")
        if self.max_events is not None and self.idle_exit is not None:
            raise UsageError("--max-events and --idle-exit exclude each other")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size: must be >= 1, got {self.batch_size}")
        if not 1 <= self.bulk_concurrency <= 16:
            raise UsageError(f"--bulk-concurrency: must be 1..16, got {self.bulk_concurrency}")
        return self
