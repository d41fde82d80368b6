"""The real-time path: Kafka -> OpenSearch with the Logstash pipelines' semantics.

* :mod:`shopstream.realtime.spec` — the one spec: index names, doc id, transforms, templates, ISM.
* :mod:`shopstream.realtime.logstash` — the Logstash pipelines and ConfigMaps rendered from it.
* :mod:`shopstream.realtime.saved_objects` — the dashboards' saved objects rendered from it.
* :mod:`shopstream.realtime.generate` — every generated file under ``logstash/`` (write, check).
* :mod:`shopstream.realtime.transforms` — pure record -> bulk action functions.
* :mod:`shopstream.realtime.consumer` — ``shopstream realtime`` (confluent-kafka + opensearch-py).
* :mod:`shopstream.realtime.opensearch` — client, template install, counts (``count_by_hour``).
* :mod:`shopstream.realtime.dashboards` — saved-objects validation and import.

Nothing is imported eagerly: importing this package opens no connection.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shopstream.config import Settings

__all__ = ["count_by_hour"]


def count_by_hour(settings: Settings, entity: str, hour_start: datetime) -> int:
    """Documents of ``entity`` in OpenSearch with event time in [hour_start, hour_start + 1h).

    The reconciliation ledger's "opensearch" stage (``hour_start`` must be timezone-aware, UTC).
    """
    from shopstream.realtime.opensearch import count_by_hour as _count

    return _count(settings, entity, hour_start)
