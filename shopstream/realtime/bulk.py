"""One ``_bulk`` request per batch, with Logstash's output semantics: 429/5xx retried with backoff,
a document OpenSearch refuses (4xx) becomes a dead letter, anything else stops the worker."""

from __future__ import annotations

import time
from typing import Any

from shopstream.realtime.options import ConsumerFailure
from shopstream.realtime.spec import EntityIndex
from shopstream.realtime.transforms import Action, rejected_action


def bulk_body(actions: list[Action]) -> bytes:
    """The NDJSON ``_bulk`` body: each source was serialized once, when its action was built."""
    return b"".join([a.bulk_lines() for a in actions])


# what the loop reads of a bulk response (the full one echoes index, id, version, shards per item)
BULK_RESPONSE_FILTER = "errors,items.*.status,items.*.error"


def send_bulk(
    os_client: Any, actions: list[Action], by_entity: dict[str, EntityIndex], retries: int
) -> tuple[int, int]:
    """Index ``actions``; returns (documents, dead letters). Raises ConsumerFailure on failure.

    Per item, like Logstash's output: 429 and 5xx are retried with backoff (up to ``retries``
    rounds); any other 4xx means OpenSearch refused the document, which becomes a dead letter
    (Logstash: its DLQ, drained into the same index). A refused dead letter is fatal.
    """
    # opensearch-py loads with the client (shopstream.realtime.opensearch.client), in the worker
    from opensearchpy import OpenSearchException

    docs = sum(1 for a in actions if not a.dead_letter)
    dead = len(actions) - docs
    pending = actions
    attempt = 0
    while pending:
        try:
            res = os_client.bulk(body=bulk_body(pending), filter_path=BULK_RESPONSE_FILTER)
        except OpenSearchException as exc:
            status = getattr(exc, "status_code", None)
            if attempt < retries and (status in (429, "N/A") or (isinstance(status, int) and status >= 500)):
                attempt += 1
                time.sleep(min(10.0, 0.5 * 2**attempt))
                continue
            raise ConsumerFailure(f"bulk request failed: {exc}") from None
        if not res.get("errors"):
            return docs, dead
        transient: list[Action] = []
        refused: list[Action] = []
        for action, item in zip(pending, res["items"], strict=True):  # filtered: status (+ error)
            info = item.get("index", {})
            status = int(info.get("status", 0))
            if status < 300:
                continue
            if status == 429 or status >= 500:
                transient.append(action)
            elif action.dead_letter:
                raise ConsumerFailure(f"dead letter refused (status {status}): {info.get('error')}")
            else:
                err = info.get("error") or {}
                reason = (
                    f"{err.get('type', status)}: {err.get('reason', '')}"
                    if isinstance(err, dict)
                    else str(err)
                )
                refused.append(rejected_action(action, by_entity[action.entity], reason))
        docs -= len(refused)
        dead += len(refused)
        if transient:
            if attempt >= retries:
                raise ConsumerFailure(f"{len(transient)} bulk item(s) still failing after {retries} retries")
            attempt += 1
            time.sleep(min(10.0, 0.5 * 2**attempt))
        pending = transient + refused
    return docs, dead
