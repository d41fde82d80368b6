"""Raw archive: a Kafka Connect S3 sink (Aiven's, Apache-2.0) keeping every event as JSON lines.

One configuration, two targets:

* ``conf/connect/sink-common.json`` + ``conf/connect/<entity>.json`` are the **portable**
  connector properties. Locally they go to a Kafka Connect standalone worker; on AWS Terraform
  reads the very same files (``jsondecode(file(...))``) into the MSK Connect connector.
* :func:`environment_properties` adds what differs per deployment but comes from the settings
  (bucket, region, dead-letter topic replication): Terraform derives the same keys from its
  variables.
* ``conf/connect/local.json`` holds the **local-only** keys (the loopback S3 endpoint, the
  credentials provider); they never reach MSK Connect.

Objects are keyed ``<topic>/dt=YYYY-MM-DD/hh=HH/<topic>-<partition>-<start offset>`` from the
record timestamp, which the producer sets to the event's ``created_at`` (event time, UTC). The
start offset is the first offset of the partition's batch, so a batch redelivered after a crash
rewrites the same object names: objects are overwritten, never duplicated.

The worker runs as a detached JVM with its logs, PID, rendered properties and offsets file in
``<state_dir>/archive``; its REST API listens on 127.0.0.1 only. Nothing runs at import time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from shopstream.config import CONF_DIR, Settings
from shopstream.contract import check_entity
from shopstream.contract import entities as contract_entities
from shopstream.stack.process import Proc, port_in_use

CONNECT_CONF = CONF_DIR / "connect"
COMMON_FILE = "sink-common.json"
LOCAL_FILE = "local.json"
WORKER_TEMPLATE = "worker.properties"
PLUGIN_DIRNAME = "connect-plugins"
AIVEN_JAR_PREFIX = "s3-connector-for-apache-kafka-"
REST_PORT_ENV = "SHOPSTREAM_ARCHIVE_REST_PORT"
FLUSH_ENV = "SHOPSTREAM_ARCHIVE_FLUSH_MS"
DEFAULT_REST_PORT = 18083
DEFAULT_FLUSH_MS = 10_000
HEAP_MB = 384
# Keys the environment supplies (settings locally, Terraform variables on AWS).
ENVIRONMENT_KEYS = (
    "aws.s3.bucket.name",
    "aws.s3.region",
    "errors.deadletterqueue.topic.replication.factor",
)

Target = Literal["local", "aws"]
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")
_KEY_RE = re.compile(
    r"^(?P<topic>[^/]+)/dt=(?P<date>\d{4}-\d{2}-\d{2})/hh=(?P<hour>\d{2})/(?P=topic)-(?P<partition>\d+)-(?P<offset>\d+)"
    r"(?:\.[a-z0-9]+)?$"
)


class ArchiveError(Exception):
    """The archive could not be configured, started or read; the message says what to do."""


# --- configuration ----------------------------------------------------------------------------


def _read_json(name: str) -> dict[str, str]:
    path = CONNECT_CONF / name
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArchiveError(f"conf/connect/{name}: file not found") from None
    except json.JSONDecodeError as exc:
        raise ArchiveError(f"conf/connect/{name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ArchiveError(f"conf/connect/{name}: top level must be an object of string properties")
    bad = [k for k, v in data.items() if not isinstance(v, str)]
    if bad:
        # MSK Connect's connector_configuration is map(string): keep the files string-only.
        raise ArchiveError(f"conf/connect/{name}: values must be strings (Kafka Connect properties): {bad}")
    return data


def _check_entity(entity: str) -> None:
    try:
        check_entity(entity)
    except ValueError as exc:
        raise ArchiveError(str(exc)) from None


def portable_properties(entity: str) -> dict[str, str]:
    """The connector properties shared by every target: sink-common.json overlaid by <entity>.json."""
    _check_entity(entity)
    common = _read_json(COMMON_FILE)
    specific = _read_json(f"{entity}.json")
    clash = sorted(set(common) & set(specific))
    if clash:
        raise ArchiveError(f"conf/connect/{entity}.json repeats keys of {COMMON_FILE}: {clash}")
    return {**common, **specific}


def environment_properties(settings: Settings) -> dict[str, str]:
    """Per-deployment values taken from the settings (Terraform sets the same keys from variables)."""
    return {
        "aws.s3.bucket.name": settings.s3.archive_bucket,
        "aws.s3.region": settings.s3.region,
        "errors.deadletterqueue.topic.replication.factor": str(settings.kafka.replication_factor),
    }


def local_properties(settings: Settings) -> dict[str, str]:
    """Local-only keys (loopback S3 endpoint, credentials from the worker's environment)."""
    raw = _read_json(LOCAL_FILE)
    values = {"S3_ENDPOINT_URL": settings.s3.endpoint_url}
    if not settings.s3.endpoint_url:
        raise ArchiveError("s3.endpoint_url is empty: the local archive needs the local S3 API endpoint")
    return {k: _fill(v, values, LOCAL_FILE) for k, v in raw.items()}


def connector_properties(settings: Settings, entity: str, target: Target = "local") -> dict[str, str]:
    """Everything the connector gets on ``target``. AWS = portable + environment; local adds local.json."""
    props = {**portable_properties(entity), **environment_properties(settings)}
    if target == "local":
        local = local_properties(settings)
        clash = sorted(set(local) & set(props))
        if clash:
            raise ArchiveError(f"conf/connect/{LOCAL_FILE} must only add local keys, but overrides {clash}")
        props.update(local)
    return props


def terraform_connector_configuration(
    entity: str, bucket: str, region: str, dlq_replication_factor: int
) -> dict[str, str]:
    """What MSK Connect receives, computed the way terraform/ does it::

    merge(jsondecode(file("conf/connect/sink-common.json")),
          jsondecode(file("conf/connect/<entity>.json")),
          { "aws.s3.bucket.name" = ..., "aws.s3.region" = ...,
            "errors.deadletterqueue.topic.replication.factor" = ... })
    """
    _check_entity(entity)
    merged: dict[str, str] = {}
    for name in (COMMON_FILE, f"{entity}.json"):
        merged.update(json.loads((CONNECT_CONF / name).read_text()))
    merged.update(
        {
            "aws.s3.bucket.name": bucket,
            "aws.s3.region": region,
            "errors.deadletterqueue.topic.replication.factor": str(dlq_replication_factor),
        }
    )
    return merged


def topics() -> dict[str, str]:
    """entity -> Kafka topic, as the connector files name them."""
    return {e: portable_properties(e)["topics"] for e in contract_entities()}


def dlq_topics() -> dict[str, str]:
    return {e: portable_properties(e)["errors.deadletterqueue.topic.name"] for e in contract_entities()}


def _fill(value: str, values: Mapping[str, str], source: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise ArchiveError(f"conf/connect/{source}: unknown placeholder ${{{m.group(1)}}}")
        return values[m.group(1)]

    return _PLACEHOLDER.sub(repl, value)


def _escape_properties(value: str) -> str:
    # java.util.Properties: backslash escapes; leading spaces would be dropped.
    out = value.replace("\\", "\\\\").replace("\n", "\\n")
    return "\\" + out if out.startswith(" ") else out


def to_properties(props: Mapping[str, str]) -> str:
    return "".join(f"{k}={_escape_properties(v)}\n" for k, v in sorted(props.items()))


# --- the standalone worker ---------------------------------------------------------------------


def rest_port() -> int:
    return int(os.environ.get(REST_PORT_ENV, DEFAULT_REST_PORT))


def flush_interval_ms() -> int:
    return int(os.environ.get(FLUSH_ENV, DEFAULT_FLUSH_MS))


def workdir(settings: Settings) -> Path:
    return settings.state_path / "archive"


def plugin_path(settings: Settings) -> Path:
    return settings.jars_dir / PLUGIN_DIRNAME


def find_plugin(settings: Settings) -> Path | None:
    """The directory holding Aiven's connector jar below plugin.path, or None."""
    root = plugin_path(settings)
    if not root.is_dir():
        return None
    for jar in sorted(root.rglob(f"{AIVEN_JAR_PREFIX}*.jar")):
        return jar.parent
    return None


def _proc(settings: Settings) -> Proc:
    return Proc("connect", workdir(settings))


def render(settings: Settings) -> tuple[Path, list[Path]]:
    """Write worker.properties and one <connector>.properties per entity into the state dir."""
    d = workdir(settings)
    d.mkdir(parents=True, exist_ok=True)
    values = {
        "BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "REST_PORT": str(rest_port()),
        "PLUGIN_PATH": str(plugin_path(settings)),
        "OFFSETS_FILE": str(d / "connect.offsets"),
        "FLUSH_INTERVAL_MS": str(flush_interval_ms()),
    }
    template = (CONNECT_CONF / WORKER_TEMPLATE).read_text()
    worker = d / "worker.properties"
    worker.write_text(_fill(template, values, WORKER_TEMPLATE))
    connectors = []
    for entity in contract_entities():
        path = d / f"{entity}.properties"
        path.write_text(to_properties(connector_properties(settings, entity, "local")))
        connectors.append(path)
    log4j = d / "connect-log4j.properties"
    log4j.write_text(
        "log4j.rootLogger=INFO, stdout\n"
        "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.org.reflections=ERROR\n"
        "log4j.logger.org.apache.kafka.clients=WARN\n"
    )
    return worker, connectors


def _rest(path: str, timeout: float = 3.0) -> Any:
    url = f"http://127.0.0.1:{rest_port()}{path}"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read().decode())


def connector_states() -> dict[str, dict[str, Any]]:
    """connector name -> {"state": ..., "tasks": [...]} from the worker's REST API."""
    names = _rest("/connectors")
    return {name: _rest(f"/connectors/{name}/status") for name in names}


def _all_running() -> bool:
    want = {portable_properties(e)["name"] for e in contract_entities()}
    states = connector_states()
    if not want <= set(states):
        return False
    for name in want:
        st = states[name]
        if st["connector"]["state"] == "FAILED" or any(t["state"] == "FAILED" for t in st["tasks"]):
            trace = next((t.get("trace", "") for t in st["tasks"] if t["state"] == "FAILED"), "")
            raise ArchiveError(
                f"connector {name} FAILED: {(trace or st['connector'].get('trace', ''))[:800]}"
            )
        if st["connector"]["state"] != "RUNNING" or not st["tasks"]:
            return False
        if any(t["state"] != "RUNNING" for t in st["tasks"]):
            return False
    return True


def launch(settings: Settings, with_connectors: bool = True) -> int:
    """Render the properties and start the worker JVM without waiting; returns its PID.

    ``with_connectors=False`` boots a bare worker (no plugin needed): it proves the rendered
    worker configuration against the real Connect runtime.
    """
    proc = _proc(settings)
    classpath = settings.jars_dir / "connect"
    if port_in_use(rest_port()):
        raise ArchiveError(f"port {rest_port()} (Connect REST) is in use; set {REST_PORT_ENV} to a free port")
    worker, rendered = render(settings)
    connectors = rendered if with_connectors else []
    java = shutil.which("java") or "java"
    argv = [
        java,
        "-Xms128m",
        f"-Xmx{HEAP_MB}m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{workdir(settings) / 'connect-log4j.properties'}",
        "-cp",
        f"{classpath}/*",
        "org.apache.kafka.connect.cli.ConnectStandalone",
        str(worker),
        *(str(c) for c in connectors),
    ]
    env = {"SHOPSTREAM_ENGINE_DIR": str(workdir(settings))}
    if settings.s3.endpoint_url and not os.environ.get("AWS_ACCESS_KEY_ID"):
        # The local S3 API accepts any credentials; real ones come from the environment / IAM.
        env.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
    env["AWS_REGION"] = settings.s3.region
    return proc.start(argv, env=env)


def start(settings: Settings, timeout: float = 120.0) -> int:
    """Start the standalone worker with both connectors; returns its PID (idempotent)."""
    proc = _proc(settings)
    pid = proc.pid()
    if pid is not None:
        return pid
    classpath = settings.jars_dir / "connect"
    if not any(classpath.glob("connect-runtime-*.jar")):
        raise ArchiveError(f"Kafka Connect runtime jars missing in {classpath}; run `shopstream jars` first")
    if find_plugin(settings) is None:
        raise ArchiveError(
            f"Aiven's S3 sink plugin is not in {plugin_path(settings)}/ (expected {AIVEN_JAR_PREFIX}*.jar). "
            "Resolve conf/jars/connect-plugins/pom.xml where Maven Central serves io.aiven artifacts "
            "(`shopstream jars -P aiven-s3`); see conf/connect/README.md"
        )
    pid = launch(settings, with_connectors=True)
    try:
        _wait_running(proc, timeout)
    except ArchiveError:
        proc.stop(timeout=10)
        raise
    return pid


def _wait_running(proc: Proc, timeout: float) -> None:
    """Poll the REST API until both connectors and their tasks run; fail fast on FAILED or exit."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.pid() is None:
            raise ArchiveError(
                f"the Connect worker exited during start-up; see {proc.log_file}\n{proc.log_tail()}"
            )
        try:
            if _all_running():
                return
        except (urllib.error.URLError, OSError) as exc:  # REST not listening yet
            last = exc
        time.sleep(0.5)
    why = f" (last error: {last})" if last else ""
    raise ArchiveError(f"connectors not RUNNING after {timeout:.0f}s{why}; see {proc.log_file}")


def stop(settings: Settings, timeout: float = 60.0) -> bool:
    """Stop the worker by PID (SIGTERM lets it flush and commit; SIGKILL after ``timeout``)."""
    return _proc(settings).stop(timeout=timeout)


def kill(settings: Settings) -> bool:
    """SIGKILL the worker at once (crash simulation for tests); returns False if not running."""
    import signal

    proc = _proc(settings)
    pid = proc.pid()
    if pid is None:
        return False
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if proc.pid() is None:
            break
        time.sleep(0.05)
    proc.pid_file.unlink(missing_ok=True)
    return True


@dataclass
class ArchiveStatus:
    pid: int | None
    log_file: Path
    connectors: dict[str, str] = field(default_factory=dict)  # name -> "RUNNING" / "FAILED" ...
    dead_letters: dict[str, int] = field(default_factory=dict)  # dlq topic -> records
    rest_error: str | None = None
    kafka_error: str | None = None


def status(settings: Settings) -> ArchiveStatus:
    proc = _proc(settings)
    st = ArchiveStatus(pid=proc.pid(), log_file=proc.log_file)
    if st.pid is not None:
        try:
            for name, s in connector_states().items():
                tasks = ",".join(t["state"] for t in s["tasks"]) or "no tasks"
                st.connectors[name] = f"{s['connector']['state']} (tasks: {tasks})"
        except (urllib.error.URLError, OSError) as exc:
            st.rest_error = str(exc)
    from confluent_kafka import KafkaException

    try:
        st.dead_letters = dead_letter_counts(settings)
    except KafkaException as exc:
        st.kafka_error = str(exc)
    return st


def dead_letter_counts(settings: Settings, timeout: float = 5.0) -> dict[str, int]:
    """Records in each dead-letter topic (malformed events the sink tolerated); 0 if never created."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": "shopstream-archive-status",
            "enable.auto.commit": False,
            "socket.timeout.ms": int(timeout * 1000),
        }
    )
    try:
        md = consumer.list_topics(timeout=timeout)
        out: dict[str, int] = {}
        for topic in dlq_topics().values():
            meta = md.topics.get(topic)
            if meta is None or meta.error is not None:
                out[topic] = 0
                continue
            total = 0
            for p in meta.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
                total += high - low
            out[topic] = total
        return out
    finally:
        consumer.close()


