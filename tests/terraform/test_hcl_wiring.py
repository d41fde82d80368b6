"""Static tests of terraform/: every file parses, and modules and stacks are wired consistently.

No provider, network or AWS account is needed: this is what `terraform validate` cannot do here
(see terraform/README.md), done on the parsed HCL instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import (
    MODULE_META_ARGS,
    MODULES_DIR,
    REPO,
    STACKS_DIR,
    TF_ROOT,
    Config,
    load_config,
    parse_file,
    reference_pattern,
    tf_files,
)

# AWS resource types that have no `tags` argument.
NON_TAGGABLE = {
    "aws_cloudwatch_event_target",
    "aws_cloudwatch_log_resource_policy",
    "aws_emr_security_configuration",
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_kms_alias",
    "aws_msk_configuration",
    "aws_redshift_logging",
    "aws_route",
    "aws_route_table_association",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_logging",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_versioning",
    "aws_sns_topic_policy",
    "aws_sns_topic_subscription",
}

MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
EXPECTED_MODULES = {
    "network",
    "kms",
    "lake",
    "msk",
    "msk_connect",
    "emr",
    "redshift",
    "rds",
    "opensearch",
    "eks",
    "eks_workloads",
    "monitoring",
}
EXPECTED_STACKS = {"bootstrap", "network", "data", "compute", "platform", "workloads"}


def _all_configs() -> list[Path]:
    return sorted([*MODULES_DIR.iterdir(), *STACKS_DIR.iterdir()])


def _strip(expr: object) -> str:
    """'${var.x}' -> 'var.x' (python-hcl2 keeps the interpolation wrapper)."""
    text = str(expr)
    return text[2:-1] if text.startswith("${") and text.endswith("}") else text


@pytest.mark.parametrize("path", tf_files(), ids=lambda p: str(p.relative_to(TF_ROOT)))
def test_every_tf_file_parses(path: Path) -> None:
    doc = parse_file(path)
    assert isinstance(doc, dict) and doc, f"{path} parsed to nothing"


def test_expected_modules_and_stacks_exist(modules: dict[str, Config], stacks: dict[str, Config]) -> None:
    assert set(modules) == EXPECTED_MODULES
    assert set(stacks) == EXPECTED_STACKS


@pytest.mark.parametrize("module", sorted(EXPECTED_MODULES))
def test_module_layout(module: str) -> None:
    missing = [f for f in MODULE_FILES if not (MODULES_DIR / module / f).is_file()]
    assert not missing, f"module {module} lacks {missing}"


@pytest.mark.parametrize("stack", sorted(EXPECTED_STACKS))
def test_stack_layout(stack: str) -> None:
    root = STACKS_DIR / stack
    assert (root / "versions.tf").is_file()
    assert list((root / "examples").glob("*.tfvars")), f"stack {stack} has no examples/*.tfvars"
    readme = (root / "README.md").read_text(encoding="utf-8").lower()
    for section in ("apply order", "inputs", "outputs", "cost"):
        assert section in readme, f"stacks/{stack}/README.md has no '{section}' section"
    if stack != "bootstrap":
        assert (root / "backend.hcl.example").is_file()
        assert 'backend "s3"' in (root / "versions.tf").read_text(encoding="utf-8")


def test_every_variable_has_type_and_description(configs: list[Config]) -> None:
    problems = [
        f"{c.path.relative_to(TF_ROOT)}: variable {name} lacks {attr}"
        for c in configs
        for name, body in c.variables().items()
        for attr in ("type", "description")
        if not body.get(attr)
    ]
    assert not problems, "\n".join(problems)


def test_every_output_has_description(configs: list[Config]) -> None:
    problems = [
        f"{c.path.relative_to(TF_ROOT)}: output {name}"
        for c in configs
        for name, body in c.outputs().items()
        if not body.get("description")
    ]
    assert not problems, "outputs without description:\n" + "\n".join(problems)


def test_module_inputs_are_declared_and_required_ones_passed(configs: list[Config]) -> None:
    problems: list[str] = []
    calls = [(c, n, call) for c in configs for n, call in c.module_calls().items()]
    assert len(calls) >= 15, "module calls not found: is the parser output still as expected?"
    for config in configs:
        for call_name, call in config.module_calls().items():
            target = load_config(config.module_dir(call))
            declared = target.variables()
            passed = set(call) - MODULE_META_ARGS
            for arg in sorted(passed - set(declared)):
                problems.append(f"{config.name}: module.{call_name} passes undeclared input {arg}")
            for name, body in declared.items():
                if "default" not in body and name not in passed:
                    problems.append(f"{config.name}: module.{call_name} misses required input {name}")
    assert not problems, "\n".join(problems)


def test_module_output_references_exist(configs: list[Config]) -> None:
    pattern = reference_pattern("module")
    problems: list[str] = []
    checked = 0
    for config in configs:
        calls = config.module_calls()
        for call_name, output in set(pattern.findall(config.serialized())):
            checked += 1
            assert call_name in calls, f"{config.name}: reference to unknown module.{call_name}"
            outputs = load_config(config.module_dir(calls[call_name])).outputs()
            if output not in outputs:
                problems.append(f"{config.name}: module.{call_name}.{output} is not an output")
    assert checked > 30, (
        f"only {checked} module output references found: is the parser output still as expected?"
    )
    assert not problems, "\n".join(problems)


def test_remote_state_output_references_exist(stacks: dict[str, Config]) -> None:
    problems: list[str] = []
    direct = re.compile(r"data\.terraform_remote_state\.(\w+)\.outputs\.(\w+)")
    checked = 0
    for stack in stacks.values():
        text = stack.serialized()
        refs = set(direct.findall(text))
        # local.x = data.terraform_remote_state.y.outputs  ->  local.x.z references y's output z
        for alias, value in stack.locals().items():
            m = re.fullmatch(r"data\.terraform_remote_state\.(\w+)\.outputs", _strip(value))
            if m:
                refs |= {(m.group(1), out) for out in re.findall(rf"local\.{alias}\.(\w+)", text)}
        declared_states = {
            name for dtype, name, _ in stack.data_sources() if dtype == "terraform_remote_state"
        }
        checked += len(refs)
        for state, output in sorted(refs):
            if state not in declared_states:
                problems.append(f"{stack.name}: no data.terraform_remote_state.{state}")
                continue
            if output not in load_config(STACKS_DIR / state).outputs():
                problems.append(f"{stack.name}: stack {state} has no output {output}")
    assert checked > 30, f"only {checked} remote-state references found"
    assert not problems, "\n".join(problems)


def test_remote_state_keys_follow_the_backend_convention(stacks: dict[str, Config]) -> None:
    for stack in stacks.values():
        for dtype, name, body in stack.data_sources():
            if dtype != "terraform_remote_state":
                continue
            assert body["backend"] == "s3"
            assert _strip(body["config"]["key"]).endswith(f"{name}/terraform.tfstate")
            assert name in EXPECTED_STACKS, f"{stack.name} reads state of unknown stack {name}"
        example = STACKS_DIR / stack.name / "backend.hcl.example"
        if example.is_file():
            assert f'key            = "shopstream/{stack.name}/terraform.tfstate"' in example.read_text()


def test_every_taggable_resource_merges_var_tags(configs: list[Config]) -> None:
    problems = []
    for config in configs:
        for rtype, rname, body in config.resources():
            if not rtype.startswith("aws_") or rtype in NON_TAGGABLE:
                continue
            tags = str(body.get("tags", ""))
            if "var.tags" not in tags:
                problems.append(f"{config.path.relative_to(TF_ROOT)}: {rtype}.{rname} tags={tags or None}")
    assert not problems, "taggable resources without var.tags:\n" + "\n".join(problems)


def test_configs_with_aws_resources_declare_tags(configs: list[Config]) -> None:
    for config in configs:
        if any(r[0].startswith("aws_") for r in config.resources()):
            assert "tags" in config.variables(), f"{config.name} has AWS resources but no tags variable"


@pytest.mark.parametrize("path", sorted(TF_ROOT.rglob("versions.tf")), ids=lambda p: p.parent.name)
def test_versions_are_pinned(path: Path) -> None:
    terraform = parse_file(path)["terraform"][0]
    assert terraform.get("required_version"), f"{path} has no required_version"
    providers = {k: v for block in terraform["required_providers"] for k, v in block.items()}
    assert providers, f"{path} declares no providers"
    for name, spec in providers.items():
        assert spec["version"].startswith("~> "), f"{path}: provider {name} is not pinned with ~>"


def test_no_hard_coded_account_region_or_password() -> None:
    account = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
    region = re.compile(
        r"\b(?:us|eu|ap|sa|ca|me|af|il|mx)-(?:north|south|east|west|central|northeast|southeast)-[0-9]\b"
    )
    password = re.compile(r"^\s*(?:password|master_password|master_user_password)\s*=", re.MULTILINE)
    problems = []
    for path in tf_files():
        text = path.read_text(encoding="utf-8")
        for rx, what in ((account, "account id"), (region, "region"), (password, "password")):
            if rx.search(text):
                problems.append(f"{path.relative_to(TF_ROOT)}: {what}: {rx.search(text).group(0)}")  # type: ignore[union-attr]
    assert not problems, "\n".join(problems)


def test_stacks_find_each_other_by_remote_state_not_by_tag_lookups(stacks: dict[str, Config]) -> None:
    lookups = {
        "aws_vpc",
        "aws_vpcs",
        "aws_subnet",
        "aws_subnets",
        "aws_security_group",
        "aws_security_groups",
        "aws_msk_cluster",
        "aws_s3_bucket",
        "aws_eks_cluster",
        "aws_db_instance",
        "aws_redshift_cluster",
    }
    for stack in stacks.values():
        found = [f"{d}.{n}" for d, n, _ in stack.data_sources() if d in lookups]
        assert not found, f"{stack.name} looks resources up instead of reading remote state: {found}"


# --- requirements of issue 8 that are easy to lose in a refactor ------------------------------


def _variable_default(module: str, name: str) -> object:
    return load_config(MODULES_DIR / module).variables()[name]["default"]


def test_msk_matches_the_local_broker_and_is_locked_down(modules: dict[str, Config]) -> None:
    pom = (REPO / "conf" / "jars" / "pom.xml").read_text(encoding="utf-8")
    local_version = re.search(r"<kafka.version>([0-9.]+)</kafka.version>", pom).group(1)  # type: ignore[union-attr]
    msk_version = str(_variable_default("msk", "kafka_version"))
    assert msk_version.split(".")[:2] == local_version.split(".")[:2], (msk_version, local_version)
    main = modules["msk"].text["main.tf"]
    assert re.search(r'"min\.insync\.replicas"\s*=\s*"2"', main)
    assert 'type = "DISABLED"' in main and "iam = true" in main and 'client_broker = "TLS"' in main


def test_delta_log_store_table_schema(modules: dict[str, Config]) -> None:
    [(_, _, table)] = [r for r in modules["lake"].resources() if r[0] == "aws_dynamodb_table"]
    assert (table["hash_key"], table["range_key"]) == ("tablePath", "fileName")
    attrs = {a["name"]: a["type"] for a in table["attribute"]}
    assert attrs == {"tablePath": "S", "fileName": "S"}
    assert table["ttl"][0]["enabled"] is True and table["ttl"][0]["attribute_name"]


def test_emr_runs_the_streaming_job_as_a_continue_step(modules: dict[str, Config]) -> None:
    assert str(_variable_default("emr", "release_label")).startswith("emr-7.")
    [(_, _, cluster)] = [r for r in modules["emr"].resources() if r[0] == "aws_emr_cluster"]
    [step] = cluster["step"]
    # name, failure action and argv come from the builder's spark_steps.json (tests/test_submit.py)
    assert step["action_on_failure"] == "${local.spark.stream_step.ActionOnFailure}"
    assert step["name"] == "${local.spark.stream_step.Name}"
    assert "--packages" not in modules["emr"].text["main.tf"], "jars come from the artifacts bucket"
    assert "bootstrap_action" in cluster


def test_databases_require_tls_and_managed_passwords(modules: dict[str, Config]) -> None:
    redshift, rds = modules["redshift"].text["main.tf"], modules["rds"].text["main.tf"]
    assert re.search(r'name\s*=\s*"require_ssl"\s*\n\s*value\s*=\s*"true"', redshift)
    assert re.search(r"manage_master_password\s*=\s*true", redshift)
    assert re.search(r'name\s*=\s*"rds.force_ssl"\s*\n\s*value\s*=\s*"1"', rds)
    assert re.search(r"manage_master_user_password\s*=\s*true", rds)
    for text in (redshift, rds):
        assert re.search(r"publicly_accessible\s*=\s*false", text)


def test_msk_connect_config_is_rendered_from_conf_connect(stacks: dict[str, Config]) -> None:
    main = stacks["compute"].text["main.tf"]
    assert "jsondecode(file(" in main and "conf/connect" in main
    assert not re.search(r"file\([^)]*local\.json", main), "local.json is local-only and must never reach AWS"
    for name in _variable_default_stack("compute", "archive_connectors"):
        assert (REPO / "conf" / "connect" / f"{name}.json").is_file(), f"conf/connect/{name}.json is missing"
    assert (REPO / "conf" / "connect" / "sink-common.json").is_file()


def _variable_default_stack(stack: str, name: str) -> list[str]:
    return list(load_config(STACKS_DIR / stack).variables()[name]["default"])


def test_workloads_reference_repository_files_by_path(stacks: dict[str, Config]) -> None:
    variables = stacks["workloads"].variables()
    assert variables["airflow_values_file"]["default"] == "airflow/helm/values.yaml"
    assert variables["logstash_manifests_dir"]["default"] == "logstash/k8s"


# --- what `terraform validate` would catch about our own names, without providers ------------

_RESOURCE_REF = re.compile(
    r"(?<![\w.])((?:aws|tls|helm|kubectl|terraform)_[a-z0-9_]+)\.([A-Za-z_][\w-]*)(?=[.\[\s\"}),]|$)"
)


def test_every_var_and_local_reference_is_declared(configs: list[Config]) -> None:
    problems = []
    for config in configs:
        text = config.serialized()
        declared_vars = set(config.variables())
        declared_locals = set(config.locals())
        for name in sorted(set(re.findall(r"(?<![\w.])var\.(\w+)", text)) - declared_vars):
            problems.append(f"{config.name}: var.{name} is not declared")
        for name in sorted(set(re.findall(r"(?<![\w.])local\.(\w+)", text)) - declared_locals):
            problems.append(f"{config.name}: local.{name} is not defined")
    assert not problems, "\n".join(problems)


def test_every_resource_and_data_reference_is_declared(configs: list[Config]) -> None:
    problems = []
    checked = 0
    for config in configs:
        text = config.serialized()
        resources = {(t, n) for t, n, _ in config.resources()}
        data = {(t, n) for t, n, _ in config.data_sources()}
        for dtype, name in set(re.findall(r"(?<![\w.])data\.(\w+)\.([\w-]+)", text)):
            checked += 1
            if (dtype, name) not in data:
                problems.append(f"{config.name}: data.{dtype}.{name} is not declared")
        for rtype, name in set(_RESOURCE_REF.findall(text)):
            if rtype == "terraform_remote_state":
                continue
            checked += 1
            if (rtype, name) not in resources and (rtype, name) not in data:
                problems.append(f"{config.name}: {rtype}.{name} is not declared")
    assert checked > 100, f"only {checked} references found"
    assert not problems, "\n".join(problems)


def test_endpoints_configmap_covers_what_the_logstash_manifests_read(stacks: dict[str, Config]) -> None:
    """logstash/k8s reads SHOPSTREAM_* from ConfigMap shopstream-endpoints, which workloads publishes."""
    manifests = sorted((REPO / "logstash" / "k8s").glob("*.yaml"))
    assert manifests, "logstash/k8s/*.yaml is missing (applied by the workloads stack)"
    wanted = {
        v for m in manifests for v in re.findall(r"\$\{(SHOPSTREAM_\w+)", m.read_text(encoding="utf-8"))
    }
    [call] = stacks["workloads"].module_calls().values()
    published = {k.strip('"') for k in call["endpoints"]}
    assert wanted <= published, f"not published by the workloads stack: {sorted(wanted - published)}"
    group = load_config(STACKS_DIR / "compute").variables()["logstash_consumer_group"]["default"]
    assert all(
        f"SHOPSTREAM_KAFKA__CONSUMER_GROUP:{group}" in m.read_text()
        for m in manifests
        if "group_id" in m.read_text()
    )
