"""AWS clients for both targets: the S3 API on loopback (moto) locally, real AWS otherwise."""

from __future__ import annotations

import os
from typing import Any

from shopstream.config import Settings


def is_local_endpoint(settings: Settings) -> bool:
    url = settings.s3.endpoint_url
    return url.startswith(("http://127.0.0.1", "http://localhost"))


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for boto3 clients. Credentials come from the environment / IAM role;
    against the local S3 API (which accepts anything) placeholder keys are used if none are set."""
    kw: dict[str, Any] = {"region_name": settings.s3.region}
    if settings.s3.endpoint_url:
        kw["endpoint_url"] = settings.s3.endpoint_url
    if is_local_endpoint(settings) and not os.environ.get("AWS_ACCESS_KEY_ID"):
        kw["aws_access_key_id"] = "local"
        kw["aws_secret_access_key"] = "local"
    return kw


def boto_client(settings: Settings, service: str) -> Any:
    # boto3 loads with the first client (~0.5 s the commands that make none never pay)
    import boto3

    return boto3.client(service, **client_kwargs(settings))
