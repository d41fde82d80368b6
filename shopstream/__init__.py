"""shopstream: commerce events through Kafka, Spark/Delta, a warehouse, a mart, OpenSearch and S3."""

from __future__ import annotations

__version__ = "0.1.0"
