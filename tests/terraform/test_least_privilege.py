"""Least privilege, derived from the code: what each component's code touches, compared with the
IAM policy Terraform renders for that component. Missing -> fail, extra -> fail.

Components and their policies:

* ``airflow-workers``       stacks/platform data.aws_iam_policy_document.airflow_workers
* ``airflow-control-plane`` stacks/platform data.aws_iam_policy_document.airflow_control_plane
* ``logstash``              stacks/platform data.aws_iam_policy_document.logstash
* ``emr``                   modules/emr data.aws_iam_policy_document.instance (as stacks/compute calls it)
* ``msk-connect``           modules/msk_connect data.aws_iam_policy_document.connector (idem)
* ``redshift-copy``         modules/redshift data.aws_iam_policy_document.copy (the role COPY uses)

The expected side is built from the code's own configuration, never from Terraform: the aws
profile (``conf/aws.yaml`` filled with the SHOPSTREAM_* values the workloads stack publishes),
the library's path functions (lake root, watermarks, export root), the topics of
``conf/contract.yaml``, the generated Logstash pipelines, ``conf/connect/*.json``, the DAGs'
connection and variable names, ``airflow/helm/values.yaml`` and ``external-secrets.yaml``.
Which steps run where comes from ``shopstream.orchestration`` (Spark steps on EMR, the rest in
the Airflow worker); a new step without an entry in ``WORKER_STEPS`` fails the test.

``test_the_comparison_catches_*`` copy the Terraform tree, widen or narrow one policy, and show
that the comparison reports it (the break-it-once proof, kept as a test).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, TF_ROOT, Config, load_config
from iam_render import Pair, Scope, defaults, module_variables, policy_document, render, value

from shopstream import config as ss_config
from shopstream import lake, orchestration, submit
from shopstream.contract import load_contract
from tools import tfrender

AIRFLOW_DAGS = REPO / "airflow" / "dags"
VALUES = REPO / "airflow" / "helm" / "values.yaml"
EXTERNAL_SECRETS = REPO / "airflow" / "helm" / "external-secrets.yaml"

# --- how each kind of access is spelled in IAM (facts about the clients, not about our code) ----
S3_READ = ("s3:GetObject",)
S3_WRITE = ("s3:PutObject", "s3:AbortMultipartUpload")
S3_DELETE = ("s3:DeleteObject",)
BOTO_LIST = ("s3:ListBucket",)  # boto3 list_objects_v2
HADOOP_LIST = ("s3:ListBucket", "s3:GetBucketLocation")  # Spark/EMRFS on EMR
KAFKA_CONNECT = ("kafka-cluster:Connect", "kafka-cluster:DescribeCluster")
KAFKA_READ = ("kafka-cluster:DescribeTopic", "kafka-cluster:ReadData")
KAFKA_WRITE = ("kafka-cluster:DescribeTopic", "kafka-cluster:WriteData")
KAFKA_GROUP = ("kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup")
# Spark's Kafka source names its consumer groups spark-kafka-source-<uuid> (groupIdPrefix default).
SPARK_STREAM_GROUP = "spark-kafka-source-*"
# MSK Connect's own internal topics and groups (offsets, configs, status per connector).
MSK_CONNECT_INTERNAL = "__amazon_msk_connect_*"
SECRET_SUFFIX = "-??????"  # Secrets Manager appends 6 random characters to every secret's ARN


# --- the Terraform side --------------------------------------------------------------------------
def _stack(root: Path, name: str) -> Config:
    return load_config(root / "stacks" / name)


def _module(root: Path, name: str) -> Config:
    return load_config(root / "modules" / name)


def _stack_scope(root: Path, name: str, overrides: dict[str, Any] | None = None) -> Scope:
    """A stack with its defaults; required variables (region, state bucket) stay symbols."""
    cfg = _stack(root, name)
    variables = {name: f"<var.{name}>" for name in cfg.variables()} | defaults(cfg)
    return Scope(cfg, variables, overrides or {})


def _module_scope(root: Path, stack: str, call: str, overrides: dict[str, Any] | None = None) -> Scope:
    caller = _stack_scope(root, stack, overrides)
    args = caller.config.module_calls()[call]
    module = load_config((caller.config.path / args["source"]).resolve())
    return Scope(module, module_variables(module, caller, args))


def connectors() -> dict[str, dict[str, str]]:
    """conf/connect/<c>.json over sink-common.json, keyed by connector name (what stacks/compute
    renders into MSK Connect connectors; its own keys are AWS settings, not grants)."""
    root = REPO / "conf" / "connect"
    common = json.loads((root / "sink-common.json").read_text())
    archive = defaults(_stack(TF_ROOT, "compute"))["archive_connectors"]
    out = {}
    for c in archive:
        props = {**common, **json.loads((root / f"{c}.json").read_text())}
        out[props["name"]] = props
    return out


def _compute_overrides() -> dict[str, Any]:
    conns = connectors()
    return {
        "connectors": conns,
        "archive_topics": sorted({t for p in conns.values() for t in p["topics"].split(",")}),
        "dlq_topics": sorted(
            p["errors.deadletterqueue.topic.name"]
            for p in conns.values()
            if "errors.deadletterqueue.topic.name" in p
        ),
    }


def rendered(root: Path = TF_ROOT) -> dict[str, set[Pair]]:
    platform = _stack_scope(root, "platform")
    emr = _module_scope(root, "compute", "emr", _compute_overrides())
    connect = _module_scope(root, "compute", "msk_connect", _compute_overrides())
    copy = _module_scope(root, "data", "redshift")
    return {
        "redshift-copy": render(policy_document(copy.config, "copy"), copy),
        "airflow-workers": render(policy_document(platform.config, "airflow_workers"), platform),
        "airflow-control-plane": render(policy_document(platform.config, "airflow_control_plane"), platform),
        "logstash": render(policy_document(platform.config, "logstash"), platform),
        "emr": render(policy_document(emr.config, "instance"), emr),
        "msk-connect": render(policy_document(connect.config, "connector"), connect),
    }


# --- the code side -------------------------------------------------------------------------------
@cache
def endpoints() -> dict[str, str]:
    """SHOPSTREAM_* values the workloads stack publishes to every pod, as canonical symbols."""
    scope = _stack_scope(TF_ROOT, "workloads")
    call = scope.config.module_calls()["workloads"]
    return {k: str(v) for k, v in value(call["endpoints"], scope).items()}


@cache
def settings() -> ss_config.Settings:
    """The aws profile exactly as a pod loads it, with the symbols as values."""
    env = dict(endpoints())
    # Values only a format check looks at (the COPY role is Redshift's, not a component's).
    env["SHOPSTREAM_WAREHOUSE__COPY_IAM_ROLE_ARN"] = "arn:aws:iam::123456789012:role/copy"
    env["SHOPSTREAM_S3__REGION"] = "ap-northeast-2"
    env["SHOPSTREAM_EMR__ARTIFACTS"] = "s3://artifacts/emr/"
    env.setdefault("SHOPSTREAM_POSTGRES__HOST", "<data.rds_address>")
    return ss_config.load("aws", environ=env)


def _s3(uri: str) -> tuple[str, str]:
    m = re.fullmatch(r"s3a?://([^/]+)/?(.*)", uri)
    assert m, f"not an S3 URI: {uri}"
    return m.group(1), m.group(2).strip("/")


def objects(uri: str, actions: tuple[str, ...]) -> set[Pair]:
    bucket, prefix = _s3(uri)
    return {(a, f"arn:aws:s3:::{bucket}/{prefix}/*") for a in actions}


def bucket(uri: str, actions: tuple[str, ...]) -> set[Pair]:
    return {(a, f"arn:aws:s3:::{_s3(uri)[0]}") for a in actions}


def topics(names: list[str] | set[str], actions: tuple[str, ...]) -> set[Pair]:
    return {(a, f"<data.msk_topic_arn_prefix>{t}") for t in names for a in actions}


def groups(names: list[str] | set[str], actions: tuple[str, ...] = KAFKA_GROUP) -> set[Pair]:
    return {(a, f"<data.msk_group_arn_prefix>{g}") for g in names for a in actions}


def msk_cluster() -> set[Pair]:
    return {(a, "<data.msk_cluster_arn>") for a in KAFKA_CONNECT}


def contract_topics() -> set[str]:
    return {e.topic for e in load_contract().entities.values()}


def kms(*actions: str) -> set[Pair]:
    return {(a, "<data.kms_key_arn>") for a in actions}


def secrets(prefix: str, names: list[str] | set[str], actions: tuple[str, ...]) -> set[Pair]:
    arn = "arn:aws:secretsmanager:<region>:<account>:secret"
    return {(a, f"{arn}:{prefix}/{n}{SECRET_SUFFIX}") for n in names for a in actions}


def _values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text(encoding="utf-8"))


def task_log_folder() -> str:
    """values.yaml remote_base_log_folder, in the logs bucket (its name is set at install)."""
    folder = _values()["config"]["logging"]["remote_base_log_folder"]
    return "s3://logs/" + _s3(folder)[1]


def secrets_backend() -> dict[str, str]:
    """The workers' secrets backend (Secrets Manager prefixes); the control plane has none."""
    values = _values()["config"]
    assert "secrets" not in values, "a [secrets] backend would make the API server read the workers' secrets"
    cfg = values["workers"]
    assert cfg["secrets_backend"].endswith("SecretsManagerBackend")
    return json.loads(cfg["secrets_backend_kwargs"])


