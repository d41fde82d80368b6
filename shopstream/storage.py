"""Read and write small files (manifests, summaries) on a local path or on S3 (s3a:// or s3://)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from shopstream.aws import boto_client
from shopstream.config import Settings


def _is_s3(uri: str) -> bool:
    return uri.startswith(("s3a://", "s3://"))


def _local(uri: str) -> Path:
    return Path(uri[len("file:") :] if uri.startswith("file:") else uri)


def write_text(settings: Settings, uri: str, text: str) -> None:
    if _is_s3(uri):
        u = urlparse(uri)
        boto_client(settings, "s3").put_object(Bucket=u.netloc, Key=u.path.lstrip("/"), Body=text.encode())
        return
    p = _local(uri)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(p)


def read_bytes(settings: Settings, uri: str) -> bytes:
    if _is_s3(uri):
        u = urlparse(uri)
        body = boto_client(settings, "s3").get_object(Bucket=u.netloc, Key=u.path.lstrip("/"))["Body"]
        return bytes(body.read())
    return _local(uri).read_bytes()
