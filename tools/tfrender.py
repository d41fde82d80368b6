"""Render what Terraform gives a runtime, from the HCL itself, with placeholder inputs.

Only the small expression subset these maps use is evaluated: quoted literals and
``${var.NAME}`` / ``${local.NAME}`` references (a reference without an input is an error, so a
new variable cannot slip through unrendered). Used by tests/terraform/test_runtime_env.py and the
rehearsal (tools/rehearse_aws.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EMR_MAIN = REPO / "terraform" / "modules" / "emr" / "main.tf"
EMR_BOOTSTRAP = REPO / "terraform" / "modules" / "emr" / "templates" / "bootstrap.sh.tftpl"
_REF = re.compile(r"\$\{(var|local)\.([A-Za-z0-9_]+)\}")

# Placeholder inputs of the EMR module (what the data stack's outputs look like).
EMR_PLACEHOLDERS = {
    "kafka_bootstrap_servers": "b-1.msk.example.internal:9098,b-2.msk.example.internal:9098",
    "lake_bucket": "acme-lake",
    "export_bucket": "acme-export",
    "archive_bucket": "acme-archive",
    "delta_log_table_name": "shopstream-delta-log",
    "region": "ap-northeast-2",
    "postgres_host": "mart.abc.ap-northeast-2.rds.amazonaws.com",
    "opensearch_url": "https://search-acme.ap-northeast-2.es.amazonaws.com",
    "redshift_host": "acme-wh.abc.ap-northeast-2.redshift.amazonaws.com",
    "redshift_cluster_id": "acme-wh",
    "redshift_copy_role_arn": "arn:aws:iam::123456789012:role/acme-redshift-copy",
    "mart_password_secret_name": "shopstream/emr/mart-password",
}


def _locals(path: Path) -> dict[str, Any]:
    import hcl2

    with path.open() as fh:
        doc = hcl2.load(fh)
    out: dict[str, Any] = {}
    for block in doc.get("locals", []):
        out.update(block)
    return out


def evaluate(value: str, inputs: Mapping[str, str]) -> str:
    text = value.strip()
    if text.startswith('"') and text.endswith('"') and text.count('"') == 2:
        return text[1:-1]

    def ref(m: re.Match[str]) -> str:
        if m.group(2) not in inputs:
            raise KeyError(f"no input for {m.group(1)}.{m.group(2)}")
        return inputs[m.group(2)]

    rendered = _REF.sub(ref, text)
    if "${" in rendered:
        raise ValueError(f"cannot render {value!r} (only literals and var./local. references)")
    return rendered


def emr_step_env(inputs: Mapping[str, str] | None = None) -> dict[str, str]:
    """``local.env`` of terraform/modules/emr: the environment of every EMR step."""
    values = {**EMR_PLACEHOLDERS, **(inputs or {})}
    return {k: evaluate(str(v), values) for k, v in _locals(EMR_MAIN)["env"].items()}


def render_template(path: Path, variables: Mapping[str, str]) -> str:
    """``templatefile()`` for templates that only interpolate ``${name}`` (no directives)."""
    text = path.read_text()
    if "%{" in text:
        raise ValueError(f"{path.name}: template directives are not supported here")

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in variables:
            raise KeyError(f"{path.name}: no value for ${{{name}}}")
        return variables[name]

    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", sub, text)


def bootstrap_var_names() -> set[str]:
    """The inputs Terraform passes the bootstrap template (``local.bootstrap_vars``)."""
    return set(_locals(EMR_MAIN)["bootstrap_vars"])
