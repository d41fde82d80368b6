"""Raw archive: one connector configuration for both targets, the worker's rendered files, and the
ledger's reading of archived objects (S3 API in-process with moto; no engine needed)."""

from __future__ import annotations

import gzip
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from shopstream import config as config_mod
from shopstream.archive import ArchiveError, connector, local_worker, reader
from shopstream.cli import cli
from shopstream.contract import entities
from tests.aws_env import AWS_ENV

REPO = Path(__file__).resolve().parent.parent


def _aws_settings() -> config_mod.Settings:
    return config_mod.load("aws", environ=AWS_ENV)


# --- one configuration, two targets -----------------------------------------------------------


@pytest.mark.parametrize("entity", entities())
def test_local_worker_and_terraform_get_identical_portable_properties(settings, entity: str) -> None:
    local = connector.connector_properties(settings, entity, "local")
    local_only = set(json.loads((connector.CONNECT_CONF / connector.LOCAL_FILE).read_text()))
    terraform = connector.terraform_connector_configuration(
        entity,
        settings.s3.archive_bucket,
        settings.s3.region,
        settings.kafka.replication_factor,
    )
    assert {k: v for k, v in local.items() if k not in local_only} == terraform
    assert local_only == set(local) - set(terraform)


@pytest.mark.parametrize("entity", entities())
def test_aws_profile_renders_what_terraform_renders(entity: str) -> None:
    aws = _aws_settings()
    rendered = connector.connector_properties(aws, entity, "aws")
    terraform = connector.terraform_connector_configuration(entity, "acme-archive", aws.s3.region, 3)
    assert rendered == terraform
    assert not any(k.startswith("aws.s3.endpoint") or "credentials" in k for k in rendered)
    assert rendered["errors.deadletterqueue.topic.replication.factor"] == "3"


def test_terraform_renders_connectors_from_conf_connect_with_the_common_file() -> None:
    """Any .tf that reads conf/connect must merge sink-common.json with the per-connector file.

    (The msk_connect module takes rendered properties; the stack that calls it reads the files.)
    """
    for tf in (REPO / "terraform").rglob("*.tf"):
        text = tf.read_text()
        if not re.search(r"file\([^)]*conf/connect/", text):
            continue
        assert "sink-common.json" in text, f"{tf} reads conf/connect without sink-common.json"
        assert re.search(r"conf/connect/\$\{[^}]+\}\.json|conf/connect/(users|orders)\.json", text), tf
        assert "local.json" not in text, f"{tf} must not send local-only properties to MSK Connect"


def test_connector_files_are_string_properties_without_secrets() -> None:
    for path in sorted(connector.CONNECT_CONF.glob("*.json")):
        data = json.loads(path.read_text())
        assert all(isinstance(v, str) for v in data.values()), path
        for key in data:
            assert "secret" not in key and "access.key" not in key and "password" not in key, (path, key)


def test_archive_keeps_bytes_and_sends_invalid_values_to_a_dead_letter_topic() -> None:
    for entity in entities():
        p = connector.portable_properties(entity)
        assert p["connector.class"] == "io.shopstream.connect.s3.ArchiveSinkConnector"
        # JsonConverter would rewrite values (key order, 1.10 -> 1.1, big integers): bytes only.
        assert p["value.converter"] == "org.apache.kafka.connect.converters.ByteArrayConverter"
        assert p["errors.tolerance"] == "all"
        assert p["errors.deadletterqueue.context.headers.enable"] == "true"
        assert p["errors.deadletterqueue.topic.name"].endswith(".dlq")
    assert len(set(connector.dlq_topics().values())) == len(entities())


def test_connector_properties_are_the_plugins_own_keys() -> None:
    """Every key is one the plugin defines (connect/.../ArchiveSinkConfig.java) or Connect's own."""
    java = (REPO / "connect/src/main/java/io/shopstream/connect/s3/ArchiveSinkConfig.java").read_text()
    plugin_keys = set(re.findall(r'public static final String \w+ = "([a-z0-9.]+)";', java))
    connect_keys = {"name", "connector.class", "tasks.max", "topics", "key.converter", "value.converter"}
    for entity in entities():
        props = connector.connector_properties(config_mod.load("local"), entity, "local")
        unknown = {k for k in props if not k.startswith("errors.")} - plugin_keys - connect_keys
        assert not unknown, unknown


def test_connector_topics_are_the_contracts_topics() -> None:
    from shopstream.contract import load_contract

    contract = load_contract()
    assert connector.topics() == {e: contract.entities[e].topic for e in entities()}


