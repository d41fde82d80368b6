"""shopstream's custom checkov checks (what the built-in checks miss).

CKV_SHOP_1  S3 bucket policies deny every request not sent over TLS.
CKV_SHOP_2  MSK clusters require client authentication (IAM, SCRAM or mTLS) and TLS to clients.
CKV_SHOP_3  No security group ingress from 0.0.0.0/0 or ::/0, on any port.

Policies that checkov cannot render (for example a `data.aws_iam_policy_document` reference) FAIL
CKV_SHOP_1 on purpose: a check that silently passes what it cannot read proves nothing. Write
bucket policies inline with jsonencode().
"""

from __future__ import annotations

import json
import re
from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

OPEN_CIDRS = {"0.0.0.0/0", "::/0"}


def _first(value: Any) -> Any:
    """checkov wraps every attribute value in a one-element list."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def _statements(policy: Any) -> list[dict[str, Any]] | None:
    policy = _first(policy)
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return None
    if not isinstance(policy, dict):
        return None
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return [s for s in statements if isinstance(s, dict)]


def _denies_insecure_transport(statement: dict[str, Any]) -> bool:
    if str(statement.get("Effect", "")).lower() != "deny":
        return False
    condition = statement.get("Condition", {})
    bool_condition = condition.get("Bool", {}) if isinstance(condition, dict) else {}
    value = bool_condition.get("aws:SecureTransport") if isinstance(bool_condition, dict) else None
    values = value if isinstance(value, list) else [value]
    return any(str(v).lower() == "false" for v in values)


# A jsonencode() whose references checkov could not resolve stays a Python-repr string.
_REPR_DENY = re.compile(r"'Effect':\s*'Deny'", re.IGNORECASE)
_REPR_TLS = re.compile(r"'aws:SecureTransport':\s*'false'", re.IGNORECASE)


class S3BucketPolicyTlsOnly(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure S3 bucket policies deny requests without TLS (aws:SecureTransport = false)",
            id="CKV_SHOP_1",
            categories=[CheckCategories.ENCRYPTION],
            supported_resources=["aws_s3_bucket_policy"],
        )

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        raw = _first(conf.get("policy"))
        statements = _statements(raw)
        if statements is not None:
            ok = any(_denies_insecure_transport(s) for s in statements)
            return CheckResult.PASSED if ok else CheckResult.FAILED
        if isinstance(raw, str) and raw.startswith("jsonencode("):
            ok = bool(_REPR_DENY.search(raw) and _REPR_TLS.search(raw))
            return CheckResult.PASSED if ok else CheckResult.FAILED
        return CheckResult.FAILED


class MskClientAuthentication(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure MSK clusters require client authentication and TLS between clients and brokers",
            id="CKV_SHOP_2",
            categories=[CheckCategories.IAM],
            supported_resources=["aws_msk_cluster"],
        )

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        auth = _first(conf.get("client_authentication"))
        if not isinstance(auth, dict):
            return CheckResult.FAILED
        if _first(auth.get("unauthenticated")) is True:
            return CheckResult.FAILED
        sasl = _first(auth.get("sasl"))
        tls = _first(auth.get("tls"))
        has_sasl = isinstance(sasl, dict) and any(_first(sasl.get(k)) is True for k in ("iam", "scram"))
        has_mtls = isinstance(tls, dict) and bool(_first(tls.get("certificate_authority_arns")))
        if not (has_sasl or has_mtls):
            return CheckResult.FAILED
        encryption = _first(conf.get("encryption_info"))
        in_transit = _first(encryption.get("encryption_in_transit")) if isinstance(encryption, dict) else None
        client_broker = _first(in_transit.get("client_broker")) if isinstance(in_transit, dict) else "TLS"
        return CheckResult.PASSED if client_broker in (None, "TLS") else CheckResult.FAILED


def _open(values: Any) -> bool:
    if values is None:
        return False
    flat: list[Any] = []
    stack = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        else:
            flat.append(item)
    return any(isinstance(v, str) and v.strip() in OPEN_CIDRS for v in flat)


class NoOpenIngress(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure no security group allows ingress from 0.0.0.0/0 or ::/0 on any port",
            id="CKV_SHOP_3",
            categories=[CheckCategories.NETWORKING],
            supported_resources=[
                "aws_security_group",
                "aws_security_group_rule",
                "aws_vpc_security_group_ingress_rule",
            ],
        )

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        rtype = self.entity_type
        if rtype == "aws_security_group":
            for rule in conf.get("ingress", []) or []:
                rule = _first(rule)
                if isinstance(rule, dict) and (
                    _open(rule.get("cidr_blocks")) or _open(rule.get("ipv6_cidr_blocks"))
                ):
                    return CheckResult.FAILED
            return CheckResult.PASSED
        if rtype == "aws_security_group_rule":
            if _first(conf.get("type")) != "ingress":
                return CheckResult.PASSED
            bad = _open(conf.get("cidr_blocks")) or _open(conf.get("ipv6_cidr_blocks"))
            return CheckResult.FAILED if bad else CheckResult.PASSED
        bad = _open(conf.get("cidr_ipv4")) or _open(conf.get("cidr_ipv6"))
        return CheckResult.FAILED if bad else CheckResult.PASSED


s3_bucket_policy_tls_only = S3BucketPolicyTlsOnly()
msk_client_authentication = MskClientAuthentication()
no_open_ingress = NoOpenIngress()
