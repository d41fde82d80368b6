"""Shared fixtures: one real local stack per test session, on its own ports and state dir.

The test stack never collides with a developer's `make demo` stack: it lives in
``.shopstream/test-stack`` and uses its own ports (Kafka 19192, PostgreSQL 15532,
OpenSearch 19210/19310, S3 API 15100). Jars are shared with the main cache. Set
``SHOPSTREAM_TEST_KEEP_STACK=1`` to leave the engines running after the session (faster reruns).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from stack_ports import stack_port

REPO = Path(__file__).resolve().parent.parent

TEST_ENV = {
    "SHOPSTREAM_PROFILE": "local",
    "SHOPSTREAM_STATE_DIR": str(REPO / ".shopstream" / "test-stack"),
    "SHOPSTREAM_JARS_DIR": os.environ.get("SHOPSTREAM_JARS_DIR", str(REPO / ".shopstream" / "jars")),
    "SHOPSTREAM_KAFKA__PORT": str(stack_port(19192)),
    "SHOPSTREAM_KAFKA__CONTROLLER_PORT": str(stack_port(19193)),
    "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{stack_port(19192)}",
    "SHOPSTREAM_POSTGRES__PORT": str(stack_port(15532)),
    "SHOPSTREAM_OPENSEARCH__PORT": str(stack_port(19210)),
    "SHOPSTREAM_OPENSEARCH__TRANSPORT_PORT": str(stack_port(19310)),
    "SHOPSTREAM_OPENSEARCH__URL": f"http://127.0.0.1:{stack_port(19210)}",
    "SHOPSTREAM_S3__PORT": str(stack_port(15100)),
    "SHOPSTREAM_S3__ENDPOINT_URL": f"http://127.0.0.1:{stack_port(15100)}",
    "SHOPSTREAM_LAKE__ROOT": str(REPO / ".shopstream" / "test-stack" / "lake"),
    # Tests share one OpenSearch; only the real-time tests run a consumer, so the batch tests'
    # reconciliation compares the stages they run (the real-time tests cover the OpenSearch stage).
    "SHOPSTREAM_LEDGER__OPENSEARCH": "false",
    # Likewise only the archive tests run the Connect worker (they check the archive stage).
    "SHOPSTREAM_LEDGER__ARCHIVE": "false",
}


def pytest_configure(config: pytest.Config) -> None:
    # Set before any test imports settings, so subprocesses (the CLI) inherit them too.
    for key, value in TEST_ENV.items():
        os.environ[key] = value


@pytest.fixture(scope="session")
def settings():  # type: ignore[no-untyped-def]
    from shopstream import config

    return config.load("local")


@pytest.fixture(scope="session")
def stack(settings):  # type: ignore[no-untyped-def]
    """All four engines up (started once per session, stopped at the end)."""
    from shopstream import jars
    from shopstream import stack as stack_mod

    jars.resolve(settings)
    stack_mod.up(settings)
    yield settings
    if not os.environ.get("SHOPSTREAM_TEST_KEEP_STACK"):
        stack_mod.down(settings)


@pytest.fixture(scope="session")
def kafka_bootstrap(stack) -> str:  # type: ignore[no-untyped-def]
    return stack.kafka.bootstrap_servers


@pytest.fixture(scope="session")
def spark(settings) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A local[2] SparkSession with Delta and the Kafka source; UI off, few shuffle partitions."""
    from shopstream import jars
    from shopstream.spark import session, spark_conf

    jars.resolve(settings)
    s = session(
        settings,
        "shopstream-tests",
        extra={
            "spark.master": "local[2]",
            "spark.sql.shuffle.partitions": "2",
            # one JVM serves the whole run: hundreds of throwaway lakes and streaming queries.
            # Delta caches every table's log it has seen (10,000 by default), so with 1 GB the
            # heap ran out near the end of a full run; a small cache and 2 GB keep it flat
            "spark.driver.memory": "2g",
            "spark.driver.extraJavaOptions": (
                spark_conf(settings, "shopstream-tests").get("spark.driver.extraJavaOptions", "")
                + " -Ddelta.log.cacheSize=32"  # a JVM property, read once by DeltaLog's cache
            ).strip(),
        },
    )
    yield s
    s.stop()


@pytest.fixture
def session_conf(spark) -> Iterator[Callable[[str, str], None]]:  # type: ignore[no-untyped-def]
    """Set SQL settings on the shared session for one test; each is put back after it (a stream
    started by an earlier test leaves its settings on the session)."""
    saved: dict[str, str | None] = {}

    def set_conf(key: str, value: str) -> None:
        saved.setdefault(key, spark.conf.get(key, None))
        spark.conf.set(key, value)

    yield set_conf
    for key, value in saved.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)