def test_reader_understands_the_plugins_object_names() -> None:
    java = (REPO / "connect/src/main/java/io/shopstream/connect/s3/HourBuffer.java").read_text()
    assert '"%s%s/dt=%04d-%02d-%02d/hh=%02d/%s-%d-%d%s"' in java  # the plugin's key format
    ts = datetime(2026, 11, 24, 7, 59, 59, tzinfo=UTC)
    for suffix in ("", ".gz"):
        key = f"shopstream.orders/dt=2026-11-24/hh=07/shopstream.orders-2-1234{suffix}"
        assert key.startswith(reader.hour_prefix("shopstream.orders", ts))
        assert reader._KEY_RE.match(key)
    assert not reader._KEY_RE.match("shopstream.orders/dt=2026-11-24/hh=07/shopstream.users-2-1234")


def test_worker_properties_bind_loopback_and_keep_state_in_the_state_dir(settings, monkeypatch) -> None:
    monkeypatch.setenv(local_worker.REST_PORT_ENV, "18999")
    worker, connectors = local_worker.render(settings)
    props = dict(
        line.split("=", 1) for line in worker.read_text().splitlines() if line and not line.startswith("#")
    )
    assert props["listeners"] == "http://127.0.0.1:18999"
    assert props["bootstrap.servers"] == settings.kafka.bootstrap_servers
    assert props["plugin.path"] == str(settings.jars_dir / "connect-plugins")
    assert props["value.converter"] == "org.apache.kafka.connect.converters.ByteArrayConverter"
    assert Path(props["offset.storage.file.filename"]).parent == local_worker.workdir(settings)
    assert not [line for line in worker.read_text().splitlines() if "${" in line and not line.startswith("#")]
    for path in connectors:
        text = path.read_text()
        assert f"aws.s3.endpoint={settings.s3.endpoint_url}" in text
        assert f"aws.s3.bucket.name={settings.s3.archive_bucket}" in text
        assert "secret" not in text.lower()


def test_start_without_the_plugin_fails_with_one_clear_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPSTREAM_JARS_DIR", str(tmp_path / "jars"))
    (tmp_path / "jars" / "connect").mkdir(parents=True)
    (tmp_path / "jars" / "connect" / "connect-runtime-3.9.1.jar").write_bytes(b"")
    monkeypatch.setenv("SHOPSTREAM_STATE_DIR", str(tmp_path / "state"))
    result = CliRunner().invoke(cli, ["archive", "start"])
    assert result.exit_code == 1
    assert "the archive sink plugin is not built in" in result.output and "shopstream jars" in result.output
    assert "Traceback" not in result.output


def test_every_archive_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    for sub in ("start", "status", "stop", "wait", "count"):
        result = runner.invoke(cli, ["archive", sub, "--help"])
        assert result.exit_code == 0, result.output
        assert "Example:" in result.output


def test_count_rejects_a_malformed_hour() -> None:
    result = CliRunner().invoke(cli, ["archive", "count", "--hour", "yesterday"])
    assert result.exit_code == 2
    assert "--hour" in result.output


# --- the ledger's "archive" stage ---------------------------------------------------------------


_IDS: dict[str, str] = {}


def _id(name: str) -> str:
    """A stable UUID v4 per readable name (the contract wants UUIDs)."""
    return _IDS.setdefault(name, str(uuid.uuid4()))


def _event(name: str, created_at: str, **extra: object) -> str:
    """A contract-valid order (what the producer sends), as its JSON text."""
    order = {
        "event_id": _id(name),
        "schema_version": 1,
        "order_id": 7,
        "user_id": 3,
        "product_id": 10,
        "price": 5500,
        "first_category": "Top",
        "second_category": "Blouse",
        "user_gender": "Women",
        "user_region": "Seoul",
        "created_at": created_at,
        **extra,
    }
    return json.dumps(order)


def _ids(*names: str) -> set[str]:
    return {_id(n) for n in names}


@pytest.fixture
def s3_archive(settings, monkeypatch):  # type: ignore[no-untyped-def]
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        # In-process S3: the settings' endpoint must not be used, so drop it.
        local = settings.model_copy(update={"s3": settings.s3.model_copy(update={"endpoint_url": ""})})
        from shopstream.aws import boto_client

        s3 = boto_client(local, "s3")
        s3.create_bucket(
            Bucket=local.s3.archive_bucket,
            CreateBucketConfiguration={"LocationConstraint": local.s3.region},
        )
        yield local, s3


