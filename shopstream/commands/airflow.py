"""``shopstream airflow``: a local Airflow (SQLite, LocalExecutor) on 127.0.0.1 for these DAGs.

Airflow lives in its own virtualenv (``.venv-airflow``, ``make airflow-venv``): its pinned
dependencies do not fit the project's. Its tasks run the batch in the project's ``.venv``.
The components are the ones ``airflow standalone`` starts, started one by one so that every
listener is on loopback (standalone's log servers would listen on all interfaces; tasks here
write their logs to files the API server reads directly).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import click

from shopstream.cli import Context, EntityChoice, HourType, pass_ctx
from shopstream.config import REPO_ROOT, Settings
from shopstream.errors import RuntimeFailure, UsageError
from shopstream.hours import format_hour
from shopstream.private import PRIVATE_UMASK, private_dir
from shopstream.stack.process import EngineError, Proc, port_in_use, wait_until

COMPONENTS = {
    "api-server": ["api-server", "--host", "127.0.0.1", "--port", "{port}"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}
DEFAULT_PORT = 18080


def venv() -> Path:
    return Path(os.environ.get("SHOPSTREAM_AIRFLOW_VENV") or REPO_ROOT / ".venv-airflow")


def airflow_bin() -> Path:
    path = venv() / "bin" / "airflow"
    if not path.exists():
        raise UsageError(f"Airflow is not installed ({path} missing): run `make airflow-venv` first")
    return path


def home(settings: Settings, name: str = "airflow") -> Path:
    return settings.state_path / name


def environment(settings: Settings, airflow_home: Path, port: int = DEFAULT_PORT) -> dict[str, str]:
    """The environment of every Airflow process: SQLite under the state dir, these DAGs, loopback."""
    base = f"http://127.0.0.1:{port}"
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "airflow" / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",  # two cores on the laptop-sized machine
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
        "AIRFLOW_VAR_SHOPSTREAM_TARGET": "local",
        "SHOPSTREAM_PYTHON": str(REPO_ROOT / ".venv" / "bin" / "python"),
        "SHOPSTREAM_REPO": str(REPO_ROOT),
        "SHOPSTREAM_PROFILE": settings.profile,
        "SHOPSTREAM_STATE_DIR": str(settings.state_path),
    }


def start_component(proc: Proc, argv: list[str], env: dict[str, str]) -> int:
    """Start one Airflow component. Under umask 077: what Airflow creates itself (the generated
    admin password file, the SQLite database, logs) is never readable by other users, from the
    first byte; the Airflow home is 0700."""
    private_dir(Path(env["AIRFLOW_HOME"]))
    # SPT_NOENV: setproctitle (the API server renames itself) must not overwrite the
    # environment, where the PID check finds SHOPSTREAM_ENGINE_DIR.
    env = {**env, "SHOPSTREAM_ENGINE_DIR": proc.marker, "SPT_NOENV": "1"}
    return proc.start(argv, env=env, cwd=REPO_ROOT, umask=PRIVATE_UMASK)


def _procs(settings: Settings) -> dict[str, Proc]:
    return {name: Proc(f"airflow-{name}", home(settings) / name) for name in COMPONENTS}


def migrate(env: dict[str, str]) -> None:
    private_dir(Path(env["AIRFLOW_HOME"]))
    res = subprocess.run(
        [str(airflow_bin()), "db", "migrate"],
        env={**os.environ, **env},
        umask=PRIVATE_UMASK,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if res.returncode != 0:
        tail = "\n".join((res.stdout + res.stderr).splitlines()[-15:])
        raise RuntimeFailure(f"airflow db migrate failed:\n{tail}")


def _healthy(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=3) as r:
        return bool(r.status == 200)


@click.group("airflow")
def command() -> None:
    """A local Airflow for the shopstream DAGs (UI on 127.0.0.1), or one DAG run with dag.test().

    \b
    Example:
      make airflow-venv                 # once: Airflow in .venv-airflow
      shopstream airflow start          # UI on http://127.0.0.1:18080
      shopstream airflow test --entity orders --hour 2026-11-24T10
      shopstream airflow stop
    """


@command.command("start")
@click.option(
    "--port",
    type=click.IntRange(1024, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port of the UI / API server (bound to 127.0.0.1).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=10),
    default=240.0,
    show_default=True,
    help="Seconds to wait for the API server to answer.",
)
@pass_ctx
def start_cmd(ctx: Context, port: int, timeout: float) -> None:
    """Start the API server, scheduler, DAG processor and triggerer (idempotent).

    State (SQLite DB, logs, generated admin password) lives in <state>/airflow. Tasks use the
    local target and run the batch with the project's .venv against the local stack.

    \b
    Example:
      shopstream airflow start --port 18080
    """
    settings = ctx.settings
    airflow = airflow_bin()
    env = environment(settings, home(settings), port)
    procs = _procs(settings)
    api = procs["api-server"]
    if api.pid() is None and port_in_use(port):
        raise UsageError(f"--port {port}: already in use on 127.0.0.1; choose another with --port")
    private_dir(settings.state_path)  # 0700 before anything secret is created below it
    migrate(env)
    for name, proc in procs.items():
        if proc.pid() is not None:
            continue
        argv = [str(airflow), *(a.format(port=port) for a in COMPONENTS[name])]
        start_component(proc, argv, env)
    try:
        wait_until("airflow api-server", api, lambda: _healthy(port), timeout=timeout, interval=2)
    except EngineError as exc:
        raise RuntimeFailure(str(exc)) from None
    password_file = home(settings) / "simple_auth_manager_passwords.json.generated"
    click.echo(f"airflow running: http://127.0.0.1:{port} (user admin, password in {password_file})")
    for name, proc in procs.items():
        click.echo(f"  {name}: pid {proc.pid()}  log {proc.log_file}")


@command.command("status")
@click.option(
    "--port",
    type=click.IntRange(1024, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port of the API server.",
)
@pass_ctx
def status_cmd(ctx: Context, port: int) -> None:
    """Show each Airflow component's PID and whether the API answers; exit 1 if any is down.

    \b
    Example:
      shopstream airflow status
    """
    down = []
    for name, proc in _procs(ctx.settings).items():
        pid = proc.pid()
        click.echo(f"{name}: {'pid ' + str(pid) if pid else 'not running'}")
        if pid is None:
            down.append(name)
    try:
        ok = _healthy(port)
    except OSError:
        ok = False
    click.echo(f"api: {'healthy' if ok else 'not answering'} (http://127.0.0.1:{port})")
    if down or not ok:
        raise RuntimeFailure("airflow is not fully running")


@command.command("stop")
@pass_ctx
def stop_cmd(ctx: Context) -> None:
    """Stop the components `airflow start` launched (by their PID files only).

    \b
    Example:
      shopstream airflow stop
    """
    stopped = [name for name, proc in _procs(ctx.settings).items() if proc.stop(timeout=30)]
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "airflow was not running")


@command.command("test")
@click.option(
    "--entity",
    type=EntityChoice(),
    default="orders",
    show_default=True,
    help="Which hourly DAG (shopstream_hourly_<entity>).",
)
@click.option(
    "--hour",
    type=HourType(),
    required=True,
    help="The hour to process (data_interval_start), e.g. 2026-11-24T10.",
)
@click.option(
    "--ignore-watermark",
    is_flag=True,
    help="Mark the 'hour closed' sensor successful instead of waiting for the stream.",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Seconds the 'hour closed' sensor waits before it fails the run.",
)
@pass_ctx
def test_cmd(ctx: Context, entity: str, hour: datetime, ignore_watermark: bool, wait: float) -> None:
    """Run one hourly DAG run in-process with dag.test() (local target, own SQLite DB).

    Tasks are not retried here, so a failure shows at once; the task logs are in the file printed.

    \b
    Example:
      shopstream airflow test --entity orders --hour 2026-11-24T10 --ignore-watermark
    """
    if hour >= datetime.now(UTC).replace(minute=0, second=0, microsecond=0):
        raise UsageError(f"--hour: {format_hour(hour)} has not ended yet")
    settings = ctx.settings
    airflow_bin()
    env = {
        **environment(settings, home(settings, "airflow-dag-test")),
        "SHOPSTREAM_AIRFLOW_RETRIES": "0",
        "SHOPSTREAM_AIRFLOW_HOUR_CLOSED_TIMEOUT": str(wait),
        "SHOPSTREAM_AIRFLOW_POKE_INTERVAL": "10",
        "SHOPSTREAM_AIRFLOW_SENSOR_MODE": "poke",  # dag.test() cannot time out a rescheduled sensor
    }
    private_dir(settings.state_path)  # 0700 before anything secret is created below it
    migrate(env)
    argv = [
        str(venv() / "bin" / "python"),
        "-m",
        "shopstream.orchestration",
        "dag-test",
        f"shopstream_hourly_{entity}",
        "--hour",
        format_hour(hour),
    ]
    if ignore_watermark:
        argv += ["--mark-success", "wait_hour_closed"]
    log = home(settings, "airflow-dag-test") / "dag-test.log"
    with open(log, "w") as out:
        res = subprocess.run(
            argv,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            check=False,
            umask=PRIVATE_UMASK,
        )
    text = log.read_text(errors="replace").splitlines()
    errors = [json.loads(ln)["error"] for ln in text if ln.startswith('{"error"')]
    if errors:
        raise UsageError(f"--hour: {errors[-1]}")
    lines = [ln for ln in text if ln.startswith('{"dag_id"')]
    if not lines:
        raise RuntimeFailure(f"dag.test produced no result (exit {res.returncode}); see {log}")
    result = json.loads(lines[-1])
    for task_id, state in result.get("tasks", {}).items():
        click.echo(f"  {task_id}: {state}")
    click.echo(f"{result.get('dag_id')} {format_hour(hour)}: {result.get('state')} (log {log})")
    if result.get("state") != "success":
        raise RuntimeFailure(f"the DAG run failed; see {log}")
