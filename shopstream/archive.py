"""Raw archive: shopstream's own Kafka Connect S3 sink (``connect/``) keeps every event's bytes.

One configuration, two targets:

* ``conf/connect/sink-common.json`` + ``conf/connect/<entity>.json`` are the **portable**
  connector properties. Locally they go to a Kafka Connect standalone worker; on AWS Terraform
  reads the very same files (``jsondecode(file(...))``) into the MSK Connect connector.
* :func:`environment_properties` adds what differs per deployment but comes from the settings
  (bucket, region, dead-letter topic replication): Terraform derives the same keys from its
  variables.
* ``conf/connect/local.json`` holds the **local-only** key (the loopback S3 endpoint); it never
  reaches MSK Connect. Credentials come from the AWS SDK's default chain on both targets.

The plugin (``connect/``, built by ``shopstream jars`` into ``<jars>/connect-plugins``, see
:mod:`shopstream.connect_plugin`) runs with ``ByteArrayConverter``: values are never rewritten.
It reads each value's ``created_at`` (the contract's rule) and writes the original bytes, one
record per line, to ``<topic>/dt=YYYY-MM-DD/hh=HH/<topic>-<partition>-<first offset>`` of the
event's UTC hour. Offsets are committed only after every upload of a flush succeeded, so a crash
re-delivers from the last commit and the retried flush rewrites the same keys. A value that is
not a valid event goes to ``shopstream.archive.<entity>.dlq`` with Connect's error headers.

The worker runs as a detached JVM with its logs, PID, rendered properties and offsets file in
``<state_dir>/archive``; its REST API listens on 127.0.0.1 only. Nothing runs at import time.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from shopstream import connect_plugin
from shopstream.config import CONF_DIR, Settings
from shopstream.contract import check_entity
from shopstream.contract import entities as contract_entities
from shopstream.stack.process import Proc, _alive, port_in_use

CONNECT_CONF = CONF_DIR / "connect"
COMMON_FILE = "sink-common.json"
LOCAL_FILE = "local.json"
WORKER_TEMPLATE = "worker.properties"
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
    r"(?P<gz>\.gz)?$"
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
    """Local-only keys (the loopback S3 endpoint; credentials come from the worker's environment)."""
    raw = _read_json(LOCAL_FILE)
    values = {"S3_ENDPOINT_URL": settings.s3.endpoint_url}
    if not settings.s3.endpoint_url:
        raise ArchiveError("s3.endpoint_url is empty: the local archive needs the local S3 API endpoint")
    return {k: _fill(v, values, LOCAL_FILE) for k, v in raw.items()}


# The contract's event-time range (logical_types.timestamp) -> the plugin's properties.
CONTRACT_RANGE_KEYS = {
    "earliest": "event.time.earliest",
    "max_future_skew_seconds": "event.time.max.future.skew.seconds",
}


def contract_properties() -> dict[str, str]:
    """The created_at rule's event-time range, read from conf/contract.yaml as Terraform reads it
    (``yamldecode``): the keys the contract's ``timestamp`` type defines, as strings."""
    import yaml

    from shopstream.contract import CONTRACT_PATH

    spec = yaml.safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))["logical_types"]["timestamp"]
    return {prop: str(spec[key]) for key, prop in CONTRACT_RANGE_KEYS.items() if spec.get(key) is not None}


def connector_properties(settings: Settings, entity: str, target: Target = "local") -> dict[str, str]:
    """Everything the connector gets on ``target``: portable + the contract's event-time range +
    environment; local adds local.json."""
    portable = portable_properties(entity)
    clash = sorted(set(portable) & set(CONTRACT_RANGE_KEYS.values()))
    if clash:
        raise ArchiveError(
            f"conf/connect: {clash} come from conf/contract.yaml, not from the connector files"
        )
    props = {**portable, **contract_properties(), **environment_properties(settings)}
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
          <event.time.* from yamldecode(file("conf/contract.yaml")).logical_types.timestamp>,
          { "aws.s3.bucket.name" = ..., "aws.s3.region" = ...,
            "errors.deadletterqueue.topic.replication.factor" = ... })
    """
    _check_entity(entity)
    merged: dict[str, str] = {}
    for name in (COMMON_FILE, f"{entity}.json"):
        merged.update(json.loads((CONNECT_CONF / name).read_text()))
    merged.update(contract_properties())
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
    return connect_plugin.plugin_path(settings)


def find_plugin(settings: Settings) -> Path | None:
    """The plugin directory below plugin.path holding the connector's jar, or None."""
    jar = connect_plugin.plugin_jar(settings)
    return jar.parent if jar else None


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


