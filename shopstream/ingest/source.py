"""The stream's Kafka side: which topics (one per contract entity), the options of Spark's Kafka
source (``failOnDataLoss`` always on), each topic's partitions (the watermark waits for all of
them) and how far a batch is behind the latest offsets. Offsets themselves live in the query's
checkpoint; nothing here commits any.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shopstream.contract import Contract
from shopstream.ingest.params import StreamParams
from shopstream.spark import kafka_source_options

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from shopstream.config import Settings


def topic_entities(contract: Contract, topic_prefix: str = "") -> dict[str, str]:
    """Kafka topic -> entity name for every entity of the contract."""
    return {topic_prefix + ent.topic: name for name, ent in contract.entities.items()}


def kafka_options(settings: Settings, topics: list[str], params: StreamParams) -> dict[str, str]:
    """Options of Spark's Kafka source (pure): the profile's connection (``kafka_source_options``,
    MSK IAM on AWS) plus the stream's subscription. ``failOnDataLoss`` is always on."""
    opts = {
        **kafka_source_options(settings),
        "subscribe": ",".join(sorted(topics)),
        "startingOffsets": params.starting_offsets,
        "failOnDataLoss": "true",
    }
    if params.max_offsets_per_trigger:
        opts["maxOffsetsPerTrigger"] = str(params.max_offsets_per_trigger)
    return opts


def read_kafka(spark: SparkSession, settings: Settings, topics: list[str], params: StreamParams) -> DataFrame:
    reader = spark.readStream.format("kafka")
    for key, value in kafka_options(settings, topics, params).items():
        reader = reader.option(key, value)
    return reader.load()


def topic_partitions(settings: Settings, topics: Mapping[str, str], timeout: float = 30.0) -> dict[str, int]:
    """Entity -> number of partitions of its topic (the watermark waits for all of them)."""
    from confluent_kafka.admin import AdminClient

    from shopstream.kafka_admin import client_config

    meta = AdminClient(client_config(settings)).list_topics(timeout=timeout)
    out: dict[str, int] = {}
    for topic, entity in topics.items():
        t = meta.topics.get(topic)
        if t is None or t.error is not None or not t.partitions:
            raise RuntimeError(f"topic {topic} does not exist on {settings.kafka.bootstrap_servers}")
        out[entity] = len(t.partitions)
    return out


def lag(progress: Mapping[str, Any], topics: Mapping[str, str]) -> dict[str, dict[int, int]]:
    """Records behind the latest offset, per entity and partition, from a query progress."""
    out: dict[str, dict[int, int]] = {}
    for src in progress.get("sources", []):
        end, latest = src.get("endOffset"), src.get("latestOffset")
        end = json.loads(end) if isinstance(end, str) else end
        latest = json.loads(latest) if isinstance(latest, str) else latest
        if not isinstance(end, dict) or not isinstance(latest, dict):
            continue
        for topic, parts in latest.items():
            entity = topics.get(topic, topic)
            for p, off in parts.items():
                out.setdefault(entity, {})[int(p)] = max(0, int(off) - int(end.get(topic, {}).get(p, 0)))
    return out