def dag_connections_and_variables() -> tuple[set[str], set[str]]:
    """Connection ids (targets.AWS_DEFAULTS *_conn_id) and Variable names the DAG tasks read."""
    sys.path.insert(0, str(AIRFLOW_DAGS))
    try:
        from shopstream_dags import targets
    finally:
        sys.path.remove(str(AIRFLOW_DAGS))
    conns = {v for k, v in targets.AWS_DEFAULTS.items() if k.endswith("_conn_id")}
    source = "\n".join(p.read_text() for p in AIRFLOW_DAGS.rglob("*.py"))
    variables = set(re.findall(r"Variable\.get\(\s*\"([^\"]+)\"", source))
    return conns, variables


def logstash_inputs() -> tuple[set[str], set[str]]:
    """Topics and consumer groups of the generated Logstash pipelines (their kafka inputs)."""
    text = "\n".join(p.read_text() for p in (REPO / "logstash" / "pipeline").glob("*.conf"))
    names = {t for m in re.findall(r"topics => \[([^\]]*)\]", text) for t in re.findall(r'"([^"]+)"', m)}
    found = set(re.findall(r'group_id => "\$\{SHOPSTREAM_KAFKA__CONSUMER_GROUP:([^}]+)\}"', text))
    return names, found


def emr_cluster_arn() -> str:
    return f"arn:aws:elasticmapreduce:<region>:<account>:cluster/{endpoints()['SHOPSTREAM_EMR__CLUSTER_ID']}"


