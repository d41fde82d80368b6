"""The local engines: how each one is started, probed and prepared.

Each engine is a small class with ``ports``, ``start()``, ``ready()`` and ``prepare()`` (run
once it answers: topics, databases, buckets). The same objects serve ``up``, ``status`` and
``down``; nothing here runs at import time.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

from shopstream import kafka_admin
from shopstream.aws import boto_client
from shopstream.stack.engine import JAVA, Engine, jar_classpath
from shopstream.stack.postgres import Postgres
from shopstream.stack.process import EngineError, port_open


class Kafka(Engine):
    """Single-node KRaft broker+controller; storage formatted once; bounded heap."""

    name = "kafka"
    timeout = 60.0

    @property
    def ports(self) -> list[int]:
        k = self.settings.kafka
        return [k.port, k.controller_port]

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.settings.kafka.port}"

    def _properties(self) -> Path:
        k = self.settings.kafka
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{k.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{k.port},CONTROLLER://127.0.0.1:{k.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{k.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.dir / "data"),
            "num.partitions": str(k.partitions),
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "log.retention.hours": str(k.retention_hours),
            "log.segment.bytes": str(128 * 1024 * 1024),
            "num.network.threads": "2",
            "num.io.threads": "4",
        }
        path = self.dir / "server.properties"
        path.write_text("".join(f"{key}={val}\n" for key, val in props.items()))
        log4j = self.dir / "log4j.properties"
        log4j.write_text(
            "log4j.rootLogger=INFO, stdout\n"
            "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.kafka=INFO\n"
            "log4j.logger.state.change.logger=WARN\nlog4j.logger.kafka.request.logger=WARN\n"
        )
        return path

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        cp = jar_classpath(self.settings, "kafka")
        props = self._properties()
        java = [
            JAVA,
            f"-Xms{min(256, self.settings.kafka.heap_mb)}m",
            f"-Xmx{self.settings.kafka.heap_mb}m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.dir / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.dir / 'logs'}",
            "-cp",
            cp,
        ]
        if not (self.dir / "data" / "meta.properties").exists():
            # A Kafka cluster id is a UUID in URL-safe base64 without padding (22 chars).
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            fmt = subprocess.run(
                [*java, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)],
                capture_output=True,
                text=True,
                check=False,
            )
            if fmt.returncode != 0:
                raise EngineError(
                    f"kafka: formatting storage failed: {fmt.stderr.strip() or fmt.stdout.strip()}"
                )
        self.proc.start([*java, "kafka.Kafka", str(props)], env=self._env())

    def ready(self) -> bool:
        from confluent_kafka.admin import AdminClient  # the Kafka C client loads only for a probe

        if not port_open(self.settings.kafka.port):  # avoid librdkafka's reconnect noise
            return False
        admin = AdminClient(
            {"bootstrap.servers": self.endpoint, "socket.timeout.ms": 2000, "log.connection.close": False}
        )
        md = admin.list_topics(timeout=2)
        return bool(md.brokers)

    def prepare(self) -> str:
        created = kafka_admin.ensure_topics(self.settings)
        return f"topics created: {', '.join(created)}" if created else "topics present"


class OpenSearch(Engine):
    """A single OpenSearch 2.19 node (no security plugin) from the codelibs runner jars."""

    name = "opensearch"
    timeout = 120.0

    @property
    def ports(self) -> list[int]:
        return [self.settings.opensearch.port, self.settings.opensearch.transport_port]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.settings.opensearch.port}"

    def start(self) -> None:
        launcher = self.settings.jars_dir / "launcher"
        if not (launcher / "ShopstreamOpenSearch.class").exists():
            raise EngineError(f"opensearch: launcher class missing in {launcher}; run `shopstream jars`")
        cp = f"{launcher}:{jar_classpath(self.settings, 'opensearch')}"
        heap = self.settings.opensearch.heap_mb
        self.proc.start(
            [
                JAVA,
                f"-Xms{heap}m",
                f"-Xmx{heap}m",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                "-Dlog4j2.disable.jmx=true",
                "-cp",
                cp,
                "ShopstreamOpenSearch",
                str(self.dir / "home"),
                str(self.settings.opensearch.port),
                str(self.settings.opensearch.transport_port),
                "shopstream-local",
            ],
            env=self._env(),
        )

    def ready(self) -> bool:
        url = f"{self.endpoint}/_cluster/health"
        with urllib.request.urlopen(url, timeout=2) as resp:
            return json.load(resp).get("status") in ("green", "yellow")


class S3Api(Engine):
    """moto's server: the S3 API (and DynamoDB, for Delta's S3 log store) on loopback."""

    name = "s3"
    timeout = 40.0

    @property
    def ports(self) -> list[int]:
        return [self.settings.s3.port]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.settings.s3.port}"

    def start(self) -> None:
        self.proc.start(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.settings.s3.port)],
            env={**self._env(), "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
        )

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2) as resp:
            return resp.status == 200

    def prepare(self) -> str:
        s3 = boto_client(self.settings, "s3")
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        made = []
        s = self.settings.s3
        for bucket in (s.lake_bucket, s.export_bucket, s.archive_bucket):
            if bucket not in existing:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": s.region})
                made.append(bucket)
        ddb = boto_client(self.settings, "dynamodb")
        if s.dynamodb_table not in ddb.list_tables().get("TableNames", []):
            # The key schema Delta's S3DynamoDBLogStore expects.
            ddb.create_table(
                TableName=s.dynamodb_table,
                AttributeDefinitions=[
                    {"AttributeName": "tablePath", "AttributeType": "S"},
                    {"AttributeName": "fileName", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "tablePath", "KeyType": "HASH"},
                    {"AttributeName": "fileName", "KeyType": "RANGE"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            made.append(s.dynamodb_table)
        return f"created: {', '.join(made)}" if made else "buckets and table present"


ENGINES: dict[str, type[Engine]] = {
    "kafka": Kafka,
    "postgres": Postgres,
    "opensearch": OpenSearch,
    "s3": S3Api,
}
