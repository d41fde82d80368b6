"""shopstream's custom checkov checks (what the built-in checks miss).

CKV_SHOP_1  S3 bucket policies deny every request not sent over TLS.
CKV_SHOP_2  MSK clusters require client authentication (IAM, SCRAM or mTLS) and TLS to clients.
CKV_SHOP_3  No security group ingress from 0.0.0.0/0 or ::/0, on any port.
CKV_SHOP_4  Ingress rules reference client security groups, never CIDR blocks.
CKV_SHOP_5  IRSA trust policies name exact service accounts with StringEquals.
CKV_SHOP_6  IAM grants name key prefixes: no "*" resource, no whole-bucket objects, no master secret.

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


# --- least privilege and network identity (issue #16) ---------------------------------------------
def _flat(values: Any) -> list[Any]:
    out: list[Any] = []
    stack = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif item is not None:
            out.append(item)
    return out


class IngressFromSecurityGroups(BaseResourceCheck):
    """Data stores admit their clients' security groups; a CIDR admits every host in it."""

    def __init__(self) -> None:
        super().__init__(
            name="Ensure ingress rules reference a client security group, not a CIDR block",
            id="CKV_SHOP_4",
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
                    _flat(rule.get("cidr_blocks")) or _flat(rule.get("ipv6_cidr_blocks"))
                ):
                    return CheckResult.FAILED
            return CheckResult.PASSED
        if rtype == "aws_security_group_rule":
            if _first(conf.get("type")) != "ingress":
                return CheckResult.PASSED
            cidrs = _flat(conf.get("cidr_blocks")) or _flat(conf.get("ipv6_cidr_blocks"))
            return CheckResult.FAILED if cidrs else CheckResult.PASSED
        cidrs = _flat(conf.get("cidr_ipv4")) or _flat(conf.get("cidr_ipv6"))
        return CheckResult.FAILED if cidrs else CheckResult.PASSED


try:  # checkov's data-source checks (aws_iam_policy_document)
    from checkov.terraform.checks.data.base_check import BaseDataCheck
except ImportError:  # pragma: no cover - older checkov
    BaseDataCheck = None  # type: ignore[assignment,misc]


def _policy_statements(conf: dict[str, list[Any]]) -> list[dict[str, Any]]:
    statements = [s for s in _flat(conf.get("statement")) if isinstance(s, dict)]
    for dyn in _flat(conf.get("dynamic")):
        if isinstance(dyn, dict):
            for block in _flat(dyn.get("statement")):
                if isinstance(block, dict):
                    statements += [s for s in _flat(block.get("content")) if isinstance(s, dict)]
    return statements


def _strings(value: Any) -> list[str]:
    return [str(v) for v in _flat(value)]


_WILDCARD_SA = re.compile(r"system:serviceaccount:[^\"']*[*?]")
_MASTER_SECRET = re.compile(r"master_user_secret|master_password_secret_arn|(rds|redshift)_secret_arn")
_INTERPOLATION = re.compile(r"\$\{[^}]*\}")


def _whole_bucket(resource: str) -> bool:
    """``<bucket ARN>/*``: every object of a bucket (a key prefix is required instead)."""
    if not resource.endswith("/*"):
        return False
    head = _INTERPOLATION.sub("X", resource[:-2])
    after = head.split(":s3:::", 1)[1] if ":s3:::" in head else head
    return "/" not in after


if BaseDataCheck is not None:

    class IrsaTrustExactServiceAccount(BaseDataCheck):
        """A web-identity trust names exact service accounts with StringEquals (no StringLike, no *)."""

        def __init__(self) -> None:
            super().__init__(
                name="Ensure IRSA trust policies match exact service accounts with StringEquals",
                id="CKV_SHOP_5",
                categories=[CheckCategories.IAM],
                supported_data=["aws_iam_policy_document"],
            )

        def scan_data_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
            for st in _policy_statements(conf):
                if "sts:AssumeRoleWithWebIdentity" not in _strings(st.get("actions")):
                    continue
                conditions = [c for c in _flat(st.get("condition")) if isinstance(c, dict)]
                subs = [c for c in conditions if any(v.endswith(":sub") for v in _strings(c.get("variable")))]
                if not subs:
                    return CheckResult.FAILED
                for c in subs:
                    if _strings(c.get("test")) != ["StringEquals"]:
                        return CheckResult.FAILED
                    if any(_WILDCARD_SA.search(v) for v in _strings(c.get("values"))):
                        return CheckResult.FAILED
            return CheckResult.PASSED

    class IamScopedToPrefixesNoMasterSecrets(BaseDataCheck):
        """Allow statements never name a whole bucket's objects, a * resource, or a database's
        master secret (applications sign in with their own users or IAM authentication)."""

        def __init__(self) -> None:
            super().__init__(
                name="Ensure IAM grants name key prefixes, never '*' or a database master secret",
                id="CKV_SHOP_6",
                categories=[CheckCategories.IAM],
                supported_data=["aws_iam_policy_document"],
            )

        def scan_data_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
            for st in _policy_statements(conf):
                if str(_first(st.get("effect", "Allow"))).lower() == "deny":
                    continue
                actions = _strings(st.get("actions"))
                resources = _strings(st.get("resources"))
                if any(r.strip() == "*" for r in resources) and not all(
                    a.startswith("sts:") for a in actions
                ):
                    return CheckResult.FAILED
                if any(_MASTER_SECRET.search(r) for r in resources):
                    return CheckResult.FAILED
                object_actions = [a for a in actions if a.startswith("s3:") and "Object" in a]
                if object_actions and any(_whole_bucket(r) for r in resources):
                    return CheckResult.FAILED
            return CheckResult.PASSED

    irsa_trust_exact_service_account = IrsaTrustExactServiceAccount()
    iam_scoped_to_prefixes_no_master_secrets = IamScopedToPrefixesNoMasterSecrets()

ingress_from_security_groups = IngressFromSecurityGroups()
