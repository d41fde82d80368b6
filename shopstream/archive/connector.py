"""The archive connectors' one configuration (portable files, environment keys, local-only keys),
rendered for the local worker (:mod:`shopstream.archive.local_worker`) and for Terraform's MSK Connect."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Literal

import yaml

from shopstream.archive import ArchiveError
from shopstream.config import CONF_DIR, Settings
from shopstream.contract import CONTRACT_PATH, check_entity
from shopstream.contract import entities as contract_entities

CONNECT_CONF = CONF_DIR / "connect"
COMMON_FILE = "sink-common.json"
LOCAL_FILE = "local.json"
WORKER_TEMPLATE = "worker.properties"
# Keys the environment supplies (settings locally, Terraform variables on AWS).
ENVIRONMENT_KEYS = (
    "aws.s3.bucket.name",
    "aws.s3.region",
    "errors.deadletterqueue.topic.replication.factor",
)

Target = Literal["local", "aws"]
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


def _read_json(name: str) -> dict[str, str]:
    path = CONNECT_CONF / name
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArchiveError(f"conf/connect/{name}: file not found") from None
    except json.JSONDecodeError as exc:
        raise ArchiveError(f"conf/connect/{name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ArchiveError(f"conf/connect/{name}: top level must be an object of string properties")
    bad = [k for k, v in data.items() if not isinstance(v, str)]
    if bad:
        # MSK Connect's connector_configuration is map(string): keep the files string-only.
        raise ArchiveError(f"conf/connect/{name}: values must be strings (Kafka Connect properties): {bad}")
    return data


def require_entity(entity: str) -> None:
    try:
        check_entity(entity)
    except ValueError as exc:
        raise ArchiveError(str(exc)) from None


def portable_properties(entity: str) -> dict[str, str]:
    """The connector properties shared by every target: sink-common.json overlaid by <entity>.json."""
    require_entity(entity)
    common = _read_json(COMMON_FILE)
    specific = _read_json(f"{entity}.json")
    clash = sorted(set(common) & set(specific))
    if clash:
        raise ArchiveError(f"conf/connect/{entity}.json repeats keys of {COMMON_FILE}: {clash}")
    return {**common, **specific}


def environment_properties(settings: Settings) -> dict[str, str]:
    """Per-deployment values taken from the settings (Terraform sets the same keys from variables)."""
    return {
        "aws.s3.bucket.name": settings.s3.archive_bucket,
        "aws.s3.region": settings.s3.region,
        "errors.deadletterqueue.topic.replication.factor": str(settings.kafka.replication_factor),
    }


def local_properties(settings: Settings) -> dict[str, str]:
    """Local-only keys (the loopback S3 endpoint; credentials come from the worker's environment)."""
    raw = _read_json(LOCAL_FILE)
    values = {"S3_ENDPOINT_URL": settings.s3.endpoint_url}
    if not settings.s3.endpoint_url:
        raise ArchiveError("s3.endpoint_url is empty: the local archive needs the local S3 API endpoint")
    return {k: fill(v, values, LOCAL_FILE) for k, v in raw.items()}


# The contract's event-time range (logical_types.timestamp) -> the plugin's properties.
CONTRACT_RANGE_KEYS = {
    "earliest": "event.time.earliest",
    "max_future_skew_seconds": "event.time.max.future.skew.seconds",
}


def contract_properties() -> dict[str, str]:
    """The created_at rule's event-time range, read from conf/contract.yaml as Terraform reads it
    (``yamldecode``): the keys the contract's ``timestamp`` type defines, as strings."""
    spec = yaml.safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))["logical_types"]["timestamp"]
    return {prop: str(spec[key]) for key, prop in CONTRACT_RANGE_KEYS.items() if spec.get(key) is not None}


def connector_properties(settings: Settings, entity: str, target: Target = "local") -> dict[str, str]:
    """Everything the connector gets on ``target``: portable + the contract's event-time range +
    environment; local adds local.json."""
    portable = portable_properties(entity)
    clash = sorted(set(portable) & set(CONTRACT_RANGE_KEYS.values()))
    if clash:
        raise ArchiveError(
            f"conf/connect: {clash} come from conf/contract.yaml, not from the connector files"
        )
    props = {**portable, **contract_properties(), **environment_properties(settings)}
    if target == "local":
        local = local_properties(settings)
        clash = sorted(set(local) & set(props))
        if clash:
            raise ArchiveError(f"conf/connect/{LOCAL_FILE} must only add local keys, but overrides {clash}")
        props.update(local)
    return props


def terraform_connector_configuration(
    entity: str, bucket: str, region: str, dlq_replication_factor: int
) -> dict[str, str]:
    """What MSK Connect receives, computed the way terraform/ does it::

    merge(jsondecode(file("conf/connect/sink-common.json")),
          jsondecode(file("conf/connect/<entity>.json")),
          <event.time.* from yamldecode(file("conf/contract.yaml")).logical_types.timestamp>,
          { "aws.s3.bucket.name" = ..., "aws.s3.region" = ...,
            "errors.deadletterqueue.topic.replication.factor" = ... })
    """
    require_entity(entity)
    merged: dict[str, str] = {}
    for name in (COMMON_FILE, f"{entity}.json"):
        merged.update(json.loads((CONNECT_CONF / name).read_text()))
    merged.update(contract_properties())
    merged.update(
        {
            "aws.s3.bucket.name": bucket,
            "aws.s3.region": region,
            "errors.deadletterqueue.topic.replication.factor": str(dlq_replication_factor),
        }
    )
    return merged


def topics() -> dict[str, str]:
    """entity -> Kafka topic, as the connector files name them."""
    return {e: portable_properties(e)["topics"] for e in contract_entities()}


def dlq_topics() -> dict[str, str]:
    return {e: portable_properties(e)["errors.deadletterqueue.topic.name"] for e in contract_entities()}


def fill(value: str, values: Mapping[str, str], source: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise ArchiveError(f"conf/connect/{source}: unknown placeholder ${{{m.group(1)}}}")
        return values[m.group(1)]

    return _PLACEHOLDER.sub(repl, value)


def _escape_properties(value: str) -> str:
    # java.util.Properties: backslash escapes; leading spaces would be dropped.
    out = value.replace("\\", "\\\\").replace("\n", "\\n")
    return "\\" + out if out.startswith(" ") else out


def to_properties(props: Mapping[str, str]) -> str:
    return "".join(f"{k}={_escape_properties(v)}\n" for k, v in sorted(props.items()))