def launch(
    settings: Settings, with_connectors: bool = True, extra_connectors: Iterable[Mapping[str, str]] = ()
) -> int:
    """Render the properties and start the worker JVM without waiting; returns its PID.

    ``with_connectors=False`` boots a bare worker (no plugin needed): it proves the rendered
    worker configuration against the real Connect runtime. ``extra_connectors`` are further
    connector property sets (each with a ``name``) the worker runs too (the benchmark's).
    """
    proc = _proc(settings)
    classpath = settings.jars_dir / "connect"
    if port_in_use(rest_port()):
        raise ArchiveError(f"port {rest_port()} (Connect REST) is in use; set {REST_PORT_ENV} to a free port")
    worker, rendered = render(settings)
    connectors = rendered if with_connectors else []
    for props in extra_connectors:
        path = workdir(settings) / f"{props['name']}.properties"
        path.write_text(to_properties(props))
        connectors.append(path)
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
            f"the archive sink plugin is not built in {connect_plugin.plugin_dir(settings)}/; "
            "run `shopstream jars` (it builds connect/ with Maven)"
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
    # Wait until the exit is complete: the JVM's main thread turns zombie (and its command line
    # vanishes) before its other threads have exited and closed the sockets (the REST port).
    for _ in range(200):
        if not _alive(pid) and not port_in_use(rest_port()):
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
    lag: dict[str, int] = field(default_factory=dict)  # topic -> records not yet archived
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
        st.lag = lag(settings)
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


def lag(settings: Settings, timeout: float = 5.0) -> dict[str, int]:
    """Records not yet archived per topic: end offsets minus the connector's committed offsets.

    The sink commits only after every upload of a flush succeeded, so 0 means everything in the
    topic is in the bucket (or in the dead-letter topic).
    """
    from confluent_kafka import Consumer, TopicPartition

    out: dict[str, int] = {}
    for entity in contract_entities():
        props = portable_properties(entity)
        consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka.bootstrap_servers,
                "group.id": f"connect-{props['name']}",  # Kafka Connect's sink consumer group
                "enable.auto.commit": False,
                "socket.timeout.ms": int(timeout * 1000),
            }
        )
        try:
            total = 0
            for topic in props["topics"].split(","):
                meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
                parts = [TopicPartition(topic, p) for p in (meta.partitions if meta else {})]
                for tp in consumer.committed(parts, timeout=timeout):
                    low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
                    done = tp.offset if tp.offset >= 0 else low
                    total += max(high - done, 0)
                out[topic] = total
        finally:
            consumer.close()
    return out


def wait_caught_up(settings: Settings, timeout: float = 180.0, poll: float = 1.0) -> dict[str, int]:
    """Wait until the connectors have archived (and committed) everything in their topics."""
    from confluent_kafka import KafkaException

    deadline = time.monotonic() + timeout
    last: dict[str, int] = {}
    while True:
        try:
            last = lag(settings)
        except KafkaException as exc:
            raise ArchiveError(f"reading the connectors' offsets from Kafka failed: {exc}") from None
        if not any(last.values()):
            return last
        if time.monotonic() >= deadline:
            behind = ", ".join(f"{t} {n}" for t, n in sorted(last.items()) if n)
            raise ArchiveError(f"the archive is still behind after {timeout:.0f}s: {behind} records")
        time.sleep(poll)


# --- reading the archive (ledger stage "archive") -----------------------------------------------


@dataclass
class HourArchive:
    """What the archive holds for one entity and one hour."""

    objects: list[str] = field(default_factory=list)
    lines: int = 0  # archived records (a record is the value's bytes followed by a newline)
    without_id: int = 0  # archived records with no string event_id
    event_ids: set[str] = field(default_factory=set)  # every archived record's event_id
    valid_ids: set[str] = field(default_factory=set)  # of records the contract accepts (the ledger's count)
    invalid: int = 0  # archived records the contract rejects (kept raw; bronze quarantines them)
    misplaced: list[str] = field(default_factory=list)  # event_ids whose created_at is another hour

    @property
    def distinct(self) -> int:
        return len(self.event_ids)

    @property
    def duplicates(self) -> int:
        """Records archived more than once (each record has its own event_id)."""
        return self.lines - self.distinct - self.without_id