# What each step the Airflow worker runs itself touches (Spark steps are EMR's).
def _hour_closed() -> set[Pair]:
    s = settings()
    return (
        objects(lake.watermarks_path(s), S3_READ)
        | bucket(lake.watermarks_path(s), BOTO_LIST)
        | kms("kms:Decrypt")
    )


def _warehouse_login() -> set[Pair]:
    s = settings()
    tail = f"arn:aws:redshift:<region>:<account>:{{}}:{s.warehouse.redshift_cluster_id}/{{}}"
    return {
        ("redshift:GetClusterCredentials", tail.format("dbuser", s.warehouse.redshift_db_user)),
        ("redshift:GetClusterCredentials", tail.format("dbname", s.warehouse.redshift_database)),
    }


def _archive_prefix(topic: str) -> str:
    """Where the archive sink writes a topic: ``<aws.s3.prefix><topic>/dt=.../hh=.../``
    (shopstream.archive.hour_prefix, the layout the connector and the ledger share)."""
    from shopstream.archive import reader

    sample = reader.hour_prefix(topic, datetime(2026, 1, 1, tzinfo=UTC), reader.key_prefix())
    return "s3://archive/" + sample.split("/dt=", 1)[0]


def _reconcile() -> set[Pair]:
    """The reconcile step (an EMR step: it recounts the hour from Kafka with Spark)."""
    s = settings()
    out = msk_cluster() | topics(contract_topics(), KAFKA_READ)  # kafka_count
    if s.ledger.archive:  # reader.ledger_count: list and read the hour's objects per topic
        out |= bucket("s3://archive", BOTO_LIST)
        out |= set().union(*(objects(_archive_prefix(t), S3_READ) for t in contract_topics()))
    if s.ledger.opensearch:  # count_by_hour: refresh (POST) + _count
        out |= {
            ("es:ESHttpGet", "<data.opensearch_domain_arn>/*"),
            ("es:ESHttpPost", "<data.opensearch_domain_arn>/*"),
        }
    return out


