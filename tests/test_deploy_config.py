"""The environment Terraform publishes to every shopstream pod is valid shopstream configuration.

The workloads stack's ``endpoints`` map becomes the pods' environment (ConfigMap
``shopstream-endpoints``). Every key must be a real configuration key, and together they must
satisfy every ``${...}`` placeholder of conf/aws.yaml — otherwise a pod would exit 2 on start.
"""

from __future__ import annotations

import re
from pathlib import Path

import hcl2

from shopstream import config

STACK = Path(__file__).resolve().parent.parent / "terraform" / "stacks" / "workloads" / "main.tf"

DUMMY = {
    "URL": "https://vpc-shopstream.example",
    "ARN": "arn:aws:iam::123456789012:role/shopstream-copy",
    "BUCKET": "acme-shopstream-bucket",
    "REGION": "ap-northeast-2",
    "ARTIFACTS": "s3://acme-artifacts/shopstream/",
    "PROFILE": "aws",
}


def _endpoint_keys() -> list[str]:
    tf = hcl2.loads(STACK.read_text())
    for block in tf.get("module", []):
        for body in block.values():
            if "endpoints" in body:
                return [k.strip('"') for k in body["endpoints"] if not k.startswith("__")]
    raise AssertionError("the workloads stack has no endpoints map")


def _dummy(key: str) -> str:
    for suffix, value in DUMMY.items():
        if key.endswith(suffix):
            return value
    return "value-" + key.lower().replace("_", "-")[-20:]


def test_every_published_key_loads_as_aws_configuration() -> None:
    keys = _endpoint_keys()
    assert "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS" in keys
    env = {k: _dummy(k) for k in keys}
    settings = config.load("aws", environ=env)  # raises ConfigError (exit 2) on any unknown key
    assert settings.warehouse.copy_iam_role_arn == DUMMY["ARN"]
    assert settings.emr.artifacts == DUMMY["ARTIFACTS"]


def test_published_keys_cover_every_placeholder_of_the_aws_profile() -> None:
    placeholders = set(re.findall(r"\$\{([A-Z0-9_]+)\}", (config.CONF_DIR / "aws.yaml").read_text()))
    assert placeholders <= set(_endpoint_keys())
