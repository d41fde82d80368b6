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


def test_emr_steps_read_the_mart_password_from_a_secret_and_the_bootstrap_installs_the_ca() -> None:
    """The step environment names a Secrets Manager secret and holds no password; the bootstrap
    installs the RDS CA bundle exactly where the profile verifies the mart with (verify-full)."""
    import json

    env = tfrender.emr_step_env()
    settings = config.load("aws", environ=env)
    assert settings.postgres.password_secret == tfrender.EMR_PLACEHOLDERS["mart_password_secret_name"]
    assert settings.postgres.password_env not in env
    spec = json.loads((tfrender.REPO / "terraform" / "modules" / "emr" / "spark_steps.json").read_text())
    script = tfrender.render_template(
        tfrender.EMR_BOOTSTRAP,
        {name: f"<{name}>" for name in tfrender.bootstrap_var_names()} | {"install_dir": spec["install_dir"]},
    )
    installs = re.findall(r'install -m 0444 "\S+" "\$install_dir(/\S+)"', script)
    assert [spec["install_dir"] + p for p in installs] == [settings.postgres.ca_bundle]
    assert re.search(r'echo "<rds_ca_sha256>  \$work/rds-global-bundle.pem" \| sha256sum --check', script)
    # pip in hash-checking mode, the wheel's own hash added to the hashed requirements
    [pip] = [ln for ln in script.replace("\\\n", " ").splitlines() if " -m pip install " in ln]
    assert "--require-hashes" in pip and "--requirement" in pip and "--no-deps" not in pip
    assert 'echo "$work/<wheel_name> --hash=sha256:<wheel_sha256>" >> "$work/requirements.txt"' in script
