"""The archive sink plugin (connect/, Java): its JUnit 5 tests, the plugin directory and zip that
`shopstream jars` builds, and its created_at rule checked against the contract's validator.

Needs Maven and a JDK (installed by .ci/run); no engine.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shopstream import connect_plugin, jars
from shopstream.contract import load_contract

SOURCE = connect_plugin.SOURCE_DIR


@pytest.fixture(scope="module")
def plugin(settings) -> Path:  # type: ignore[no-untyped-def]
    """The built plugin directory (``shopstream jars`` builds it when the sources changed)."""
    jars.resolve(settings)
    d = connect_plugin.plugin_dir(settings)
    assert connect_plugin.plugin_jar(settings) is not None, f"no plugin jar in {d}"
    return d


def test_java_unit_tests_pass() -> None:
    """`mvn test` on connect/: key naming, hour grouping, late events, retried flush, null reporter."""
    reports = SOURCE / "target" / "surefire-reports"
    shutil.rmtree(reports, ignore_errors=True)
    res = subprocess.run(
        ["mvn", "-B", "-q", "-f", str(SOURCE / "pom.xml"), "test"],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    tail = "\n".join((res.stdout + res.stderr).splitlines()[-60:])
    assert res.returncode == 0, f"mvn test failed:\n{tail}"
    run = failed = 0
    for xml in reports.glob("TEST-*.xml"):
        suite = ET.parse(xml).getroot()
        run += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    assert failed == 0
    assert run >= 30, f"only {run} JUnit tests ran"


def test_plugin_zip_is_the_plugin_directory_byte_for_byte(settings, plugin: Path, tmp_path: Path) -> None:
    zipped = connect_plugin.zip_path(settings)
    files = {
        p.relative_to(plugin.parent).as_posix(): p.read_bytes() for p in plugin.rglob("*") if p.is_file()
    }
    with zipfile.ZipFile(zipped) as zf:
        assert {n: zf.read(n) for n in zf.namelist()} == files
    # Reproducible: zipping the same directory again gives the same bytes (Terraform's upload hash).
    again = connect_plugin.write_zip(plugin, tmp_path / "again.zip")
    assert hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(zipped.read_bytes()).digest()
    names = {Path(n).name for n in files}
    assert any(n.startswith("url-connection-client-") for n in names)
    # Provided by the worker / MSK Connect, never bundled (two copies would clash).
    assert not any(n.startswith(("connect-api-", "kafka-clients-", "slf4j-")) for n in names), names
    assert not any(n.startswith(("netty-", "apache-client-", "apache5-client-", "httpclient")) for n in names)


def test_plugin_classes_run_on_java_11(plugin: Path) -> None:
    """MSK Connect offers Java 11: every class of our jar is class-file version 55."""
    jar = next(plugin.glob(f"{connect_plugin.PLUGIN_NAME}-*.jar"))
    with zipfile.ZipFile(jar) as zf:
        majors = {int.from_bytes(zf.read(n)[6:8], "big") for n in zf.namelist() if n.endswith(".class")}
    assert majors == {55}


# --- one definition of validity: the plugin's created_at rule vs the contract's ---------------


def _order(created_at: str) -> str:
    """A contract-valid order except, perhaps, for created_at."""
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "schema_version": 1,
            "order_id": 1,
            "user_id": 1,
            "product_id": 1,
            "price": 5000,
            "first_category": "Top",
            "second_category": "Blouse",
            "user_gender": "Men",
            "user_region": "Seoul",
            "created_at": created_at,
        }
    )


def _corpus() -> list[str]:
    base = "2026-11-24T10:15:03.123456+00:00"
    handmade = [
        base,
        "2026-11-24T00:00:00.000000+00:00",
        "2026-11-24T23:59:59.999999+00:00",
        "2024-02-29T12:00:00.000000+00:00",  # leap day
        "2025-02-29T12:00:00.000000+00:00",  # not a leap year
        "2026-04-31T12:00:00.000000+00:00",
        "2026-13-01T12:00:00.000000+00:00",
        "2026-00-10T12:00:00.000000+00:00",
        "2026-11-00T12:00:00.000000+00:00",
        "2026-11-24T24:00:00.000000+00:00",
        "2026-11-24T10:60:00.000000+00:00",
        "2026-11-24T10:15:60.000000+00:00",
        "2026-11-24T10:15:03.123456Z",
        "2026-11-24T10:15:03.123456-00:00",
        "2026-11-24T10:15:03.123456+01:00",
        "2026-11-24T10:15:03+00:00",
        "2026-11-24T10:15:03.1234567+00:00",
        "2026-11-24t10:15:03.123456+00:00",
        "2026-11-24 10:15:03.123456+00:00",
        " " + base,
        base + "\n",
        "\u0662" + base[1:],  # a non-ASCII digit
        "0000-01-01T00:00:00.000000+00:00",
        "0001-01-01T00:00:00.000000+00:00",
        "9999-12-31T23:59:59.999999+00:00",
        "1999-12-31T23:59:59.999999+00:00",
        "2000-01-01T00:00:00.000000+00:00",
        f"{datetime.now(UTC) + timedelta(minutes=4):%Y-%m-%dT%H:%M:%S.%f+00:00}",  # inside a 5-minute skew
        f"{datetime.now(UTC) + timedelta(minutes=6):%Y-%m-%dT%H:%M:%S.%f+00:00}",
        f"{datetime.now(UTC) + timedelta(days=400):%Y-%m-%dT%H:%M:%S.%f+00:00}",
        "",
    ]
    rng = random.Random(20261124)
    alphabet = "0123456789-:.+TZ tz/"
    mutated = []
    for _ in range(1500):
        chars = list(base)
        for _ in range(rng.randint(1, 2)):
            op = rng.random()
            i = rng.randrange(len(chars))
            if op < 0.6:
                chars[i] = rng.choice(alphabet)
            elif op < 0.8:
                del chars[i]
            else:
                chars.insert(i, rng.choice(alphabet))
        mutated.append("".join(chars))
    return handmade + mutated


def _classpath(plugin: Path) -> str:
    """The plugin plus the Connect API it is given by the worker (``provided``)."""
    return f"{plugin}/*:{plugin.parent.parent / 'connect'}/*"


def _java_verdicts(plugin: Path, values: list[str]) -> list[str]:
    """The plugin's verdicts with the connectors' event-time range and the ingest time now."""
    rng = _range_properties()
    args = [rng.get("event.time.earliest", ""), rng.get("event.time.max.future.skew.seconds", "-1")]
    res = subprocess.run(
        ["java", "-cp", _classpath(plugin), "io.shopstream.connect.s3.EventTime", *args],
        input="\n".join(values) + "\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return res.stdout.splitlines()


def test_plugin_and_contract_agree_on_every_created_at(plugin: Path) -> None:
    contract = load_contract()
    corpus = _corpus()
    values = [_order(c) for c in corpus]
    java = _java_verdicts(plugin, values)
    assert len(java) == len(values)
    disagree = []
    accepted = 0
    for created_at, value, verdict in zip(corpus, values, java, strict=True):
        errors = contract.validate_value("orders", value.encode())
        if not errors:
            accepted += 1
            hour = (
                datetime.fromisoformat(created_at).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            )
            if verdict != f"ok {int(hour.timestamp() * 1000)}":
                disagree.append((created_at, "contract accepts", verdict))
        elif verdict.startswith("ok"):
            disagree.append((created_at, errors, verdict))
    assert not disagree, disagree[:10]
    assert 0 < accepted < len(corpus)  # the corpus holds both verdicts


def _oddities() -> list[str]:
    """Valid orders respelled at the raw-text level: the contract's validity rules, not created_at's."""
    valid = _order("2026-11-24T10:15:03.123456+00:00")
    region = '"user_region": "Seoul"'
    assert region in valid
    return [
        valid,
        valid.replace('"Seoul"', '"\\u0053eoul"'),  # an escape in a value: fine
        valid.replace('"Seoul"', '"S\\u00e9oul"').replace("\\u00e9", "\\u0065"),  # still "Seoul"
        valid[:-1] + ", " + region + "}",  # duplicate_keys: a key other than created_at, twice
        valid[:-1] + ', "order_id": 2}',
        valid[:-1] + ', "created_at": "2026-11-24T10:15:03.123456+00:00"}',
        valid.replace('"user_region"', '"user\\u005fregion"'),  # key_escapes
        valid.replace('"created_at"', '"\\u0063reated_at"'),
        valid.replace('"event_id"', '"event_id\\u0000"'),
        valid.replace('"Seoul"', '"Seoul\\ud800"'),  # surrogate_escapes: lone high
        valid.replace('"Seoul"', '"\\uDC00Seoul"'),  # lone low
        valid.replace('"Seoul"', '"Seoul\\ud83d\\ude00"'),  # a valid pair (UTF-8 only, says the contract)
        valid.replace('"Seoul"', '"Seoul\\\\\\ud800"'),  # an escaped backslash, then the escape
    ]


def test_plugin_and_contract_agree_on_validity_oddities(plugin: Path) -> None:
    """Duplicate keys, escaped key spellings, surrogate escapes: the sink's verdict is the contract's."""
    contract = load_contract()
    values = _oddities()
    java = _java_verdicts(plugin, values)
    assert len(java) == len(values)
    verdicts = [
        (not contract.validate_value("orders", v.encode()), j.startswith("ok ")) for v, j in zip(values, java)
    ]
    disagree = [
        (v, contract.validate_value("orders", v.encode()), j)
        for v, j, (py, jv) in zip(values, java, verdicts)
        if py != jv
    ]
    assert not disagree, disagree
    assert {py for py, _ in verdicts} == {True, False}  # the corpus holds both verdicts


def _range_properties() -> dict[str, str]:
    """The event-time range the connectors get (rendered from conf/contract.yaml)."""
    from shopstream.archive import connector

    return connector.contract_properties()


def test_connectors_get_the_contracts_event_time_range(settings) -> None:  # type: ignore[no-untyped-def]
    """Both targets render the range from the contract's timestamp type (absent where it has none)."""
    import yaml

    from shopstream.archive import connector
    from shopstream.contract import CONTRACT_PATH

    spec = yaml.safe_load(CONTRACT_PATH.read_text())["logical_types"]["timestamp"]
    want = {prop: str(spec[key]) for key, prop in connector.CONTRACT_RANGE_KEYS.items() if key in spec}
    for entity in load_contract().entity_names:
        props = connector.connector_properties(settings, entity, "local")
        assert {k: v for k, v in props.items() if k.startswith("event.time.")} == want
    hcl = (SOURCE.parent / "terraform/stacks/compute/main.tf").read_text()
    assert 'yamldecode(file("${local.repo_root}/conf/contract.yaml")).logical_types.timestamp' in hcl
    for key, prop in connector.CONTRACT_RANGE_KEYS.items():
        assert f'"{prop}" = tostring(local.contract_timestamp.{key})' in hcl
    assert "local.event_time_properties," in hcl