# --- reading the archive (ledger stage "archive") -----------------------------------------------


@dataclass
class HourArchive:
    """What the archive holds for one entity and one hour."""

    objects: list[str] = field(default_factory=list)
    lines: int = 0
    event_ids: set[str] = field(default_factory=set)
    misplaced: list[str] = field(default_factory=list)  # event_ids whose created_at is another hour

    @property
    def distinct(self) -> int:
        return len(self.event_ids)

    @property
    def duplicates(self) -> int:
        return self.lines - self.distinct


def hour_prefix(topic: str, hour: datetime) -> str:
    h = _as_hour(hour)
    return f"{topic}/dt={h:%Y-%m-%d}/hh={h:%H}/"


def _as_hour(hour: datetime) -> datetime:
    if hour.tzinfo is None:
        raise ArchiveError("hour must be timezone-aware (UTC)")
    return hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _event(line: str) -> dict[str, Any]:
    obj = json.loads(line)
    # Tolerate the sink's envelope ({"value": {...}}) in case format.output.envelope is on.
    if isinstance(obj, dict) and set(obj) == {"value"} and isinstance(obj["value"], dict):
        obj = obj["value"]
    if not isinstance(obj, dict):
        raise TypeError("archived line is not a JSON object")
    return obj


def read_hour(
    settings: Settings, hour: datetime, entities: Iterable[str] | None = None
) -> dict[str, HourArchive]:
    """Read every archived object of ``hour`` (UTC) for each entity (default: all of the contract's),
    straight from the bucket."""
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    try:
        return _read_hour(settings, hour, contract_entities() if entities is None else entities)
    except (BotoCoreError, ClientError) as exc:
        raise ArchiveError(f"reading s3://{settings.s3.archive_bucket}: {exc}") from None


