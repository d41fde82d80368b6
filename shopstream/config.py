"""Configuration profiles: ``conf/<profile>.yaml`` + ``SHOPSTREAM_*`` overrides, validated once.

Load order (later wins):

1. ``conf/<profile>.yaml`` (profile from ``--profile`` or ``SHOPSTREAM_PROFILE``, default ``local``)
2. ``SHOPSTREAM_<SECTION>__<KEY>`` environment variables (e.g. ``SHOPSTREAM_KAFKA__PORT=29092``);
   ``SHOPSTREAM_STATE_DIR`` overrides the top-level ``state_dir``.
3. ``${NAME}`` placeholders in values are filled from the environment; a missing one is an error.

Every problem raises :class:`ConfigError` whose message is one line naming the file, the key
and what is allowed. The CLI turns it into exit code 2.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shopstream.errors import UsageError
from shopstream.resources import conf_path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = conf_path()
PROFILES = ("local", "aws")
ENV_PREFIX = "SHOPSTREAM_"
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


class ConfigError(UsageError):
    """A configuration problem, already phrased as one line for the user."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Port = Field(ge=1, le=65535)


class KafkaConfig(_Section):
    bootstrap_servers: str = Field(min_length=1, description="host:port[,host:port]")
    port: int = Port
    controller_port: int = Port
    heap_mb: int = Field(ge=128, le=65536)
    partitions: int = Field(ge=1, le=1024)
    replication_factor: int = Field(ge=1, le=16)
    min_insync_replicas: int = Field(ge=1, le=16)
    retention_hours: int = Field(ge=1)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"]
    consumer_group: str = Field(default="shopstream-logstash", min_length=1, description="Logstash's group")


class PostgresConfig(_Section):
    host: str = Field(min_length=1)
    port: int = Port
    user: str = Field(min_length=1)
    password_env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$")
    # Secrets Manager secret (name or ARN) holding the password, read when ``password_env`` is unset:
    # the EMR steps' way (their environment is in the cluster's spark-defaults, never a secret).
    password_secret: str = ""
    warehouse_db: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    mart_db: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    bin_dir: str
    # CA bundle that signs the server's certificate; set = verify-full (RDS: the AWS RDS bundle the
    # Airflow image ships, airflow/Dockerfile). Empty = the local server on loopback (no TLS check).
    ca_bundle: str = ""


class OpenSearchConfig(_Section):
    url: str = Field(pattern=r"^https?://")
    port: int = Port
    transport_port: int = Port
    heap_mb: int = Field(ge=128, le=65536)
    verify_certs: bool


class S3Config(_Section):
    endpoint_url: str = Field(pattern=r"^(https?://.*)?$")
    port: int = Port
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    lake_bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    export_bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    archive_bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    dynamodb_table: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")


class SparkConfig(_Section):
    master: str = Field(min_length=1)
    driver_memory: str = Field(pattern=r"^\d+[mg]$")
    shuffle_partitions: int = Field(ge=1, le=10000)
    ui_enabled: bool
    delta_snapshot_partitions: int = Field(default=50, ge=1, le=10000)  # Delta's own default: 50


class WarehouseConfig(_Section):
    engine: Literal["postgres", "redshift"]
    redshift_host: str = ""
    redshift_port: int = Port
    redshift_database: str = ""
    redshift_cluster_id: str = ""
    redshift_db_user: str = ""
    # IAM's own character set for role paths and names: nothing that could end a SQL string
    copy_iam_role_arn: str = Field(
        default="", pattern=r"^(arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512})?$"
    )


_DURATION = r"^(\d+(\.\d+)?(ms|s|m|h|d))+$"
_DURATION_OR_0 = r"^(0|(\d+(\.\d+)?(ms|s|m|h|d))+)$"  # "0" switches the feature off


class LedgerConfig(_Section):
    """Which optional paths the reconciliation compares with bronze (they must be running)."""

    opensearch: bool
    archive: bool
    # the kafka recount reads the hour's Kafka-time spans (from bronze's kafka_timestamp) widened by
    # this much on each side (see shopstream/recount.py)
    recount_margin: str = Field(default="5m", pattern=_DURATION)


class StreamConfig(_Section):
    """Defaults of the stream-ingest job (its CLI flags override them)."""

    starting_offsets: str = Field(default="earliest", min_length=1, description="earliest | latest | JSON")
    max_offsets_per_trigger: int = Field(default=50_000, ge=0, description="0 = unlimited")
    trigger: str = Field(default="1s", pattern=_DURATION)
    lateness: str = Field(default="10m", pattern=_DURATION)
    # a duplicate event_id is dropped if its first copy landed within this window ("0" = whole hour)
    dedupe_window: str = Field(default="1h", pattern=_DURATION_OR_0)
    # caught up and idle: the watermark follows the clock minus this ("0" = only data moves it)
    idle_timeout: str = Field(default="1m", pattern=_DURATION_OR_0)