def test_count_archived_counts_distinct_valid_event_ids_under_their_hour(s3_archive) -> None:
    settings, s3 = s3_archive
    bucket = settings.s3.archive_bucket
    hour = "shopstream.orders/dt=2026-11-24/hh=10/"
    # Two flushes of partition 0 and one of partition 1 (gzip); a retried upload reuses its name.
    s3.put_object(
        Bucket=bucket,
        Key=hour + "shopstream.orders-0-0",
        Body="\n".join(
            [
                _event("a", "2026-11-24T10:00:01.000000+00:00"),
                _event("b", "2026-11-24T10:59:59.999999+00:00"),
            ]
        )
        + "\n",
    )
    # A pretty-printed value is archived byte for byte: it spans lines and is still one record.
    pretty = json.dumps(json.loads(_event("c", "2026-11-24T10:30:00.000000+00:00")), indent=2)
    s3.put_object(Bucket=bucket, Key=hour + "shopstream.orders-0-2", Body=pretty + "\n")
    s3.put_object(
        Bucket=bucket,
        Key=hour + "shopstream.orders-1-7.gz",
        Body=gzip.compress((_event("d", "2026-11-24T10:00:00.000000+00:00") + "\n").encode()),
    )
    # Kept raw but not a valid order (price off its step): archived, not counted for the ledger.
    s3.put_object(
        Bucket=bucket,
        Key=hour + "shopstream.orders-1-8",
        Body=_event("bad-price", "2026-11-24T10:10:00.000000+00:00", price=5501) + "\n",
    )
    # A late event archived under its own (earlier) hour, and one in the next hour.
    s3.put_object(
        Bucket=bucket,
        Key="shopstream.orders/dt=2026-11-24/hh=09/shopstream.orders-1-9",
        Body=_event("late", "2026-11-24T09:58:00.000000+00:00") + "\n",
    )
    s3.put_object(
        Bucket=bucket,
        Key="shopstream.orders/dt=2026-11-24/hh=11/shopstream.orders-0-3",
        Body=_event("e", "2026-11-24T11:00:00.000000+00:00") + "\n",
    )
    ten = datetime(2026, 11, 24, 10, 17, tzinfo=UTC)
    assert reader.count_archived(settings, ten) == {"users": 0, "orders": 4}
    got = reader.read_hour(settings, ten)["orders"]
    assert (got.lines, got.invalid, got.duplicates, got.misplaced) == (5, 1, 0, [])
    assert got.valid_ids == _ids("a", "b", "c", "d")
    assert got.event_ids == _ids("a", "b", "c", "d", "bad-price")
    assert reader.count_archived(settings, datetime(2026, 11, 24, 9, tzinfo=UTC))["orders"] == 1
    assert reader.archived_hours(settings, "orders") == [
        datetime(2026, 11, 24, h, tzinfo=UTC) for h in (9, 10, 11)
    ]


def test_records_are_the_exact_bytes_between_newlines(s3_archive) -> None:
    one = b'{"b": 1.10,  "a": 123456789012345678901}'
    two = b'{\n  "x": "\xea\xb0\x80"\n}'
    assert list(reader.records(one + b"\n" + two + b"\n")) == [one, two]


def test_ledger_count_follows_the_ledger_setting(s3_archive) -> None:
    settings, s3 = s3_archive
    s3.put_object(
        Bucket=settings.s3.archive_bucket,
        Key="shopstream.orders/dt=2026-11-24/hh=10/shopstream.orders-0-0",
        Body=_event("x", "2026-11-24T10:00:00.000000+00:00") + "\n",
    )
    ten = datetime(2026, 11, 24, 10, tzinfo=UTC)
    on = settings.model_copy(update={"ledger": settings.ledger.model_copy(update={"archive": True})})
    off = settings.model_copy(update={"ledger": settings.ledger.model_copy(update={"archive": False})})
    assert reader.ledger_count(on, "orders", ten) == 1
    assert reader.ledger_count(off, "orders", ten) is None


def test_duplicates_and_misfiled_events_are_reported_not_hidden(s3_archive) -> None:
    settings, s3 = s3_archive
    bucket = settings.s3.archive_bucket
    prefix = "shopstream.orders/dt=2026-11-24/hh=10/"
    s3.put_object(
        Bucket=bucket,
        Key=prefix + "shopstream.orders-0-0",
        Body=_event("x", "2026-11-24T10:00:00.000000+00:00") + "\n",
    )
    s3.put_object(
        Bucket=bucket,
        Key=prefix + "shopstream.orders-0-5",
        Body=_event("x", "2026-11-24T10:00:00.000000+00:00")
        + "\n"
        + _event("y", "2026-11-24T08:00:00.000000+00:00")
        + "\n",
    )
    got = reader.read_hour(settings, datetime(2026, 11, 24, 10, tzinfo=UTC))["orders"]
    assert (got.lines, got.distinct, got.duplicates, got.misplaced) == (3, 2, 1, [_id("y")])


def test_unreadable_object_is_an_error_naming_the_object(s3_archive) -> None:
    settings, s3 = s3_archive
    key = "shopstream.users/dt=2026-11-24/hh=10/shopstream.users-0-0"
    s3.put_object(Bucket=settings.s3.archive_bucket, Key=key, Body="{not json\n")
    with pytest.raises(ArchiveError, match=re.escape(key)):
        reader.count_archived(settings, datetime(2026, 11, 24, 10, tzinfo=UTC))


def test_hour_must_be_timezone_aware(settings) -> None:
    with pytest.raises(ArchiveError, match="timezone-aware"):
        reader.hour_prefix("shopstream.users", datetime(2026, 11, 24, 10))