def _read_hour(settings: Settings, hour: datetime, entities: Iterable[str]) -> dict[str, HourArchive]:
    from shopstream.aws import boto_client

    h = _as_hour(hour)
    s3 = boto_client(settings, "s3")
    bucket = settings.s3.archive_bucket
    tmap = topics()
    out: dict[str, HourArchive] = {}
    for entity in entities:
        _check_entity(entity)
        result = HourArchive()
        prefix = hour_prefix(tmap[entity], h)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if not _KEY_RE.match(key):
                    raise ArchiveError(f"s3://{bucket}/{key}: not an archive object name")
                result.objects.append(key)
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
                for n, line in enumerate(body.splitlines(), 1):
                    if not line.strip():
                        continue
                    try:
                        ev = _event(line)
                        event_id = str(ev["event_id"])
                        created = datetime.fromisoformat(str(ev["created_at"]))
                    except (ValueError, KeyError, TypeError) as exc:
                        raise ArchiveError(
                            f"s3://{bucket}/{key} line {n}: unreadable event ({exc})"
                        ) from None
                    result.lines += 1
                    result.event_ids.add(event_id)
                    if _as_hour(created) != h:
                        result.misplaced.append(event_id)
        out[entity] = result
    return out


def count_archived(settings: Settings, hour: datetime) -> dict[str, int]:
    """Ledger stage "archive": distinct event_ids per entity archived under ``hour`` (UTC)."""
    return {entity: arch.distinct for entity, arch in read_hour(settings, hour).items()}


def archived_hours(settings: Settings, entity: str) -> list[datetime]:
    """Every hour that has at least one archived object for ``entity`` (sorted)."""
    from shopstream.aws import boto_client

    s3 = boto_client(settings, "s3")
    topic = topics()[entity]
    hours: set[datetime] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.s3.archive_bucket, Prefix=f"{topic}/"
    ):
        for obj in page.get("Contents", []):
            m = _KEY_RE.match(obj["Key"])
            if m:
                hours.add(datetime.fromisoformat(f"{m['date']}T{m['hour']}:00:00+00:00"))
    return sorted(hours)