WORKER_STEPS: dict[str, Callable[[], set[Pair]]] = {
    "hour-closed": _hour_closed,
    "load": _warehouse_login,  # COPY itself reads the export with Redshift's COPY role
    "aggregate": _warehouse_login,  # + the mart: password from its Airflow Connection
    "ledger-summary": set,  # the mart only
}


def expected() -> dict[str, set[Pair]]:
    s = settings()
    conns, variables = dag_connections_and_variables()
    backend = secrets_backend()
    worker = {
        # EmrAddStepsOperator (+ its log link: DescribeCluster), EmrStepSensor, the stream keeper
        (a, emr_cluster_arn())
        for a in (
            "elasticmapreduce:AddJobFlowSteps",
            "elasticmapreduce:DescribeCluster",
            "elasticmapreduce:DescribeStep",
            "elasticmapreduce:ListSteps",
        )
    }
    for step in WORKER_STEPS.values():
        worker |= step()
    worker |= secrets(backend["connections_prefix"], conns, ("secretsmanager:GetSecretValue",))
    worker |= secrets(backend["variables_prefix"], variables, ("secretsmanager:GetSecretValue",))
    worker |= objects(task_log_folder(), ("s3:GetObject", "s3:PutObject"))  # S3TaskHandler appends

    docs = [d for d in yaml.safe_load_all(EXTERNAL_SECRETS.read_text()) if d]
    keys = {r["remoteRef"]["key"] for d in docs for r in d.get("spec", {}).get("data", [])}
    keys |= {r["extract"]["key"] for d in docs for r in d.get("spec", {}).get("dataFrom", [])}
    prefixes = {k.rsplit("/", 1)[0] for k in keys}
    assert len(prefixes) == 1, f"control-plane secrets under one prefix, got {prefixes}"
    control_plane = (
        objects(task_log_folder(), ("s3:GetObject", "s3:PutObject"))
        | bucket(task_log_folder(), BOTO_LIST)
        | secrets(prefixes.pop(), {k.rsplit("/", 1)[1] for k in keys}, ("secretsmanager:GetSecretValue",))
    )

    ls_topics, ls_groups = logstash_inputs()
    logstash = (
        msk_cluster()
        | topics(ls_topics, KAFKA_READ)
        | groups(ls_groups)
        | {(f"es:ESHttp{m}", "<data.opensearch_domain_arn>/*") for m in ("Get", "Head", "Post", "Put")}
    )

    emr_mod = _module(TF_ROOT, "emr")
    emr_vars = defaults(emr_mod)
    artifacts = f"s3://artifacts/{emr_vars['artifacts_prefix']}"
    emr_logs = "s3://logs/emr"  # the cluster's log_uri
    assert "s3://${var.logs_bucket}/emr/" in emr_mod.text["main.tf"]
    emr = (
        objects(artifacts, S3_READ)
        | objects(s.lake_root, S3_READ + S3_WRITE + S3_DELETE)  # stream, compact, vacuum
        # export: Parquet through s3a (it checks, copies and deletes its temporary objects) + manifest
        | objects(s.export_root, S3_READ + S3_WRITE + S3_DELETE)
        | objects(emr_logs, ("s3:PutObject",))
        | set().union(*(bucket(u, HADOOP_LIST) for u in (artifacts, s.lake_root, s.export_root, emr_logs)))
        | kms("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        | msk_cluster()
        | topics(contract_topics(), KAFKA_READ)
        | groups({SPARK_STREAM_GROUP})
        | _reconcile()
    )
    # the mart (every step's ledger rows): the password from the secret the steps' environment
    # names (shopstream.credentials reads postgres.password_secret when no variable is set)
    step_env = tfrender.emr_step_env({"mart_password_secret_name": emr_vars["mart_password_secret_name"]})
    step_settings = ss_config.load("aws", environ=step_env)
    assert not step_env.get(step_settings.postgres.password_env), "a password in the EMR environment"
    name = step_settings.postgres.password_secret
    emr |= {
        (
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:<region>:<account>:secret:{name}{SECRET_SUFFIX}",
        )
    }
    # the late-hour corrections (an EMR step) re-run every hourly step, the worker's ones included
    if "corrections" in submit.HOURLY_EMR_STEPS:
        emr |= set().union(*(WORKER_STEPS[st]() for st in orchestration.STEPS if st in WORKER_STEPS))
    if s.lake.log_store == "s3-dynamodb":  # S3DynamoDBLogStore: one row per commit
        emr |= {
            (f"dynamodb:{a}", "<data.delta_log_table_arn>")
            for a in ("DescribeTable", "GetItem", "PutItem", "Query")
        }

    conns_ = connectors()
    archived = {t for p in conns_.values() for t in p["topics"].split(",")}
    dlq = {
        p["errors.deadletterqueue.topic.name"]
        for p in conns_.values()
        if "errors.deadletterqueue.topic.name" in p
    }
    archive_writes = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
    connect = (
        msk_cluster()
        | topics(archived, KAFKA_READ)
        | topics(dlq, KAFKA_WRITE)
        | topics({MSK_CONNECT_INTERNAL}, KAFKA_READ + KAFKA_WRITE + ("kafka-cluster:CreateTopic",))
        | groups({f"connect-{name}" for name in conns_} | {MSK_CONNECT_INTERNAL})
        | {
            (a, "arn:aws:s3:::archive")
            for a in ("s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads")
        }
        | set().union(*(objects(_archive_prefix(t), archive_writes) for t in archived))
        | kms("kms:GenerateDataKey", "kms:Decrypt")
    )
    # Redshift's COPY role (the load step's COPY ... IAM_ROLE): the export's manifests and files.
    redshift_copy = (
        objects(s.export_root, S3_READ)
        | bucket(s.export_root, ("s3:ListBucket", "s3:GetBucketLocation"))
        | kms("kms:Decrypt")
    )
    return {
        "redshift-copy": redshift_copy,
        "airflow-workers": worker,
        "airflow-control-plane": control_plane,
        "logstash": logstash,
        "emr": emr,
        "msk-connect": connect,
    }


# Grants the code needs that another issue owns: tolerated as MISSING only (never as EXTRA),
# printed by the test, and to be deleted here once the grant lands.
KNOWN_GAPS: dict[str, set[Pair]] = {}


def differences(
    want: dict[str, set[Pair]], have: dict[str, set[Pair]], known: dict[str, set[Pair]] | None = None
) -> list[str]:
    out = []
    for component in sorted(set(want) | set(have)):
        w, h = want.get(component, set()), have.get(component, set())
        w = w - (known or {}).get(component, set())
        out += [f"{component}: MISSING {a} on {r}" for a, r in sorted(w - h)]
        out += [f"{component}: EXTRA {a} on {r}" for a, r in sorted(h - w)]
    return out


# --- tests ---------------------------------------------------------------------------------------
def test_the_worker_step_table_covers_every_step_the_worker_runs() -> None:
    worker_steps = (set(orchestration.STEPS) - set(orchestration.SPARK_STEPS)) | {
        "hour-closed",
        "ledger-summary",
    }
    assert set(WORKER_STEPS) == worker_steps


def test_the_profile_resolves_to_the_data_stack_buckets() -> None:
    s = settings()
    assert (s.s3.lake_bucket, s.s3.export_bucket, s.s3.archive_bucket) == ("lake", "export", "archive")
    assert _s3(s.lake_root)[0] == "lake" and _s3(s.export_root)[0] == "export"


def test_every_component_policy_matches_what_its_code_touches() -> None:
    want, have = expected(), rendered()
    gaps = sorted(f"{c}: {a} on {r}" for c, pairs in KNOWN_GAPS.items() for a, r in pairs - have[c])
    if gaps:
        print("known gaps (another issue owns them):\n" + "\n".join(gaps))
    for component, pairs in KNOWN_GAPS.items():
        assert pairs <= want[component], f"{component}: a known gap the code no longer needs: remove it"
    problems = differences(want, have, KNOWN_GAPS)
    assert not problems, "IAM policy vs code:\n" + "\n".join(problems)


def test_no_policy_grants_wildcard_actions_or_whole_buckets() -> None:
    for component, pairs in rendered().items():
        for action, resource in pairs:
            assert "*" not in action, (component, action)
            assert resource != "*", (component, action)
            assert not re.fullmatch(r"arn:aws:s3:::[^/]+/\*", resource), (component, action, resource)


def test_no_component_can_read_a_master_secret() -> None:
    platform = _stack(TF_ROOT, "platform").serialized()
    for master in ("redshift_secret_arn", "rds_secret_arn"):
        assert master not in platform, f"platform stack references the master secret output {master}"
    for component, pairs in rendered().items():
        assert not any(r.startswith("<data.") and "secret" in r for _, r in pairs), component


def _trust(root: Path = TF_ROOT) -> dict[str, dict[str, Any]]:
    platform = _stack_scope(root, "platform")
    roles = platform.config.module_calls()["eks"]["irsa_roles"]
    return {
        name: {
            "namespace": value(body["namespace"], platform),
            "service_accounts": value(body["service_accounts"], platform),
        }
        for name, body in roles.items()
    }


def trust_problems(root: Path = TF_ROOT) -> list[str]:
    """Each IRSA role trusts exactly its component's service accounts, by StringEquals."""
    problems = []
    eks = _module(root, "eks")
    [doc] = [b for t, n, b in eks.data_sources() if t == "aws_iam_policy_document" and n == "irsa_assume"]
    [statement] = doc["statement"]
    subs = [c for c in statement["condition"] if str(c["variable"]).rstrip("}").endswith(":sub")]
    if [c["test"] for c in subs] != ["StringEquals"]:
        problems.append(f"the IRSA :sub condition must be one StringEquals, got {[c['test'] for c in subs]}")
    elif "each.value.service_accounts" not in str(subs[0]["values"]):
        problems.append("the IRSA :sub condition must list the role's service_accounts")

    values = _values()
    chart = {
        k: values[k]["serviceAccount"]["name"]
        for k in ("workers", "apiServer", "scheduler", "dagProcessor", "triggerer")
    }
    manifests = [
        d for p in (REPO / "logstash" / "k8s").glob("*.yaml") for d in yaml.safe_load_all(p.read_text()) if d
    ]
    [sts] = [d for d in manifests if d["kind"] == "StatefulSet"]
    want = {
        "airflow-workers": [chart["workers"]],
        "airflow-control-plane": sorted(v for k, v in chart.items() if k != "workers"),
        "logstash": [sts["spec"]["template"]["spec"]["serviceAccountName"]],
    }
    have = {k: sorted(v["service_accounts"]) for k, v in _trust(root).items()}
    if have != want:
        problems.append(f"trusted service accounts {have} != the components' {want}")
    return problems


def test_each_role_trusts_exactly_its_components_service_accounts() -> None:
    assert trust_problems() == []


@pytest.mark.parametrize(
    ("rel", "old", "new"),
    [
        ("stacks/platform/main.tf", "[var.logstash_service_account]", '["logstash-*"]'),
        (
            "stacks/platform/main.tf",
            "[var.airflow_service_accounts.worker]",
            '["airflow-worker", "airflow-api-server"]',
        ),
        (
            "modules/eks/main.tf",
            'test     = "StringEquals"\n      variable = "${local.oidc_host}:sub"',
            'test     = "StringLike"\n      variable = "${local.oidc_host}:sub"',
        ),
    ],
)
def test_the_trust_check_catches_a_wider_trust(tmp_path: Path, rel: str, old: str, new: str) -> None:
    assert trust_problems(_mutated(tmp_path, rel, old, new))


# --- the comparison can fail: mutate a copy of the tree ----------------------------------------------
def _mutated(tmp_path: Path, rel: str, old: str, new: str) -> Path:
    root = tmp_path / "terraform"
    shutil.copytree(TF_ROOT, root, ignore=shutil.ignore_patterns(".terraform"))
    path = root / rel
    text = path.read_text()
    assert old in text, f"{rel} no longer contains {old!r}: update this mutation"
    path.write_text(text.replace(old, new, 1))
    return root


MUTATIONS = {
    "logstash reads an extra topic": (
        "stacks/platform/variables.tf",
        'default     = ["shopstream.users", "shopstream.orders"]',
        'default     = ["shopstream.users", "shopstream.orders", "shopstream.payments"]',
        "logstash: EXTRA kafka-cluster:ReadData on <data.msk_topic_arn_prefix>shopstream.payments",
    ),
    "the workers lose their warehouse login": (
        "stacks/platform/variables.tf",
        'default     = "shopstream_loader"',
        'default     = "shopstream_admin"',
        "airflow-workers: MISSING redshift:GetClusterCredentials",
    ),
    "emr gets the whole lake bucket": (
        "modules/emr/variables.tf",
        'default     = "bronze"',
        'default     = "*"',
        "emr: MISSING s3:GetObject on arn:aws:s3:::lake/bronze/*",
    ),
    "the control plane can read a master secret": (
        "stacks/platform/variables.tf",
        '"metadata-connection", "oidc-client"]',
        '"metadata-connection", "oidc-client", "rds-master"]',
        "airflow-control-plane: EXTRA secretsmanager:GetSecretValue",
    ),
    "msk connect archives under the whole bucket": (
        "modules/msk_connect/main.tf",
        '"${var.archive_bucket_arn}/${t}/*"',
        '"${var.archive_bucket_arn}/*"',
        "msk-connect: EXTRA s3:PutObject on arn:aws:s3:::archive/*",
    ),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_the_comparison_catches_a_changed_policy(tmp_path: Path, name: str) -> None:
    rel, old, new, message = MUTATIONS[name]
    problems = differences(expected(), rendered(_mutated(tmp_path, rel, old, new)))
    assert any(p.startswith(message) for p in problems), problems