def test_plugin_pattern_is_the_contracts_timestamp_pattern() -> None:
    java = (SOURCE / "src/main/java/io/shopstream/connect/s3/EventTime.java").read_text()
    literal = re.search(r'PATTERN_SOURCE = "((?:[^"\\]|\\.)*)";', java)
    assert literal, "EventTime.PATTERN_SOURCE not found"
    plugin = literal.group(1).encode().decode("unicode_escape")
    contract = load_contract().logical_types["timestamp"].pattern or ""
    # Java matches the whole string (matches()); Java's \d is ASCII only, i.e. [0-9].
    assert plugin == contract.removeprefix("^").removesuffix("$").replace("\\d", "[0-9]")


def test_plugin_raw_text_rules_are_the_contracts() -> None:
    """EventTime's escape regexes are shopstream.contract's (one definition, Java syntax is the same)."""
    from shopstream.validity import KEY_ESCAPE, SURROGATE_ESCAPE

    java = (SOURCE / "src/main/java/io/shopstream/connect/s3/EventTime.java").read_text()
    for name, source in (("SURROGATE_ESCAPE_SOURCE", SURROGATE_ESCAPE), ("KEY_ESCAPE_SOURCE", KEY_ESCAPE)):
        literal = re.search(name + r' = "((?:[^"\\]|\\.)*)";', java)
        assert literal, f"EventTime.{name} not found"
        assert literal.group(1).encode().decode("unicode_escape") == source