def hour_prefix(topic: str, hour: datetime, prefix: str = "") -> str:
    h = _as_hour(hour)
    return f"{prefix}{topic}/dt={h:%Y-%m-%d}/hh={h:%H}/"


def _as_hour(hour: datetime) -> datetime:
    if hour.tzinfo is None:
        raise ArchiveError("hour must be timezone-aware (UTC)")
    return hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def key_prefix() -> str:
    """The connectors' ``aws.s3.prefix`` (both connectors use the same one)."""
    return portable_properties(contract_entities()[0]).get("aws.s3.prefix", "")


_DECODER = json.JSONDecoder()


def records(body: bytes) -> Iterator[bytes]:
    """The archived values of one object body, as the bytes the producer sent.

    Each record is a JSON value followed by a newline; a value may itself contain newlines
    (pretty-printed JSON is kept byte for byte), so values are found by decoding, not by lines.
    """
    text = body.decode("utf-8")
    pos, end = 0, len(text)
    while pos < end:
        if text[pos] in " \t\r\n":
            pos += 1
            continue
        _, stop = _DECODER.raw_decode(text, pos)
        yield text[pos:stop].encode("utf-8")
        pos = stop


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
    from shopstream.contract import load_contract

    contract = load_contract()
    h = _as_hour(hour)
    s3 = boto_client(settings, "s3")
    bucket = settings.s3.archive_bucket
    tmap = topics()
    prefix = key_prefix()
    out: dict[str, HourArchive] = {}
    for entity in entities:
        _check_entity(entity)
        result = HourArchive()
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=hour_prefix(tmap[entity], h, prefix)
        ):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                m = _KEY_RE.match(key[len(prefix) :])
                if not m:
                    raise ArchiveError(f"s3://{bucket}/{key}: not an archive object name")
                result.objects.append(key)
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                try:
                    values = list(records(gzip.decompress(body) if m["gz"] else body))
                except (ValueError, OSError, EOFError, RecursionError) as exc:
                    raise ArchiveError(f"s3://{bucket}/{key}: unreadable archive object ({exc})") from None
                for raw in values:
                    _count(result, contract, entity, raw, h)
        out[entity] = result
    return out


def _count(result: HourArchive, contract: Any, entity: str, raw: bytes, hour: datetime) -> None:
    result.lines += 1
    ev = json.loads(raw)
    event_id = ev.get("event_id") if isinstance(ev, dict) else None
    if not isinstance(event_id, str):
        result.without_id += 1
        result.invalid += 1
        return
    result.event_ids.add(event_id)
    if contract.validate_value(entity, raw):
        result.invalid += 1
    else:
        result.valid_ids.add(event_id)
        if _as_hour(datetime.fromisoformat(ev["created_at"])) != hour:
            result.misplaced.append(event_id)


def count_archived(settings: Settings, hour: datetime) -> dict[str, int]:
    """Ledger stage "archive": distinct valid event_ids per entity archived under ``hour`` (UTC).

    Valid as the contract says, like the ledger's ``kafka`` stage: the archive keeps every event
    with a readable created_at, bronze only the valid ones.
    """
    return {entity: len(arch.valid_ids) for entity, arch in read_hour(settings, hour).items()}


def ledger_count(settings: Settings, entity: str, hour: datetime) -> int | None:
    """The archive's count for the ledger, or None when the ledger does not compare the archive."""
    if not settings.ledger.archive:
        return None
    return len(read_hour(settings, hour, [entity])[entity].valid_ids)


def archived_hours(settings: Settings, entity: str) -> list[datetime]:
    """Every hour that has at least one archived object for ``entity`` (sorted)."""
    from shopstream.aws import boto_client

    s3 = boto_client(settings, "s3")
    topic = topics()[entity]
    prefix = key_prefix()
    hours: set[datetime] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.s3.archive_bucket, Prefix=f"{prefix}{topic}/"
    ):
        for obj in page.get("Contents", []):
            m = _KEY_RE.match(obj["Key"][len(prefix) :])
            if m:
                hours.add(datetime.fromisoformat(f"{m['date']}T{m['hour']}:00:00+00:00"))
    return sorted(hours)
