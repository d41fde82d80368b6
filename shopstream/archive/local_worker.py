"""The local Kafka Connect standalone worker running the archive sink: render its files, launch
it as a detached JVM, watch connectors, dead letters and lag; stop it by PID."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopstream import connect_plugin
from shopstream.archive import ArchiveError
from shopstream.archive.connector import (
    CONNECT_CONF,
    WORKER_TEMPLATE,
    connector_properties,
    dlq_topics,
    fill,
    portable_properties,
    to_properties,
)
from shopstream.config import Settings
from shopstream.contract import entities as contract_entities
from shopstream.stack.process import Proc, _alive, port_in_use

REST_PORT_ENV = "SHOPSTREAM_ARCHIVE_REST_PORT"
FLUSH_ENV = "SHOPSTREAM_ARCHIVE_FLUSH_MS"
DEFAULT_REST_PORT = 18083
DEFAULT_FLUSH_MS = 10_000
HEAP_MB = 384


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
    worker.write_text(fill(template, values, WORKER_TEMPLATE))
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
    proc = _proc(settings)
    pid = proc.send(signal.SIGKILL)
    if pid is None:
        return False
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
    from confluent_kafka import KafkaException  # the C client loads only when a run reads Kafka

    try:
        st.dead_letters = dead_letter_counts(settings)
        st.lag = lag(settings)
    except KafkaException as exc:
        st.kafka_error = str(exc)
    return st


def dead_letter_counts(settings: Settings, timeout: float = 5.0) -> dict[str, int]:
    """Records in each dead-letter topic (malformed events the sink tolerated); 0 if never created."""
    from confluent_kafka import Consumer, TopicPartition  # the C client loads only when a run reads Kafka

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
    from confluent_kafka import Consumer, TopicPartition  # the C client loads only when a run reads Kafka

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
    from confluent_kafka import KafkaException  # the C client loads only when a run reads Kafka

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
