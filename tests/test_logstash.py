"""Logstash artifacts: generated = checked in, pipelines agree with the local consumer, manifests.

No engine needed: the .conf files are parsed with tests/logstash_conf.py and compared
with shopstream.realtime.spec (the local consumer's source of truth); the manifests with the
profiles. Logstash itself is not available on these machines, so contract.rb is not executed here;
its rules file is generated and checked against the contract.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopstream import config
from shopstream.contract import load_contract
from shopstream.realtime import generate, logstash, spec
from shopstream.spark import kafka_source_options
from tests import logstash_conf
from tests.aws_env import AWS_ENV
from tests.logstash_conf import Plugin, PluginValue

LOGSTASH = spec.LOGSTASH_DIR
CONTRACT = load_contract()
IDX = spec.entity_indexes(CONTRACT)


def _conf(name: str) -> list[Plugin]:
    return logstash_conf.parse((LOGSTASH / "pipeline" / f"{name}.conf").read_text(encoding="utf-8"))


def _one(plugins: list[Plugin], section: str, name: str, **match: Any) -> Plugin:
    found = [
        p
        for p in plugins
        if p.section == section and p.name == name and all(p.settings.get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, f"expected one {section}/{name} {match}, found {len(found)}"
    return found[0]


def _joda_to_strftime(pattern: str) -> str:
    return pattern.replace("YYYY", "%Y").replace("MM", "%m").replace("dd", "%d").replace("HH", "%H")


# --- generated files ---------------------------------------------------------------------------------
def test_generated_files_are_up_to_date() -> None:
    stale = generate.stale_files()
    assert not stale, f"regenerate with `shopstream realtime generate`: {stale}"


def test_a_changed_contract_makes_the_generated_files_stale(tmp_path: Path) -> None:
    raw = yaml.safe_load(Path(config.CONF_DIR / "contract.yaml").read_text(encoding="utf-8"))
    raw["entities"]["orders"]["fields"].append(
        {"name": "coupon_code", "type": "string", "required": False, "nullable": True, "max_length": 16}
    )
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    changed = load_contract(path)
    stale = generate.stale_files(contract=changed)
    assert {"templates/orders.json", "pipeline/contract-orders.json", "k8s/configmap.yaml"} <= set(stale)
    assert "templates/users.json" not in stale


def test_a_hand_edit_of_a_generated_file_is_detected(tmp_path: Path) -> None:
    root = tmp_path / "logstash"
    for rel in ("config/logstash.yml", "pipeline/contract.rb"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text((LOGSTASH / rel).read_text(encoding="utf-8"), encoding="utf-8")
    assert sorted(generate.write_all(root)) == sorted(generate.render_all(root=root))
    assert generate.stale_files(root) == []
    conf = root / "pipeline" / "orders.conf"
    conf.write_text(conf.read_text().replace("%{event_id}", "%{order_id}"), encoding="utf-8")
    assert generate.stale_files(root) == ["pipeline/orders.conf"]


# --- the parser ---------------------------------------------------------------------------------------
def test_parser_reads_nested_values_conditions_and_comments() -> None:
    text = """
    # comment
    input { kafka { id => "k" topics => ["a", "b"] codec => plain { id => "c" charset => "UTF-8" } } }
    filter {
      if [x] == "y" { mutate { id => "m1" add_field => { "[@metadata][a]" => "b" } } }
      else if [z] { drop { id => "d" } }
      else { mutate { id => "m2" remove_field => ["message"] } }
    }
    output { stdout { id => "o" workers => 2 enabled => true } }
    """
    plugins = logstash_conf.parse(text)
    assert [p.name for p in plugins] == ["kafka", "mutate", "drop", "mutate", "stdout"]
    assert plugins[0].settings["topics"] == ["a", "b"]
    assert isinstance(plugins[0].settings["codec"], PluginValue)
    assert plugins[1].conditions == ('[x] == "y"',)
    assert plugins[2].conditions == ('not ([x] == "y")', "[z]")
    assert plugins[3].conditions == ('not ([x] == "y")', "not ([z])")
    assert plugins[4].settings == {"id": "o", "workers": 2, "enabled": True}
    assert logstash_conf.all_ids(plugins) == ["k", "c", "m1", "d", "m2", "o"]


@pytest.mark.parametrize(
    "bad", ['input { kafka { id => "x" }', "filter { else { } }", 'output { x { a => "b } }']
)
def test_parser_rejects_broken_config(bad: str) -> None:
    with pytest.raises(logstash_conf.LogstashConfigError):
        logstash_conf.parse(bad)


# --- every plugin has an id -------------------------------------------------------------------------
def test_every_plugin_has_a_unique_explicit_id() -> None:
    ids: list[str | None] = []
    for conf in sorted((LOGSTASH / "pipeline").glob("*.conf")):
        ids.extend(logstash_conf.all_ids(logstash_conf.parse(conf.read_text(encoding="utf-8"))))
    assert ids and None not in ids
    assert len(ids) == len(set(ids)), "plugin ids must be unique across pipelines (monitoring API keys)"


# --- Logstash <-> local consumer agreement ------------------------------------------------------------
@pytest.mark.parametrize("entity", list(IDX))
def test_pipeline_agrees_with_the_consumer_spec(entity: str) -> None:
    idx = IDX[entity]
    plugins = _conf(entity)
    kafka = _one(plugins, "input", "kafka")
    assert kafka.settings["topics"] == [CONTRACT.entity(entity).topic] == [idx.topic]
    assert kafka.settings["decorate_events"] in ("basic", "extended", True)
    assert kafka.settings["security_protocol"] == "SASL_SSL"
    assert kafka.settings["sasl_mechanism"] == "AWS_MSK_IAM"
    # the same Java client properties as the stream's Kafka source on EMR (one home: kafka_admin)
    aws = config.load("aws", environ=AWS_ENV)
    on_emr = {  # the connection's security settings (not tuning such as fetch.max.wait.ms)
        k.removeprefix("kafka."): v
        for k, v in kafka_source_options(aws).items()
        if k.startswith(("kafka.security.", "kafka.sasl."))
    }
    assert {k.replace(".", "_"): v for k, v in on_emr.items()} == {
        k: v for k, v in kafka.settings.items() if k.startswith(("security_", "sasl_"))
    }
    assert kafka.settings["group_id"].endswith(f":{logstash.LOGSTASH_GROUP_ID}}}")
    assert kafka.settings["consumer_threads"] == logstash.LOGSTASH_CONSUMER_THREADS

    _one(plugins, "filter", "json", source="message")
    ruby = _one(plugins, "filter", "ruby")
    assert ruby.settings["script_params"]["rules"].endswith(f"/contract-{entity}.json")

    date = _one(plugins, "filter", "date", target=spec.TIMESTAMP_FIELD, timezone="UTC")
    assert date.settings["match"] == [spec.TIME_FIELD, "ISO8601"]
    groks = [p for p in plugins if p.name == "grok"]
    assert len(groks) == len(idx.transforms)
    for grok, transform in zip(groks, idx.transforms, strict=True):
        assert grok.settings["match"] == {transform.source: transform.regex}
        assert grok.conditions == date.conditions  # only valid events are transformed
    mutate = _one(plugins, "filter", "mutate")
    assert mutate.settings["remove_field"] == list(idx.logstash_removed)

    doc_out = _one(plugins, "output", "opensearch", document_id="%{" + spec.DOC_ID_FIELD + "}")
    assert doc_out.settings["action"] == "index"
    assert doc_out.settings["manage_template"] is False
    ts = datetime(2026, 11, 24, 10, tzinfo=UTC)
    prefix, _, joda = doc_out.settings["index"].partition("%{+")
    assert prefix + ts.strftime(_joda_to_strftime(joda.rstrip("}"))) == idx.index_for(ts)

    dl_out = _one(plugins, "output", "opensearch", index=idx.logstash_deadletter_index)
    assert dl_out.settings["document_id"] == (
        "%{[@metadata][kafka][topic]}-%{[@metadata][kafka][partition]}-%{[@metadata][kafka][offset]}"
    )
    assert dl_out.conditions == ("[@metadata][shopstream][dead_letter]",)
    assert doc_out.conditions == ("not ([@metadata][shopstream][dead_letter])",)


def test_logstash_email_split_behaves_like_the_consumer() -> None:
    transform = IDX["users"].transforms[0]
    grok = _one(_conf("users"), "filter", "grok")
    # Oniguruma (?<name>..) -> Python (?P<name>..): the same regex, run on tricky inputs
    pattern = re.compile(grok.settings["match"]["email"].replace("(?<", "(?P<"), re.DOTALL)
    for email in ("kim@naver.com", "a.b+c@gmail.com", "x@y@kakao.com"):
        m = pattern.match(email)
        assert m is not None
        local, _, domain = email.rpartition("@")
        assert (m["email_user"], m["email_domain"]) == (local, domain)
        assert transform.python_regex.match(email)[0] == m[0]  # type: ignore[index]


def test_contract_rules_file_mirrors_the_contract() -> None:
    for entity in CONTRACT.entity_names:
        rules = json.loads((LOGSTASH / "pipeline" / f"contract-{entity}.json").read_text())
        ent = CONTRACT.entity(entity)
        assert rules["max_event_bytes"] == CONTRACT.max_event_bytes
        assert [r["name"] for r in rules["fields"]] == ent.field_names
        for rule, f in zip(rules["fields"], ent.fields, strict=True):
            assert rule["required"] == f.required and rule["nullable"] == f.nullable
            if f.weights is not None:
                assert set(rule["allowed"]) == set(f.weights)
            if f.email_domain_weights is not None:
                assert set(rule["email_domains"]) == set(f.email_domain_weights)


def test_contract_rb_reads_every_rule_key_it_is_given() -> None:
    source = (LOGSTASH / "pipeline" / "contract.rb").read_text(encoding="utf-8")
    keys = {k for e in CONTRACT.entity_names for r in spec.contract_rules(e)["fields"] for k in r}
    missing = [k for k in keys if f'"{k}"' not in source]
    assert not missing, f"contract.rb ignores rule keys {missing}"


def test_pipelines_yml_declares_one_pipeline_per_entity_with_queues() -> None:
    entries = yaml.safe_load((LOGSTASH / "pipelines.yml").read_text(encoding="utf-8"))
    by_id = {e["pipeline.id"]: e for e in entries}
    for entity in CONTRACT.entity_names:
        e = by_id[f"shopstream-{entity}"]
        assert e["path.config"].endswith(f"/{entity}.conf")
        assert e["queue.type"] == "persisted" and e["dead_letter_queue.enable"] is True
    assert set(by_id) == {f"shopstream-{e}" for e in CONTRACT.entity_names} | {"shopstream-dead-letters"}
    for e in entries:
        assert (LOGSTASH / "pipeline" / Path(e["path.config"]).name).exists()
    settings = yaml.safe_load((LOGSTASH / "config" / "logstash.yml").read_text(encoding="utf-8"))
    assert settings["queue.type"] == "persisted"
    assert settings["dead_letter_queue.enable"] is True
    assert settings["api.http.port"] == 9600
    assert settings["pipeline.ecs_compatibility"] == "disabled"


def test_dead_letter_pipeline_reads_each_entity_pipelines_dlq() -> None:
    plugins = _conf("dead-letters")
    inputs = [p for p in plugins if p.section == "input"]
    assert {p.settings["pipeline_id"] for p in inputs} == {f"shopstream-{e}" for e in CONTRACT.entity_names}
    out = _one(plugins, "output", "opensearch")
    assert out.settings["index"].startswith(f"{spec.INDEX_PREFIX}-deadletter-%{{[@metadata][entity]}}-")


# --- templates and ISM -------------------------------------------------------------------------------
@pytest.mark.parametrize("entity", list(IDX))
def test_index_template_maps_every_contract_field(entity: str) -> None:
    body = json.loads((LOGSTASH / "templates" / f"{entity}.json").read_text())
    props = body["template"]["mappings"]["properties"]
    assert body["template"]["mappings"]["dynamic"] == "strict"
    assert body["index_patterns"] == [IDX[entity].pattern]
    assert IDX[entity].alias in body["template"]["aliases"]
    for f in CONTRACT.entity(entity).fields:
        lt = CONTRACT.logical_types[f.type]
        assert props[f.name]["type"] == lt.opensearch
        if lt.opensearch_format:
            assert props[f.name]["format"] == lt.opensearch_format
    expected = set(CONTRACT.entity(entity).field_names) | set(IDX[entity].added_fields)
    assert set(props) == expected


def test_ism_policies_are_well_formed_and_cover_every_index() -> None:
    """Static check only: the local OpenSearch has no index-management plugin to accept them."""
    patterns: set[str] = set()
    for path in sorted((LOGSTASH / "templates").glob("ism-*.json")):
        policy = json.loads(path.read_text())["policy"]
        states = {s["name"]: s for s in policy["states"]}
        assert policy["default_state"] in states
        for s in policy["states"]:
            for t in s["transitions"]:
                assert t["state_name"] in states
                assert re.fullmatch(r"\d+[dh]", t["conditions"]["min_index_age"])
        assert any({"delete": {}} in s["actions"] for s in policy["states"])
        for t in policy["ism_template"]:
            patterns.update(t["index_patterns"])
    expected = {i.pattern for i in IDX.values()} | {i.deadletter_pattern for i in IDX.values()}
    assert patterns == expected


# --- Kubernetes manifests ---------------------------------------------------------------------------
def _docs() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((LOGSTASH / "k8s").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                out[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return out


def test_manifests_parse_and_carry_semantic_labels() -> None:
    docs = _docs()
    assert {
        "StatefulSet/shopstream-logstash",
        "HorizontalPodAutoscaler/shopstream-logstash",
        "PodDisruptionBudget/shopstream-logstash",
        "ConfigMap/shopstream-logstash-pipelines",
        "ConfigMap/shopstream-logstash-config",
        "ServiceAccount/logstash",
        "Service/shopstream-logstash-monitoring",
    } <= set(docs)
    for key, doc in docs.items():
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "logstash", key
        assert labels["app.kubernetes.io/part-of"] == "shopstream", key
    assert not any(k.startswith("Secret/") for k in docs), "no Secret objects (values) in the repository"


def test_statefulset_is_pinned_probed_and_bounded() -> None:
    dep = _docs()["StatefulSet/shopstream-logstash"]
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    image = container["image"]
    assert image == logstash.LOGSTASH_IMAGE
    assert image.startswith("opensearchproject/logstash-oss-with-opensearch-output-plugin:")
    assert re.fullmatch(r"\d+\.\d+\.\d+", image.rpartition(":")[2]), "pin an exact version tag"
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] in (9600, "monitoring")
    assert {p["containerPort"] for p in container["ports"]} == {9600}
    res = container["resources"]
    assert res["requests"]["cpu"] and res["requests"]["memory"] and res["limits"]["memory"]
    assert (
        dep["spec"]["selector"]["matchLabels"].items()
        <= dep["spec"]["template"]["metadata"]["labels"].items()
    )
    env_from = container["envFrom"]
    assert {"configMapRef": {"name": "shopstream-endpoints"}} in env_from
    secret_refs = [e["secretRef"] for e in env_from if "secretRef" in e]
    assert secret_refs and all(set(r) <= {"name", "optional"} for r in secret_refs)
    assert pod["serviceAccountName"] == "logstash"
    mounted = {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
    assert mounted == {logstash.CONFIGMAP_NAME, logstash.CONFIG_CONFIGMAP_NAME}


def test_hpa_max_replicas_equals_the_partition_count() -> None:
    docs = _docs()
    hpa = docs["HorizontalPodAutoscaler/shopstream-logstash"]
    aws = yaml.safe_load((config.CONF_DIR / "aws.yaml").read_text(encoding="utf-8"))
    assert hpa["spec"]["maxReplicas"] * logstash.LOGSTASH_CONSUMER_THREADS == aws["kafka"]["partitions"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": "shopstream-logstash",
    }
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    pdb = docs["PodDisruptionBudget/shopstream-logstash"]
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "shopstream-logstash"


def test_service_account_is_annotated_for_irsa_with_a_placeholder() -> None:
    sa = _docs()["ServiceAccount/logstash"]
    arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/\S+", arn) and "REPLACE-ME" in arn
    # Terraform applies only logstash/k8s/*.yaml and creates the real one itself
    assert not (LOGSTASH / "k8s" / "serviceaccount.yaml").exists()


def test_configmap_carries_the_pipeline_files_verbatim() -> None:
    docs = _docs()
    data = docs[f"ConfigMap/{logstash.CONFIGMAP_NAME}"]["data"]
    for path in (LOGSTASH / "pipeline").iterdir():
        assert data[path.name] == path.read_text(encoding="utf-8")
    cfg = docs[f"ConfigMap/{logstash.CONFIG_CONFIGMAP_NAME}"]["data"]
    assert cfg["pipelines.yml"] == (LOGSTASH / "pipelines.yml").read_text(encoding="utf-8")
    assert cfg["logstash.yml"] == (LOGSTASH / "config" / "logstash.yml").read_text(encoding="utf-8")


# --- no data loss on pod churn: the queues live on a volume that outlives the pod ------------------
def _logstash_settings() -> dict[str, Any]:
    return yaml.safe_load((LOGSTASH / "config" / "logstash.yml").read_text(encoding="utf-8"))


def persistence_problems(docs: dict[str, dict[str, Any]]) -> list[str]:
    """Why a pod deletion (scale-in, drain, spot loss) could lose events whose Kafka offsets are
    already committed: the queue not on a claim of its own, no disruption budget, no time to drain."""
    problems: list[str] = []
    settings = _logstash_settings()
    data_dir = settings["path.data"]
    workloads = [d for d in docs.values() if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Pod")]
    for w in workloads:
        name = f"{w['kind']}/{w['metadata']['name']}"
        if w["kind"] != "StatefulSet":
            problems.append(f"{name}: Logstash must be a StatefulSet (a queue volume per pod)")
            continue
        pod = w["spec"]["template"]["spec"]
        claims = {c["metadata"]["name"]: c for c in w["spec"].get("volumeClaimTemplates", [])}
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        mounts = {m["mountPath"]: m["name"] for c in pod["containers"] for m in c.get("volumeMounts", [])}
        source = mounts.get(data_dir)
        if source is None:
            problems.append(f"{name}: nothing mounted at path.data {data_dir}")
        elif source in volumes:
            kind = next(iter(set(volumes[source]) - {"name"}), "?")
            problems.append(f"{name}: path.data is on a pod volume ({kind}), deleted with the pod")
        elif source not in claims:
            problems.append(f"{name}: path.data volume {source} is not a volumeClaimTemplate")
        else:
            spec_ = claims[source]["spec"]
            if spec_.get("accessModes") != ["ReadWriteOnce"] or not spec_["resources"]["requests"]["storage"]:
                problems.append(f"{name}: claim {source} must be ReadWriteOnce with a size")
        if any("emptyDir" in v for v in volumes.values()):
            problems.append(f"{name}: emptyDir volume present")
        retention = w["spec"].get("persistentVolumeClaimRetentionPolicy", {})
        if retention.get("whenScaled") != "Retain" or retention.get("whenDeleted") != "Retain":
            problems.append(f"{name}: a scale-in or delete must keep the queue claims (Retain)")
        if int(pod.get("terminationGracePeriodSeconds", 30)) < 300:
            problems.append(f"{name}: terminationGracePeriodSeconds < 300 leaves no time to drain the queue")
        selector = w["spec"]["selector"]["matchLabels"]
        pdbs = [
            d
            for d in docs.values()
            if d["kind"] == "PodDisruptionBudget"
            and d["spec"]["selector"]["matchLabels"].items() <= selector.items()
        ]
        if not pdbs:
            problems.append(f"{name}: no PodDisruptionBudget")
        elif any(d["spec"].get("maxUnavailable", 1) not in (1, "1") for d in pdbs):
            problems.append(f"{name}: the PodDisruptionBudget must evict one pod at a time")
    if not workloads:
        problems.append("no Logstash workload")
    if settings.get("queue.type") != "persisted" or settings.get("queue.drain") is not True:
        problems.append("logstash.yml: queue.type persisted and queue.drain true are required")
    if not logstash.LOGSTASH_DLQ_DIR.startswith(data_dir.rstrip("/") + "/"):
        problems.append(f"the dead-letter queue {logstash.LOGSTASH_DLQ_DIR} is not under path.data")
    return problems


def test_logstash_queues_survive_pod_churn() -> None:
    assert persistence_problems(_docs()) == []


def _break(docs: dict[str, dict[str, Any]], how: str) -> dict[str, dict[str, Any]]:
    import copy

    docs = copy.deepcopy(docs)
    sts = docs["StatefulSet/shopstream-logstash"]
    pod = sts["spec"]["template"]["spec"]
    if how == "emptyDir":
        del sts["spec"]["volumeClaimTemplates"]
        pod["volumes"].append({"name": "data", "emptyDir": {"sizeLimit": "4Gi"}})
    elif how == "deployment":
        sts["kind"] = "Deployment"
    elif how == "no-pdb":
        del docs["PodDisruptionBudget/shopstream-logstash"]
    elif how == "short-grace":
        pod["terminationGracePeriodSeconds"] = 30
    elif how == "delete-on-scale-in":
        sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] = "Delete"
    return docs


@pytest.mark.parametrize("how", ["emptyDir", "deployment", "no-pdb", "short-grace", "delete-on-scale-in"])
def test_persistence_check_fails_on_a_bad_manifest(how: str) -> None:
    assert persistence_problems(_break(_docs(), how)), f"{how} was not detected"


def test_the_kafka_input_commit_semantics_are_documented() -> None:
    readme = (LOGSTASH / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Offsets and the persistent queue", 1)[1].split("\n## ", 1)[0]
    for needle in (
        "enable_auto_commit",
        "queue.drain",
        "volumeClaimTemplates",
        "checkpoint.writes",
        "PodDisruptionBudget",
    ):
        assert needle in section, needle
