"""OpenSearch side of the real-time path: client, template install, counts.

Templates and ISM policies are the generated files in ``logstash/templates/`` (never rebuilt here),
so the local node and Amazon OpenSearch Service get byte-for-byte the same definitions; only the
replica count is lowered to what the cluster can hold (a single local node gets 0 replicas).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopstream.errors import RuntimeFailure
from shopstream.realtime.spec import INDEX_PREFIX, LOGSTASH_DIR, TIME_FIELD, entity_indexes

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from shopstream.config import Settings

TEMPLATES_DIR = LOGSTASH_DIR / "templates"


class OpenSearchError(RuntimeFailure):
    """OpenSearch could not be reached or refused a request (exit code 1 in the CLI)."""


def client(settings: Settings, *, timeout: float = 30.0) -> OpenSearch:
    """A client for the profile's OpenSearch (AWS: SigV4-signed with the ambient IAM role)."""
    from opensearchpy import OpenSearch, RequestsHttpConnection

    kwargs: dict[str, Any] = {
        "hosts": [settings.opensearch.url],
        "verify_certs": settings.opensearch.verify_certs,
        "ssl_show_warn": settings.opensearch.verify_certs,
        "timeout": timeout,
        "http_compress": settings.profile == "aws",
    }
    if settings.profile == "aws":  # pragma: no cover - needs AWS credentials
        import boto3
        from opensearchpy import AWSV4SignerAuth

        creds = boto3.Session().get_credentials()
        kwargs["http_auth"] = AWSV4SignerAuth(creds, settings.s3.region, "es")
        kwargs["connection_class"] = RequestsHttpConnection
    return OpenSearch(**kwargs)


def _load(name: str, templates_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((templates_dir / name).read_text(encoding="utf-8"))
    return data


@dataclass
class InstallResult:
    templates: list[str]
    ism_policies: list[str]
    ism_skipped: str = ""


def _data_nodes(os_client: OpenSearch) -> int:
    nodes = os_client.cat.nodes(format="json", h="node.role")
    return sum(1 for n in nodes if "d" in str(n.get("node.role", "")))


def install_templates(
    settings: Settings,
    *,
    os_client: OpenSearch | None = None,
    index_prefix: str = "",
    templates_dir: Path = TEMPLATES_DIR,
) -> InstallResult:
    """PUT the index templates (and the ISM policies when the cluster has ISM). Idempotent.

    ``index_prefix`` (tests, benchmarks) prefixes index patterns, aliases and template names so an
    isolated namespace gets the same mappings.
    """
    from opensearchpy import OpenSearchException, TransportError

    c = os_client or client(settings)
    try:
        replicas = min(1, max(0, _data_nodes(c) - 1))
        names = []
        files = [f"{e}.json" for e in entity_indexes()] + ["deadletter.json"]
        for fname in files:
            body = _load(fname, templates_dir)
            body["index_patterns"] = [index_prefix + p for p in body["index_patterns"]]
            body["template"]["aliases"] = {
                index_prefix + a: v for a, v in body["template"]["aliases"].items()
            }
            body["template"]["settings"]["index"]["number_of_replicas"] = replicas
            name = f"{index_prefix}{INDEX_PREFIX}-{fname.removesuffix('.json')}"
            c.indices.put_index_template(name=name, body=body)
            names.append(name)
        plugins = {p.get("component") for p in c.cat.plugins(format="json")}
        if "opensearch-index-management" not in plugins:
            return InstallResult(names, [], "no index-management (ISM) plugin on this cluster")
        policies = []
        for path in sorted(templates_dir.glob("ism-*.json")):
            policy_id = index_prefix + path.stem.removeprefix("ism-")
            body = _load(path.name, templates_dir)
            for t in body["policy"].get("ism_template", []):
                t["index_patterns"] = [index_prefix + p for p in t["index_patterns"]]
            try:
                current = c.transport.perform_request("GET", f"/_plugins/_ism/policies/{policy_id}")
                params = {"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]}
            except TransportError as exc:
                if exc.status_code != 404:
                    raise
                params = {}
            c.transport.perform_request(
                "PUT", f"/_plugins/_ism/policies/{policy_id}", params=params, body=body
            )
            policies.append(policy_id)
        return InstallResult(names, policies)
    except OpenSearchException as exc:
        raise OpenSearchError(f"installing templates at {settings.opensearch.url} failed: {exc}") from None


def count_by_hour(settings: Settings, entity: str, hour_start: datetime, *, index_prefix: str = "") -> int:
    """Documents of ``entity`` whose event time (``created_at``) is in [hour_start, +1h).

    The reconciliation ledger's "opensearch" stage. Refreshes first, so every acknowledged write
    counts. Missing indices count as 0.
    """
    from opensearchpy import OpenSearchException

    if hour_start.tzinfo is None:
        raise ValueError("hour_start must be timezone-aware (UTC)")
    idx = entity_indexes()[entity]
    pattern = index_prefix + idx.pattern
    c = client(settings)
    body = {
        "query": {
            "range": {
                TIME_FIELD: {
                    "gte": hour_start.isoformat(),
                    "lt": (hour_start + timedelta(hours=1)).isoformat(),
                }
            }
        }
    }
    try:
        c.indices.refresh(index=pattern, allow_no_indices=True, ignore_unavailable=True)
        res = c.count(index=pattern, body=body, allow_no_indices=True, ignore_unavailable=True)
    except OpenSearchException as exc:
        raise OpenSearchError(f"counting {entity} at {settings.opensearch.url} failed: {exc}") from None
    return int(res["count"])


def counts(
    settings: Settings, *, index_prefix: str = "", os_client: OpenSearch | None = None
) -> dict[str, int]:
    """Live document counts: each entity's alias and each entity's dead letters."""
    from opensearchpy import OpenSearchException

    c = os_client or client(settings)
    out: dict[str, int] = {}
    try:
        for name, idx in entity_indexes().items():
            for key, pattern in ((name, idx.pattern), (f"{name} dead letters", idx.deadletter_pattern)):
                res = c.count(index=index_prefix + pattern, allow_no_indices=True, ignore_unavailable=True)
                out[key] = int(res["count"])
    except OpenSearchException as exc:
        raise OpenSearchError(f"counting at {settings.opensearch.url} failed: {exc}") from None
    return out