class EmrConfig(_Section):
    """Where the AWS target submits Spark steps (published by Terraform's compute stack)."""

    cluster_id: str = ""
    artifacts: str = Field(default="", pattern=r"^(s3://.+/)?$")


class LakeConfig(_Section):
    # the root is quoted into Spark SQL (delta.`<path>`) and paths: no backtick, quote,
    # backslash or control character
    root: str = Field(min_length=1, pattern=r"^[^`'\"\\\x00-\x1f\x7f]+$")
    log_store: Literal["local", "s3-dynamodb"]


class Settings(_Section):
    profile: Literal["local", "aws"]
    state_dir: str = Field(min_length=1)
    kafka: KafkaConfig
    postgres: PostgresConfig
    opensearch: OpenSearchConfig
    s3: S3Config
    spark: SparkConfig
    lake: LakeConfig
    warehouse: WarehouseConfig
    ledger: LedgerConfig
    emr: EmrConfig = EmrConfig()
    stream: StreamConfig = StreamConfig()

    # --- derived values -------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        p = Path(self.state_dir)
        return p if p.is_absolute() else work_root() / p

    @property
    def jars_dir(self) -> Path:
        env = os.environ.get(ENV_PREFIX + "JARS_DIR")
        return Path(env) if env else self.state_path / "jars"

    @property
    def export_root(self) -> str:
        """Where hourly exports (Parquet + COPY manifest) go: the export bucket when the lake is
        on S3, else a folder in the state directory."""
        if self.lake.root.startswith(("s3a://", "s3://")):
            return f"s3a://{self.s3.export_bucket}/export"
        return str(self.state_path / "export")

    @property
    def lake_root(self) -> str:
        root = self.lake.root
        if "://" in root or Path(root).is_absolute():
            return root
        return str(work_root() / root)


def work_root() -> Path:
    """What relative paths of a profile (``state_dir``, a local lake root) are relative to: the
    repository in a source checkout or editable install, else the working directory (a wheel
    installed anywhere)."""
    return REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else Path.cwd()


def _describe_allowed(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """Say what a key allows, read from the model (type, range, pattern, choices)."""
    current: Any = model
    field = None
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return ""
        field = current.model_fields.get(str(part))
        if field is None:
            return "allowed keys: " + ", ".join(current.model_fields)
        current = field.annotation
    if field is None:
        return ""
    ann = field.annotation
    if getattr(ann, "__origin__", None) is Literal:
        return "allowed: " + " | ".join(str(a) for a in getattr(ann, "__args__", ()))
    bits = [getattr(ann, "__name__", str(ann))]
    for m in field.metadata:
        for attr in ("ge", "le", "min_length", "pattern"):
            if hasattr(m, attr) and getattr(m, attr) is not None:
                bits.append(f"{attr}={getattr(m, attr)}")
    return "allowed: " + ", ".join(bits)


def _env_overrides(data: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :]
        if rest == "STATE_DIR":
            out["state_dir"] = value
        elif "__" in rest:
            section, key = rest.lower().split("__", 1)
            sect = out.setdefault(section, {})
            if isinstance(sect, dict):
                sect[key] = value
    return out


def _fill_placeholders(value: Any, key: str, source: str, environ: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: _fill_placeholders(v, f"{key}.{k}" if key else k, source, environ) for k, v in value.items()
        }
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            var = m.group(1)
            if var not in environ:
                raise ConfigError(f"{source}: {key}: requires environment variable {var} (not set)")
            return environ[var]

        return _PLACEHOLDER.sub(repl, value)
    return value


def profile_path(profile: str) -> Path:
    if profile not in PROFILES:
        raise ConfigError(f"profile: unknown profile {profile!r}; allowed: {' | '.join(PROFILES)}")
    return CONF_DIR / f"{profile}.yaml"


def load(
    profile: str | None = None, path: Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Load and validate a profile. Raises ConfigError with a one-line message."""
    env = dict(os.environ if environ is None else environ)
    if path is None:
        path = profile_path(profile or env.get(ENV_PREFIX + "PROFILE", "local"))
    if path.is_relative_to(CONF_DIR):  # package data: named as in the repository
        source = f"conf/{path.relative_to(CONF_DIR)}"
    elif path.is_relative_to(REPO_ROOT):
        source = str(path.relative_to(REPO_ROOT))
    else:
        source = str(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{source}:{where}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: top level must be a mapping of sections")
    data = _fill_placeholders(_env_overrides(raw, env), "", source, env)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            parent = loc[:-1]
            allowed = _describe_allowed(Settings, (*parent, "\0"))
            msg = f"unknown key; {allowed}"
        elif kind == "missing":
            msg = "required value is missing"
        else:
            got = err.get("input")
            msg = f"{err['msg'].lower()} (got {got!r}); {_describe_allowed(Settings, loc)}"
        more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{source}: {key}: {msg}{more}") from None
