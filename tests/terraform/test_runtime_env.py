"""The environment Terraform renders for the EMR steps loads as the aws profile (no missing key)."""

from __future__ import annotations

import re

import pytest

from shopstream import config
from tools import tfrender


def test_emr_step_environment_loads_the_aws_profile() -> None:
    env = tfrender.emr_step_env()
    settings = config.load("aws", environ=env)
    assert settings.profile == "aws"
    assert settings.postgres.host == tfrender.EMR_PLACEHOLDERS["postgres_host"]
    assert settings.opensearch.url == tfrender.EMR_PLACEHOLDERS["opensearch_url"]
    assert settings.warehouse.redshift_cluster_id == tfrender.EMR_PLACEHOLDERS["redshift_cluster_id"]
    assert settings.export_root == f"s3a://{tfrender.EMR_PLACEHOLDERS['export_bucket']}/export"


@pytest.mark.parametrize("key", sorted(tfrender.emr_step_env()))
def test_every_rendered_key_is_needed_or_a_known_override(key: str) -> None:
    """Each key is a configuration key of conf/aws.yaml (no typo'd name passes silently)."""
    from shopstream.resources import conf_path

    text = conf_path("aws.yaml").read_text()
    placeholders = set(re.findall(r"\$\{([A-Z0-9_]+)\}", text))
    if key in placeholders or key == "SHOPSTREAM_PROFILE":
        return
    section, _, name = key.removeprefix("SHOPSTREAM_").lower().partition("__")
    assert name in config.Settings.model_fields[section].annotation.model_fields, key  # type: ignore[union-attr]


def test_bootstrap_template_and_terraform_agree_on_its_inputs() -> None:
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", tfrender.EMR_BOOTSTRAP.read_text()))
    assert used == tfrender.bootstrap_var_names()
