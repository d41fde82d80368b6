"""Kafka clients' common configuration, and the topics the contract needs.

``ensure_topics(settings)`` creates every entity's topic from ``conf/contract.yaml`` that does
not exist yet (partitions, replication factor, retention and ``min.insync.replicas`` from the
profile) and returns the names it created; existing topics are left as they are (see
``describe_topics`` for drift). The local stack launcher calls it once Kafka is up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shopstream.contract import Contract, load_contract
from shopstream.errors import RuntimeFailure, UsageError

if TYPE_CHECKING:
    from shopstream.config import Settings

DEFAULT_TIMEOUT = 30.0
# MSK with IAM auth for the Java Kafka client (aws-msk-iam-auth: on EMR 7 and in the Logstash
# image): Spark's Kafka source takes these prefixed ``kafka.`` (shopstream.spark), Logstash's
# kafka input with ``_`` for ``.`` (shopstream.realtime.logstash). librdkafka's is client_config.
MSK_IAM_JAVA_CLIENT = {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "AWS_MSK_IAM",
    "sasl.jaas.config": "software.amazon.msk.auth.iam.IAMLoginModule required;",
    "sasl.client.callback.handler.class": "software.amazon.msk.auth.iam.IAMClientCallbackHandler",
}
MANAGED_CONFIGS = ("retention.ms", "min.insync.replicas", "cleanup.policy")


class KafkaAdminError(RuntimeFailure):
    """Kafka could not be reached or refused a topic operation (exit code 1 in the CLI)."""


def client_config(settings: Settings, bootstrap_servers: str | None = None) -> dict[str, Any]:
    """librdkafka settings every shopstream client shares: brokers and security.

    ``SASL_SSL`` means MSK with IAM auth (OAUTHBEARER, token signed with the instance's IAM
    role), which needs the ``aws-msk-iam-sasl-signer-python`` package at run time.
    """
    k = settings.kafka
    cfg: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers or k.bootstrap_servers,
        "security.protocol": k.security_protocol,
    }
    if k.security_protocol == "SASL_SSL":
        region = settings.s3.region

        def _msk_iam_token(_config: str) -> tuple[str, float]:
            try:
                from aws_msk_iam_sasl_signer import MSKAuthTokenProvider  # type: ignore[import-not-found]
            except ImportError as exc:  # pragma: no cover - AWS only
                raise KafkaAdminError(
                    "kafka.security_protocol SASL_SSL (MSK IAM) needs aws-msk-iam-sasl-signer-python"
                ) from exc
            token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
            return token, expiry_ms / 1000

        cfg["sasl.mechanism"] = "OAUTHBEARER"
        cfg["oauth_cb"] = _msk_iam_token
    return cfg


@dataclass(frozen=True)
class TopicSpec:
    """What a topic should look like."""

    entity: str
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]


@dataclass
class TopicState:
    """What a topic looks like on the cluster, and how it differs from its spec."""

    spec: TopicSpec
    exists: bool
    partitions: int = 0
    replication_factor: int = 0
    config: dict[str, str] = field(default_factory=dict)
    drift: list[str] = field(default_factory=list)


def topic_specs(
    settings: Settings, contract: Contract | None = None, topic_prefix: str = ""
) -> list[TopicSpec]:
    """One spec per contract entity. Raises UsageError for an unsafe profile."""
    k = settings.kafka
    if k.min_insync_replicas > k.replication_factor:
        raise UsageError(
            f"kafka.min_insync_replicas ({k.min_insync_replicas}) > kafka.replication_factor "
            f"({k.replication_factor}): no write with acks=all could ever succeed"
        )
    if settings.profile == "aws" and (k.min_insync_replicas < 2 or k.replication_factor < 3):
        raise UsageError(
            "aws profile: kafka.min_insync_replicas must be >= 2 and kafka.replication_factor >= 3 "
            "(acks=all must survive one broker loss)"
        )
    contract = contract or load_contract()
    config = {
        "retention.ms": str(k.retention_hours * 3600 * 1000),
        "min.insync.replicas": str(k.min_insync_replicas),
        "cleanup.policy": "delete",
    }
    return [
        TopicSpec(ent.name, topic_prefix + ent.topic, k.partitions, k.replication_factor, dict(config))
        for ent in contract.entities.values()
    ]


def _admin(settings: Settings, bootstrap_servers: str | None) -> Any:
    from confluent_kafka.admin import AdminClient

    cfg = client_config(settings, bootstrap_servers)
    cfg["log_level"] = 5  # no "purging unserved events" notice when a short-lived admin client closes
    return AdminClient(cfg)


def cluster_metadata(client: Any, where: str, timeout: float) -> Any:
    """``client.list_topics()`` (an admin client, producer or consumer) or KafkaAdminError naming
    the cluster: the one check that Kafka answers."""
    from confluent_kafka import KafkaException

    try:
        return client.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaAdminError(
            f"Kafka at {where} did not answer within {timeout:g}s ({exc.args[0]})"
        ) from None


def _contract_topics(
    settings: Settings,
    contract: Contract | None,
    topic_prefix: str,
    bootstrap_servers: str | None,
    timeout: float,
) -> tuple[list[TopicSpec], str, Any, Any]:
    """The contract's topic specs, the cluster's address, an admin client and its metadata."""
    where = bootstrap_servers or settings.kafka.bootstrap_servers
    admin = _admin(settings, bootstrap_servers)
    return (
        topic_specs(settings, contract, topic_prefix),
        where,
        admin,
        cluster_metadata(admin, where, timeout),
    )


def ensure_topics(
    settings: Settings,
    contract: Contract | None = None,
    *,
    topic_prefix: str = "",
    bootstrap_servers: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[str]:
    """Create the contract's missing topics; return the names created (empty if none)."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    specs, where, admin, cluster = _contract_topics(
        settings, contract, topic_prefix, bootstrap_servers, timeout
    )
    missing = [s for s in specs if s.name not in cluster.topics]
    if not missing:
        return []
    brokers = len(cluster.brokers)
    if brokers < settings.kafka.replication_factor:
        raise KafkaAdminError(
            f"Kafka at {where} has {brokers} broker(s); kafka.replication_factor is "
            f"{settings.kafka.replication_factor}"
        )
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, s.replication_factor, config=s.config) for s in missing],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    created: list[str] = []
    for name, fut in futures.items():
        try:
            fut.result()
            created.append(name)
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue  # created concurrently by someone else: fine
            raise KafkaAdminError(f"creating topic {name} failed: {err.str()}") from None
    return sorted(created)


