"""AWS hardening that no engine here can exercise, checked statically against the same sources:

* Airflow on EKS signs users in through a real auth manager (FAB + OIDC), has no default user, and
  takes every secret from Secrets Manager through the chart's own secret references (External
  Secrets), with nothing secret in the values;
* the mart (RDS) and the warehouse (Redshift) verify the server certificate and host name
  (``verify-full``), against the AWS RDS CA bundle the Airflow image ships.

Each checker also runs on a broken copy (the ``*_fails_*`` tests) to show that it can fail.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopstream import config, mart
from shopstream.config import REPO_ROOT

VALUES = REPO_ROOT / "airflow" / "helm" / "values.yaml"
EXTERNAL_SECRETS = REPO_ROOT / "airflow" / "helm" / "external-secrets.yaml"
DOCKERFILE = REPO_ROOT / "airflow" / "Dockerfile"
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
# Every chart value that names an existing Kubernetes Secret.
CHART_SECRET_KEYS = (
    "data.metadataSecretName",
    "fernetKeySecretName",
    "apiSecretKeySecretName",
    "jwtSecretName",
)


def _values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text(encoding="utf-8"))


def _external_secrets() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(EXTERNAL_SECRETS.read_text(encoding="utf-8")) if d]


def _get(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def auth_problems(values: dict[str, Any], external: list[dict[str, Any]]) -> list[str]:
    problems = []
    if _get(values, "config.core.auth_manager") != FAB:
        problems.append(f"config.core.auth_manager must be {FAB} (SimpleAuthManager is for development)")
    api_config = _get(values, "apiServer.apiServerConfig") or ""
    if "AUTH_OAUTH" not in api_config or "server_metadata_url" not in api_config:
        problems.append("apiServer.apiServerConfig must sign users in through the OIDC provider (AUTH_OAUTH)")
    if re.search(r"client_secret\"?\s*:\s*\"[^\"]", api_config):
        problems.append("the OIDC client secret is written in apiServerConfig")
    if _get(values, "webserver.defaultUser.enabled") is not False:
        problems.append("webserver.defaultUser.enabled must be false (no default user)")
    if (
        _get(values, "createUserJob.useHelmHooks") is not False
        or _get(values, "createUserJob.applyCustomEnv") is not False
    ):
        problems.append("createUserJob must stay inert")
    targets = {d["spec"]["target"]["name"] for d in external if d["kind"] == "ExternalSecret"}
    for key in CHART_SECRET_KEYS:
        name = _get(values, key)
        if not name:
            problems.append(f"{key} is not set: the chart would generate or need an inline secret")
        elif name not in targets:
            problems.append(f"{key} = {name} is not synced from Secrets Manager (no ExternalSecret)")
    env_secrets = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for e in _get(values, "apiServer.env") or []
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    problems += [
        f"apiServer.env secret {s} is not synced from Secrets Manager" for s in sorted(env_secrets - targets)
    ]
    for path in ("data.metadataConnection.pass", "webserver.defaultUser.password", "fernetKey", "jwtSecret"):
        if _get(values, path):
            problems.append(f"{path} holds a secret value in the values file")
    stores = [d for d in external if d["kind"] == "SecretStore"]
    if len(stores) != 1 or stores[0]["spec"]["provider"]["aws"]["service"] != "SecretsManager":
        problems.append("one SecretStore on AWS Secrets Manager is expected")
    else:
        sa = stores[0]["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"]
        if sa != _get(values, "apiServer.serviceAccount.name"):
            problems.append(f"the SecretStore signs in as {sa}, not the API server's service account")
    return problems


def test_airflow_on_eks_has_a_real_auth_manager_and_no_default_user() -> None:
    assert auth_problems(_values(), _external_secrets()) == []


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (
            "config.core.auth_manager",
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        ),
        ("webserver.defaultUser.enabled", True),
        ("jwtSecretName", None),
        ("fernetKey", "c2VjcmV0LWluLXRoZS12YWx1ZXM="),
        ("apiServer.apiServerConfig", "AUTH_TYPE = AUTH_DB"),
    ],
)
def test_auth_check_fails_on_bad_values(path: str, bad: Any) -> None:
    values = copy.deepcopy(_values())
    node = values
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = bad
    assert auth_problems(values, _external_secrets()), f"{path}={bad!r} was not detected"


def test_auth_check_fails_when_a_secret_is_not_synced() -> None:
    external = [d for d in _external_secrets() if d["metadata"]["name"] != "shopstream-airflow-oidc"]
    assert any("shopstream-airflow-oidc" in p for p in auth_problems(_values(), external))


def test_the_image_installs_the_fab_provider() -> None:
    """FabAuthManager lives in the FAB provider: the image must carry it."""
    wanted = {
        re.split(r"[=<>~]", line)[0].strip().lower()
        for line in (REPO_ROOT / "airflow" / "requirements-eks.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert "apache-airflow-providers-fab" in wanted
    assert "airflow/requirements-eks.txt" in DOCKERFILE.read_text()


# --- TLS with certificate verification -------------------------------------------------------------
def _aws_settings(**env: str) -> config.Settings:
    base = {
        "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": "b-1.msk:9098",
        "SHOPSTREAM_POSTGRES__HOST": "mart.abc.ap-northeast-2.rds.amazonaws.com",
        "SHOPSTREAM_OPENSEARCH__URL": "https://search.example",
        "SHOPSTREAM_S3__LAKE_BUCKET": "lake-bucket",
        "SHOPSTREAM_S3__EXPORT_BUCKET": "export-bucket",
        "SHOPSTREAM_S3__ARCHIVE_BUCKET": "archive-bucket",
        "SHOPSTREAM_WAREHOUSE__REDSHIFT_HOST": "wh.example",
        "SHOPSTREAM_WAREHOUSE__REDSHIFT_CLUSTER_ID": "wh",
        "SHOPSTREAM_WAREHOUSE__COPY_IAM_ROLE_ARN": "arn:aws:iam::123456789012:role/copy",
        "SHOPSTREAM_PG_PASSWORD": "from-the-connection",
    }
    return config.load("aws", environ={**base, **env})


def _capture(monkeypatch: pytest.MonkeyPatch, module: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    class Stop(Exception):
        pass

    def connect(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise Stop

    monkeypatch.setitem(sys.modules, module, types.SimpleNamespace(connect=connect))
    seen["_stop"] = Stop
    return seen


def test_the_mart_connection_verifies_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPSTREAM_PG_PASSWORD", "from-the-connection")
    settings = _aws_settings()
    seen = _capture(monkeypatch, "psycopg2")
    with pytest.raises(seen["_stop"]), mart.connect(settings):
        pass
    assert seen["sslmode"] == "verify-full"
    assert seen["sslrootcert"] == settings.postgres.ca_bundle
    assert seen["sslrootcert"] == "/opt/shopstream/certs/rds-global-bundle.pem"


def test_the_mart_refuses_to_connect_without_a_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _aws_settings(SHOPSTREAM_POSTGRES__CA_BUNDLE="")
    with pytest.raises(mart.MartError, match="ca_bundle"):
        mart.tls_options(settings)


def test_only_a_loopback_mart_goes_unverified() -> None:
    """The AWS rehearsal points the aws profile at the local PostgreSQL (no TLS on loopback)."""
    assert mart.tls_options(_aws_settings(SHOPSTREAM_POSTGRES__HOST="127.0.0.1")) == {"sslmode": "prefer"}
    remote = mart.tls_options(_aws_settings(SHOPSTREAM_POSTGRES__HOST="10.0.3.7"))
    assert remote["sslmode"] == "verify-full"


def test_the_warehouse_connection_verifies_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from shopstream.warehouse import RedshiftWarehouse

    seen = _capture(monkeypatch, "redshift_connector")
    with pytest.raises(seen["_stop"]), RedshiftWarehouse(_aws_settings()).connect():
        pass
    assert seen["ssl"] is True and seen["sslmode"] == "verify-full" and seen["iam"] is True


def test_the_airflow_image_ships_the_rds_ca_bundle_where_the_profile_expects_it() -> None:
    text = DOCKERFILE.read_text()
    home = re.search(r"ARG SHOPSTREAM_HOME=(\S+)", text).group(1)  # type: ignore[union-attr]
    adds = re.findall(r"^ADD .*?(\S+)\s+(\S+)$", text, re.M)
    shipped = {dest.replace("${SHOPSTREAM_HOME}", home) for src, dest in adds if "RDS_CA_BUNDLE_URL" in src}
    profile = yaml.safe_load((REPO_ROOT / "conf" / "aws.yaml").read_text())
    assert shipped == {profile["postgres"]["ca_bundle"]}
    assert "truststore.pki.rds.amazonaws.com" in text
    # the metadata database too (values.yaml documents the connection string), with no PgBouncer
    # in between (the chart's would reach RDS unverified)
    assert f"sslmode=verify-full&sslrootcert={profile['postgres']['ca_bundle']}" in VALUES.read_text()
    assert _values()["pgbouncer"]["enabled"] is False


def test_no_sslmode_require_is_left() -> None:
    """``require`` encrypts but accepts any certificate; nothing may use it."""
    sources = [
        *Path(REPO_ROOT / "shopstream").rglob("*.py"),
        VALUES,
        *Path(REPO_ROOT / "airflow" / "dags").rglob("*.py"),
    ]
    offenders = [str(p) for p in sources if re.search(r"sslmode[\"']?\s*[=:]\s*[\"']?require", p.read_text())]
    assert not offenders, offenders
    assert json.dumps(mart.tls_options(_aws_settings())) != json.dumps({"sslmode": "require"})