def describe_topics(
    settings: Settings,
    contract: Contract | None = None,
    *,
    topic_prefix: str = "",
    bootstrap_servers: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[TopicState]:
    """State of each contract topic on the cluster, with drift from the profile's spec."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ConfigResource

    specs, _where, admin, cluster = _contract_topics(
        settings, contract, topic_prefix, bootstrap_servers, timeout
    )
    states: list[TopicState] = []
    present = [s for s in specs if s.name in cluster.topics]
    configs: dict[str, dict[str, str]] = {}
    if present:
        futures = admin.describe_configs(
            [ConfigResource(ConfigResource.Type.TOPIC, s.name) for s in present], request_timeout=timeout
        )
        for res, fut in futures.items():
            try:
                entries = fut.result()
            except KafkaException as exc:
                raise KafkaAdminError(f"describing topic {res.name} failed: {exc.args[0].str()}") from None
            configs[res.name] = {k: str(entries[k].value) for k in MANAGED_CONFIGS if k in entries}
    for spec in specs:
        meta = cluster.topics.get(spec.name)
        if meta is None:
            states.append(TopicState(spec, exists=False, drift=["missing"]))
            continue
        parts = meta.partitions
        rf = min((len(p.replicas) for p in parts.values()), default=0)
        state = TopicState(spec, True, len(parts), rf, configs.get(spec.name, {}))
        if state.partitions < spec.partitions:
            state.drift.append(f"partitions {state.partitions} < {spec.partitions}")
        if rf < spec.replication_factor:
            state.drift.append(f"replication {rf} < {spec.replication_factor}")
        for key, want in spec.config.items():
            have = state.config.get(key)
            if have is not None and have != want:
                state.drift.append(f"{key}={have} (profile: {want})")
        states.append(state)
    return states
