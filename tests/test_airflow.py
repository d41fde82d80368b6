"""Airflow DAGs: DagBag and policies, the EMR golden test, failures that fail the run, a real run.

Airflow lives in ``.venv-airflow`` (``make airflow-venv``); tests that need it run its
interpreter in a subprocess and FAIL (not skip) when it is missing. ``dag.test()`` runs use a
throw-away SQLite metadata DB per test session.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
DAGS = REPO / "airflow" / "dags"
AIRFLOW_VENV = Path(os.environ.get("SHOPSTREAM_AIRFLOW_VENV") or REPO / ".venv-airflow")
AIRFLOW_PY = AIRFLOW_VENV / "bin" / "python"
HOURLY = ("shopstream_hourly_users", "shopstream_hourly_orders")
ALL_DAGS = (*HOURLY, "shopstream_stream_keeper", "shopstream_maintenance")


def _dag_files() -> list[Path]:
    return sorted(DAGS.rglob("*.py"))


# --- the Airflow virtualenv ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def airflow_python() -> Path:
    if not AIRFLOW_PY.exists():
        pytest.fail(
            f"the Airflow virtualenv is missing ({AIRFLOW_PY}); create it with `make airflow-venv`",
            pytrace=False,
        )
    return AIRFLOW_PY


@pytest.fixture(scope="session")
def airflow_env(airflow_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for Airflow subprocesses: a migrated SQLite DB of this session, these DAGs."""
    return _migrated_airflow_env(airflow_python, tmp_path_factory.mktemp("airflow-home"))


def _migrated_airflow_env(airflow_python: Path, home: Path) -> dict[str, str]:
    """The environment of an Airflow whose metadata DB (SQLite under ``home``) is migrated."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW_VAR_SHOPSTREAM_TARGET": "local",
        "SHOPSTREAM_REPO": str(REPO),
    }
    res = subprocess.run(
        [str(airflow_python.parent / "airflow"), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return env


def _airflow_json(airflow_python: Path, env: dict[str, str], code: str) -> Any:
    res = subprocess.run(
        [str(airflow_python), "-c", code], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return json.loads([ln for ln in res.stdout.splitlines() if ln.startswith("{")][-1])


def _dag_test(
    airflow_python: Path,
    env: dict[str, str],
    dag_id: str,
    hour: datetime,
    mark_success: str | None = None,
    timeout: float = 600,
) -> dict[str, Any]:
    argv = [
        str(airflow_python),
        "-m",
        "shopstream.orchestration",
        "dag-test",
        dag_id,
        "--hour",
        f"{hour:%Y-%m-%dT%H}",
    ]
    if mark_success:
        argv += ["--mark-success", mark_success]
    res = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False
    )
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith('{"dag_id"')]
    assert lines, (
        f"dag.test gave no result (exit {res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-3000:]}"
    )
    out = json.loads(lines[-1])
    out["log"] = res.stdout + res.stderr
    return out


# --- DagBag and policies ------------------------------------------------------------------------------
DAGBAG_REPORT = r"""
import json, sys, time
sys.path.insert(0, %(dags)r)
from airflow.models.dagbag import DagBag
from airflow.sdk import dag, task
from airflow.sdk.bases.sensor import BaseSensorOperator
before = set(sys.modules)  # what parsing the DAG files adds on top of Airflow itself
t = time.monotonic()
bag = DagBag(dag_folder=%(dags)r, include_examples=False)
elapsed = time.monotonic() - t
out = {"import_errors": {k: v[-500:] for k, v in bag.import_errors.items()}, "seconds": elapsed,
       "heavy_modules": sorted(m for m in ("pyspark", "boto3", "botocore", "psycopg2", "redshift_connector",
                                            "pandas", "shopstream.batch", "shopstream.config", "shopstream.lake")
                               if m in sys.modules and m not in before),
       "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "fileloc": dag.fileloc,
        "tags": sorted(dag.tags),
        "catchup": dag.catchup,
        "start_date": dag.start_date.isoformat() if dag.start_date else None,
        "start_tz": str(dag.start_date.tzinfo) if dag.start_date else None,
        "timezone": str(dag.timezone),
        "max_active_runs": dag.max_active_runs,
        "doc_md": bool(dag.doc_md and len(dag.doc_md) > 200),
        "timetable": type(dag.timetable).__name__,
        "default_args": {k: str(v) for k, v in (dag.default_args or {}).items()},
        "tasks": {
            t.task_id: {
                "retries": t.retries,
                "exponential": t.retry_exponential_backoff,
                "on_failure_callback": bool(t.on_failure_callback),
                "execution_timeout": t.execution_timeout.total_seconds() if t.execution_timeout else None,
                "sensor": isinstance(t, BaseSensorOperator),
                "mode": getattr(t, "mode", None),
                "soft_fail": getattr(t, "soft_fail", None),
                "timeout": getattr(t, "timeout", None),
                "upstream": sorted(t.upstream_task_ids),
                "class": type(t).__name__,
                "job_flow_id": getattr(t, "job_flow_id", None),
                "steps": getattr(t, "steps", None),
                "deferrable": getattr(t, "deferrable", None),
                "target_states": getattr(t, "target_states", None),
                "step_id": getattr(t, "step_id", None),
            }
            for t in dag.tasks
        },
    }
print(json.dumps(out, default=str))
"""


@pytest.fixture(scope="session")
def dagbag(airflow_python: Path, airflow_env: dict[str, str]) -> dict[str, Any]:
    return _airflow_json(airflow_python, airflow_env, DAGBAG_REPORT % {"dags": str(DAGS)})


def test_dagbag_loads_with_zero_import_errors(dagbag: dict[str, Any]) -> None:
    assert dagbag["import_errors"] == {}
    assert sorted(dagbag["dags"]) == sorted(ALL_DAGS)
    assert dagbag["seconds"] < 10, f"parsing the DAG folder took {dagbag['seconds']:.1f}s"


def test_dag_files_import_nothing_heavy(dagbag: dict[str, Any]) -> None:
    """Parsing imports no engine client, no Spark and no shopstream library beyond orchestration."""
    assert dagbag["heavy_modules"] == []


@pytest.mark.parametrize("dag_id", ALL_DAGS)
def test_dag_policy(dagbag: dict[str, Any], dag_id: str) -> None:
    d = dagbag["dags"][dag_id]
    assert d["tags"] and "shopstream" in d["tags"]
    assert d["start_tz"] == "UTC" and d["timezone"] == "UTC"
    assert datetime.fromisoformat(d["start_date"]) == datetime(2026, 11, 1, tzinfo=UTC)
    assert d["catchup"] is False
    assert 1 <= d["max_active_runs"] <= 4
    assert d["doc_md"]
    assert "retries" in d["default_args"] and "retry_exponential_backoff" in d["default_args"]
    for task_id, t in d["tasks"].items():
        assert t["retries"] >= 2, task_id
        assert t["exponential"] is True, task_id
        assert t["on_failure_callback"], task_id
        assert t["execution_timeout"], task_id
        if t["sensor"]:
            assert t["mode"] == "reschedule", task_id
            assert t["soft_fail"] is False, task_id  # a timeout fails, it never skips
            assert 0 < t["timeout"] <= 6 * 3600, task_id


def test_catchup_is_set_explicitly_in_every_dag_file() -> None:
    for path in DAGS.glob("*.py"):
        tree = ast.parse(path.read_text())
        dags = [
            c
            for c in ast.walk(tree)
            if isinstance(c, ast.Call) and getattr(c.func, "id", getattr(c.func, "attr", None)) == "dag"
        ]
        assert dags, f"{path.name} defines no @dag"
        for call in dags:
            kw = {k.arg for k in call.keywords}
            assert {"catchup", "start_date", "schedule", "tags", "default_args", "doc_md"} <= kw, path.name


@pytest.mark.parametrize("dag_id", HOURLY)
def test_hourly_dag_shape(dagbag: dict[str, Any], dag_id: str) -> None:
    d = dagbag["dags"][dag_id]
    # data_interval_start = the hour processed: the run for [H, H+1h) starts after H+1h
    assert d["timetable"] == "CronDataIntervalTimetable"
    tasks = d["tasks"]
    # the local target (chosen at parse time): ordinary tasks, then the late-hour corrections
    chain = ["wait_hour_closed", "compact", "export", "load", "aggregate", "reconcile", "corrections"]
    assert sorted(tasks) == sorted(chain)
    for up, down in itertools.pairwise(chain):
        assert tasks[down]["upstream"] == [up], down
    assert tasks["wait_hour_closed"]["sensor"]
    assert all(tasks[t]["class"] in ("_PythonDecoratedOperator", "DecoratedSensorOperator") for t in chain)


AWS_DAG_ENV = {
    "AIRFLOW_VAR_SHOPSTREAM_TARGET": "aws",
    "SHOPSTREAM_EMR__CLUSTER_ID": "j-ABCDEFGHIJKL",
    "SHOPSTREAM_EMR__ARTIFACTS": "s3://acme-artifacts/emr/",
}


@pytest.fixture(scope="session")
def aws_dagbag(airflow_python: Path, airflow_env: dict[str, str]) -> dict[str, Any]:
    return _airflow_json(airflow_python, {**airflow_env, **AWS_DAG_ENV}, DAGBAG_REPORT % {"dags": str(DAGS)})


@pytest.mark.parametrize("dag_id", HOURLY)
def test_aws_target_runs_spark_steps_as_provider_operators(aws_dagbag: dict[str, Any], dag_id: str) -> None:
    """Chosen at parse time: each Spark step is EmrAddStepsOperator → EmrStepSensor (deferrable),
    with the step definition of the one builder; load and aggregate run in the worker."""
    from shopstream.submit import HOURLY_EMR_STEPS

    assert not aws_dagbag["import_errors"], aws_dagbag["import_errors"]
    tasks = aws_dagbag["dags"][dag_id]["tasks"]
    chain = ["wait_hour_closed"]
    # the hour's steps, then the late-hour corrections (an EMR step too: it recounts with Spark)
    for step in ("compact", "export", "load", "aggregate", "reconcile", "corrections"):
        chain += [f"submit_{step}", f"wait_{step}"] if step in HOURLY_EMR_STEPS else [step]
    assert sorted(tasks) == sorted(chain)
    for up, down in itertools.pairwise(chain):
        assert tasks[down]["upstream"] == [up], down
    entity = dag_id.removeprefix("shopstream_hourly_")
    for step in HOURLY_EMR_STEPS:
        submit, wait = tasks[f"submit_{step}"], tasks[f"wait_{step}"]
        assert submit["class"] == "EmrAddStepsOperator" and wait["class"] == "EmrStepSensor"
        assert submit["job_flow_id"] == wait["job_flow_id"] == AWS_DAG_ENV["SHOPSTREAM_EMR__CLUSTER_ID"]
        assert wait["deferrable"] is True
        [definition] = submit["steps"]
        args = definition["HadoopJarStep"]["Args"]
        assert args[args.index("--entity") + 1] == entity
        assert args[-9] == f"s3://acme-artifacts/emr/jobs/run_{step}.py"


PROVIDER_CLASSES = {"EmrAddStepsOperator", "EmrStepSensor"}


@pytest.mark.parametrize("dag_id", ALL_DAGS)
def test_aws_dags_submit_every_emr_step_with_provider_operators(
    aws_dagbag: dict[str, Any], dag_id: str
) -> None:
    """Every aws DAG: each EmrAddStepsOperator is followed by the EmrStepSensor that reads its
    step id (deferrable unless it waits for a non-terminal state), and no ordinary task of the
    DAG submits or watches an EMR step itself (the tasks left are the worker's own steps)."""
    tasks = aws_dagbag["dags"][dag_id]["tasks"]
    submits = {t for t, v in tasks.items() if v["class"] == "EmrAddStepsOperator"}
    sensors = {t for t, v in tasks.items() if v["class"] == "EmrStepSensor"}
    assert submits and len(submits) == len(sensors), (dag_id, sorted(tasks))
    for submit in submits:
        [wait] = [t for t in sensors if tasks[t]["upstream"] == [submit]]
        assert tasks[wait]["step_id"] == f"{{{{ ti.xcom_pull(task_ids='{submit}')[0] }}}}"
        assert (
            tasks[submit]["job_flow_id"]
            == tasks[wait]["job_flow_id"]
            == AWS_DAG_ENV["SHOPSTREAM_EMR__CLUSTER_ID"]
        )
        assert tasks[wait]["deferrable"] is (tasks[wait]["target_states"] == ["COMPLETED"]), wait
    others = {t: v["class"] for t, v in tasks.items() if t not in submits | sensors}
    worker_tasks = {"wait_hour_closed", "load", "aggregate", "ledger_summary", "check_stream"}
    assert set(others) <= worker_tasks, others


def test_aws_maintenance_and_keeper_shapes(aws_dagbag: dict[str, Any], dagbag: dict[str, Any]) -> None:
    from shopstream.contract import entities

    maint = aws_dagbag["dags"]["shopstream_maintenance"]["tasks"]
    assert sorted(maint) == sorted(
        ["ledger_summary", *(f"{p}_vacuum_{e}" for e in entities() for p in ("submit", "wait"))]
    )
    for entity in entities():
        [step] = maint[f"submit_vacuum_{entity}"]["steps"]
        args = step["HadoopJarStep"]["Args"]
        assert args[-9] == "s3://acme-artifacts/emr/jobs/run_vacuum.py"
        assert args[args.index("--entity") + 1] == entity
        assert args[args.index("--retention-hours") + 1] == "{{ params.retention_hours }}"
    keeper = aws_dagbag["dags"]["shopstream_stream_keeper"]["tasks"]
    assert keeper["check_stream"]["class"] == "_ShortCircuitDecoratedOperator"
    assert keeper["restart_stream"]["upstream"] == ["check_stream"]
    assert keeper["restart_stream"]["steps"] == "{{ ti.xcom_pull(task_ids='check_stream') }}"
    assert keeper["wait_stream_running"]["target_states"] == ["RUNNING"]
    # the local target keeps ordinary tasks
    local = dagbag["dags"]
    assert sorted(local["shopstream_maintenance"]["tasks"]) == sorted(
        ["ledger_summary", *(f"vacuum_{e}" for e in entities())]
    )
    assert sorted(local["shopstream_stream_keeper"]["tasks"]) == ["ensure_stream"]
    for d in local.values():
        assert not {t["class"] for t in d["tasks"].values()} & PROVIDER_CLASSES


CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic_ns", "time_ns"}


def test_no_task_reads_the_clock_for_its_partition() -> None:
    """DAG code takes the hour from the data interval; nothing calls now()/utcnow()/today()/time()."""
    offenders = []
    for path in [*_dag_files(), *sorted((REPO / "shopstream" / "orchestration").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name in CLOCK_CALLS:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {name}()")
    assert offenders == []


ALLOWED_TOP_LEVEL = {
    "__future__",
    "datetime",
    "typing",
    "logging",
    "os",
    "subprocess",
    "sys",
    "pathlib",
    "collections.abc",
    "airflow.sdk",
    "airflow.timetables.interval",
    "airflow.timetables.trigger",
    "shopstream_dags.common",
    "shopstream_dags.emr",  # os only; the provider operators are imported by the aws target's builder
    "json",
    "shopstream.orchestration",
    "shopstream.submit",  # the EMR step builders (standard library; orchestration imports it anyway)
    "shopstream.contract",  # the entity list (PyYAML + pydantic, both Airflow dependencies)
}


def test_dag_files_have_no_top_level_io_or_heavy_imports() -> None:
    """Module level: only light imports, constants, function definitions and the DAG builders."""
    for path in _dag_files():
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert set(mods) <= ALLOWED_TOP_LEVEL, f"{path.name}:{node.lineno} imports {mods}"
            elif isinstance(node, ast.Expr | ast.Assign | ast.AnnAssign):
                for call in (c for c in ast.walk(node) if isinstance(c, ast.Call)):
                    name = getattr(call.func, "attr", None) or getattr(call.func, "id", None)
                    assert name in {
                        "getLogger",
                        "sensor_mode",
                        "datetime",
                        "env_seconds",
                        "env_int",
                        "build_hourly_dag",
                        "globals",
                        "shopstream_stream_keeper",
                        "shopstream_maintenance",
                    }, f"{path.name}:{call.lineno} calls {name}() at import time"


# --- the EMR golden test (no AWS call) ----------------------------------------------------------------
from tests.aws_env import AWS_ENV  # noqa: E402


def _split(argv: list[str]) -> tuple[list[str], str, list[str]]:
    """spark-submit argv → (options, script, application args)."""
    assert argv[0] == "spark-submit"
    i = next(i for i, a in enumerate(argv) if a.endswith(".py"))
    return argv[1:i], argv[i], argv[i + 1 :]


@pytest.mark.parametrize("step", ["compact", "export", "reconcile"])
@pytest.mark.parametrize("entity", ["users", "orders"])
def test_emr_step_runs_the_same_spark_submit_as_the_local_target(settings, step: str, entity: str) -> None:
    from shopstream import config
    from shopstream.hourly.args import hourly_parser
    from shopstream.orchestration import emr_step, submit_options
    from shopstream.spark import spark_conf
    from shopstream.submit import emr_conf

    hour = datetime(2026, 11, 24, 10, tzinfo=UTC)
    run_id = "scheduled__2026-11-24T10_00_00_00_00"
    # what the local target's task really executes (the runner, asked for its command)
    res = subprocess.run(
        [sys.executable, "-m", "shopstream.orchestration", "run", "--dry-run", "--step", step,
         "--entity", entity, "--hour", "2026-11-24T10", "--run-id", run_id],
        capture_output=True, text=True, cwd=REPO, check=True, timeout=60,
    )  # fmt: skip
    local = json.loads(res.stdout.splitlines()[-1])
    emr = emr_step(
        step, entity=entity, hour=hour, run_id=run_id, artifacts_s3_prefix="s3://acme-artifacts/emr/"
    )
    assert emr["ActionOnFailure"] == "CONTINUE"
    assert emr["HadoopJarStep"]["Jar"] == "command-runner.jar"
    emr_args = emr["HadoopJarStep"]["Args"]

    l_opts, l_script, l_app = _split(local)
    e_opts, e_script, e_app = _split(emr_args)
    # the same entry point ...
    assert l_script == f"{REPO}/jobs/run_{step}.py"
    assert e_script == f"s3://acme-artifacts/emr/jobs/run_{step}.py"
    # ... with the same arguments, the profile being the only difference
    assert l_app == ["--profile", "local", "--entity", entity, "--hour", "2026-11-24T10", "--run-id", run_id]
    assert e_app == [a if a != "local" else "aws" for a in l_app]
    # the entry point accepts them
    ns = hourly_parser("x").parse_args(e_app)
    assert (ns.profile, ns.entity, ns.hour, ns.run_id) == ("aws", entity, hour, run_id)
    # options: the profile's Spark configuration locally; on EMR the bootstrap's jars and
    # virtualenv (cluster mode), rendered by the same function; nothing resolved from Maven
    assert e_opts == submit_options(emr_conf(), "cluster")
    local_settings = config.load("local")
    assert l_opts == submit_options(spark_conf(local_settings, f"shopstream-{step}-{entity}"))
    assert "spark.jars=file:///opt/shopstream/jars/*.jar" in e_opts and "--packages" not in e_opts


def test_emr_step_golden() -> None:
    from shopstream.orchestration import emr_step

    step = emr_step(
        "export",
        entity="orders",
        hour=datetime(2026, 11, 24, 10, tzinfo=UTC),
        run_id="r1",
        artifacts_s3_prefix="s3://acme-artifacts/emr/",
    )
    assert step == {
        "Name": "shopstream-export-orders-2026-11-24T10-r1",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [
                "spark-submit",
                "--deploy-mode",
                "cluster",
                "--conf",
                "spark.jars=file:///opt/shopstream/jars/*.jar",
                "--conf",
                "spark.pyspark.driver.python=/opt/shopstream/venv/bin/python",
                "--conf",
                "spark.pyspark.python=/opt/shopstream/venv/bin/python",
                "--conf",
                "spark.sql.session.timeZone=UTC",
                "s3://acme-artifacts/emr/jobs/run_export.py",
                "--profile",
                "aws",
                "--entity",
                "orders",
                "--hour",
                "2026-11-24T10",
                "--run-id",
                "r1",
            ],
        },
    }


def test_steps_match_the_batch_library() -> None:
    from shopstream import batch, orchestration

    assert orchestration.STEPS == batch.STEPS


def test_hours_and_run_ids() -> None:
    from shopstream.hours import format_hour, parse_hour
    from shopstream.orchestration import batch_run_id

    assert format_hour(datetime(2026, 11, 24, 10, tzinfo=UTC)) == "2026-11-24T10"
    assert parse_hour("2026-11-24T10:00:00+00:00") == datetime(2026, 11, 24, 10, tzinfo=UTC)
    for bad in (datetime(2026, 11, 24, 10), datetime(2026, 11, 24, 10, 30, tzinfo=UTC)):
        with pytest.raises(ValueError):
            format_hour(bad)
    assert batch_run_id("scheduled__2026-11-24T10:00:00+00:00") == "scheduled__2026-11-24T10_00_00_00_00"


def test_vacuum_never_goes_below_seven_days() -> None:
    from shopstream.orchestration import emr_vacuum_step, vacuum_args

    with pytest.raises(ValueError, match="below the minimum"):
        vacuum_args(profile="aws", entity="orders", retention_hours=24, run_id="r")
    step = emr_vacuum_step(entity="users", retention_hours=200, run_id="r", artifacts_s3_prefix="s3://a/emr")
    assert step["HadoopJarStep"]["Args"][-8:] == [
        "--profile", "aws", "--entity", "users", "--retention-hours", "200", "--run-id", "r",
    ]  # fmt: skip


def test_local_maintenance_tasks_run_the_commands_the_builders_make(
    airflow_python: Path, tmp_path: Path
) -> None:
    """targets.vacuum / targets.ledger_summary (the local target's maintenance tasks) run the
    orchestration builders' command lines, which its own parser accepts with the task's values."""
    from shopstream.orchestration import ledger_summary_argv, vacuum_argv
    from shopstream.orchestration.__main__ import parser

    code = f"""
import json, sys
from datetime import datetime, UTC
sys.path.insert(0, {str(DAGS)!r})
from shopstream_dags import targets
ran = []
targets.run_command = lambda argv, **kw: ran.append(list(argv)) or 0
targets.target = lambda: "local"
targets.vacuum("users", 200, "maint_r1")
targets.ledger_summary(datetime(2026, 11, 23, tzinfo=UTC))
try:
    targets.vacuum("orders", 24, "maint_r1")
except ValueError as exc:
    ran.append(str(exc))
print(json.dumps(ran))
"""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "SHOPSTREAM_PYTHON": "py"}
    env.pop("SHOPSTREAM_PROFILE", None)
    res = subprocess.run(
        [str(airflow_python), "-c", code], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    vac, summary, refused = json.loads(res.stdout.splitlines()[-1])
    assert vac == vacuum_argv("py", profile="local", entity="users", retention_hours=200, run_id="maint_r1")
    assert summary == ledger_summary_argv("py", profile="local", day_start=datetime(2026, 11, 23, tzinfo=UTC))
    assert "below the minimum" in refused  # nothing ran for 24 h
    assert vac[1:3] == summary[1:3] == ["-m", "shopstream.orchestration"]
    v = parser().parse_args(vac[3:])
    assert (v.command, v.profile, v.entity, v.retention_hours, v.run_id) == (
        "vacuum", "local", "users", 200, "maint_r1",
    )  # fmt: skip
    s = parser().parse_args(summary[3:])
    assert (s.command, s.profile, s.day) == ("ledger-summary", "local", datetime(2026, 11, 23, tzinfo=UTC))


def test_connections_become_shopstream_env() -> None:
    from shopstream.orchestration import connection_env

    env = connection_env(
        warehouse={"host": "wh", "port": 5439, "schema": "shopstream", "login": "loader",
                   "password": None, "extra": {"cluster_identifier": "acme-wh"}},
        mart={"host": "mart", "port": 5432, "schema": "mart", "login": "shopstream", "password": "s3cret"},
    )  # fmt: skip
    assert env == {
        "SHOPSTREAM_WAREHOUSE__REDSHIFT_HOST": "wh",
        "SHOPSTREAM_WAREHOUSE__REDSHIFT_PORT": "5439",
        "SHOPSTREAM_WAREHOUSE__REDSHIFT_DATABASE": "shopstream",
        "SHOPSTREAM_WAREHOUSE__REDSHIFT_DB_USER": "loader",
        "SHOPSTREAM_WAREHOUSE__REDSHIFT_CLUSTER_ID": "acme-wh",
        "SHOPSTREAM_POSTGRES__HOST": "mart",
        "SHOPSTREAM_POSTGRES__PORT": "5432",
        "SHOPSTREAM_POSTGRES__USER": "shopstream",
        "SHOPSTREAM_POSTGRES__MART_DB": "mart",
        "SHOPSTREAM_PG_PASSWORD": "s3cret",
    }
    from shopstream import config

    s = config.load("aws", environ={**AWS_ENV, **env})
    assert (s.postgres.host, s.postgres.port, s.warehouse.redshift_db_user) == ("mart", 5432, "loader")


def test_failure_message_says_what_failed() -> None:
    sys.path.insert(0, str(DAGS))
    try:
        from shopstream_dags.common import failure_message
    finally:
        sys.path.remove(str(DAGS))

    class TI:
        dag_id, task_id, try_number = "shopstream_hourly_orders", "load", 3

    msg = failure_message(
        {
            "ti": TI(),
            "run_id": "scheduled__x",
            "data_interval_start": datetime(2026, 11, 24, 10, tzinfo=UTC),
            "data_interval_end": datetime(2026, 11, 24, 11, tzinfo=UTC),
            "exception": RuntimeError("COPY failed\n  at line 3"),
        }
    )
    assert msg == (
        "shopstream FAILED dag=shopstream_hourly_orders task=load interval=2026-11-24T10:00Z..2026-11-24T11:00Z "
        "run=scheduled__x try=3 error=RuntimeError: COPY failed at line 3"
    )


# --- failures fail the run (dag.test with real subprocesses that exit non-zero) -----------------------
def _stub(tmp_path: Path, closed_exit: int, step_exit: int) -> str:
    """A stand-in for the project's python: the probe exits ``closed_exit``, every step ``step_exit``."""
    path = tmp_path / "python"
    path.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f'  *hour-closed*) echo "probe $*"; exit {closed_exit};;\n'
        f'  *) echo "step $*"; exit {step_exit};;\n'
        "esac\n"
    )
    path.chmod(0o755)
    return str(path)


@pytest.mark.slow
def test_a_failed_step_fails_the_run(
    airflow_python: Path, airflow_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**airflow_env, "SHOPSTREAM_PYTHON": _stub(tmp_path, 0, 1), "SHOPSTREAM_AIRFLOW_RETRIES": "0"}
    out = _dag_test(airflow_python, env, "shopstream_hourly_orders", datetime(2026, 11, 20, 3, tzinfo=UTC))
    assert out["state"] == "failed"
    assert out["tasks"]["wait_hour_closed"] == "success"
    assert out["tasks"]["compact"] == "failed"
    assert {out["tasks"][t] for t in ("export", "load", "aggregate", "reconcile", "corrections")} == {
        "upstream_failed"
    }
    assert "shopstream FAILED dag=shopstream_hourly_orders task=compact" in out["log"]
    assert "interval=2026-11-20T03:00Z..2026-11-20T04:00Z" in out["log"]


@pytest.mark.slow
def test_a_failed_reconcile_fails_the_run(
    airflow_python: Path, airflow_env: dict[str, str], tmp_path: Path
) -> None:
    stub = tmp_path / "python"
    stub.write_text(
        '#!/bin/sh\ncase "$*" in\n  *reconcile*) echo "hour does not reconcile"; exit 1;;\n  *) exit 0;;\nesac\n'
    )
    stub.chmod(0o755)
    env = {**airflow_env, "SHOPSTREAM_PYTHON": str(stub), "SHOPSTREAM_AIRFLOW_RETRIES": "0"}
    out = _dag_test(airflow_python, env, "shopstream_hourly_users", datetime(2026, 11, 20, 4, tzinfo=UTC))
    assert out["state"] == "failed"
    assert out["tasks"]["reconcile"] == "failed"
    assert out["tasks"]["corrections"] == "upstream_failed"
    assert all(out["tasks"][t] == "success" for t in out["tasks"] if t not in ("reconcile", "corrections"))


@pytest.mark.slow
def test_a_sensor_timeout_fails_the_run(
    airflow_python: Path, airflow_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **airflow_env,
        "SHOPSTREAM_PYTHON": _stub(tmp_path, 3, 1),  # the hour never closes
        "SHOPSTREAM_AIRFLOW_HOUR_CLOSED_TIMEOUT": "3",
        "SHOPSTREAM_AIRFLOW_POKE_INTERVAL": "1",
        # dag.test() of Airflow 3.1.2 breaks a *rescheduled* sensor's timeout arithmetic (the first
        # reschedule date comes back as a str in-process); the same timeout code runs in poke mode.
        "SHOPSTREAM_AIRFLOW_SENSOR_MODE": "poke",
    }
    out = _dag_test(airflow_python, env, "shopstream_hourly_users", datetime(2026, 11, 20, 5, tzinfo=UTC))
    assert out["state"] == "failed"
    assert out["tasks"]["wait_hour_closed"] == "failed"  # not skipped, not retried (retries are on)
    assert "AirflowSensorTimeout" in out["log"]
    assert "up_for_retry" not in out["log"]
    assert "step " not in out["log"]  # no step ran
    assert "shopstream FAILED dag=shopstream_hourly_users task=wait_hour_closed" in out["log"]


# --- a real run against the local stack ---------------------------------------------------------------
@pytest.mark.slow
def test_hourly_dag_run_against_the_local_stack(
    airflow_python: Path, airflow_env: dict[str, str], spark, stack, tmp_path_factory: pytest.TempPathFactory
) -> None:  # type: ignore[no-untyped-def]
    """dag.test() for one hour, local target: mart rows appear, the ledger reconciles, a rerun changes nothing.

    Bronze for the hour is written with the stream job's own transforms (tests/batch_helpers.py);
    the long-running stream (which writes the watermark) is not part of this test, so the
    'hour closed' sensor is marked successful here — it is exercised by the timeout test above.
    """
    from shopstream import ledger, mart
    from tests.batch_helpers import ingest, produce

    lake = str(tmp_path_factory.mktemp("airflow-lake"))
    settings = stack.model_copy(update={"lake": stack.lake.model_copy(update={"root": lake})})
    # a closed hour after the DAGs' start_date (2026-11-01), at random so reruns rarely share Kafka data
    hour = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=uuid.uuid4().int % (22 * 24))
    produced = produce(
        settings, 400, hour + timedelta(minutes=1), seed=uuid.uuid4().int % 1_000_000, step="2s"
    )
    ingest(spark, settings)
    env = {
        **airflow_env,
        "SHOPSTREAM_LAKE__ROOT": lake,
        "SHOPSTREAM_PYTHON": str(REPO / ".venv" / "bin" / "python"),
    }

    first = _dag_test(airflow_python, env, "shopstream_hourly_orders", hour, mark_success="wait_hour_closed")
    assert first["state"] == "success", first["log"][-6000:]
    assert first["data_interval_start"] == hour.isoformat()
    rows = mart.hour_rows(settings, "orders", hour)
    assert rows, "no mart rows for the hour"
    total = mart.hour_total(settings, "orders", hour)
    assert total and total > 0
    entries = ledger.latest(settings, hour, "orders")
    assert {"kafka", "bronze", "warehouse", "mart"} <= {e.stage for e in entries}
    assert ledger.differences(entries) == []
    counts = {e.stage: e.row_count for e in entries}
    assert counts["bronze"] == counts["warehouse"] == counts["mart"] == counts["kafka"]
    assert produced  # the producer's summary (events of both entities were produced)

    again = _dag_test(airflow_python, env, "shopstream_hourly_orders", hour, mark_success="wait_hour_closed")
    assert again["state"] == "success", again["log"][-6000:]
    assert mart.hour_rows(settings, "orders", hour) == rows
    assert mart.hour_total(settings, "orders", hour) == total
    assert ledger.differences(ledger.latest(settings, hour, "orders")) == []

    # the EMR step's command line, run here as is (spark-submit of jobs/run_compact.py): it works
    # against the local stack and, compaction being idempotent, changes nothing either
    res = subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "-m", "shopstream.orchestration", "run", "--via", "spark-submit",
         "--step", "compact", "--entity", "orders", "--hour", f"{hour:%Y-%m-%dT%H}", "--run-id", "spark-submit-check"],
        env=env, capture_output=True, text=True, cwd=REPO, timeout=600, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert re.search(rf"^compact\s+orders\s+{hour:%Y-%m-%dT%H}\s", res.stdout, re.M), res.stdout[-2000:]
    assert mart.hour_rows(settings, "orders", hour) == rows


# --- the aws target's other DAGs against the EMR API of the local S3 API (moto) ---------------------
def _aws_env(airflow_env: dict[str, str], settings: Any, cluster: str) -> dict[str, str]:
    conn = {"conn_type": "aws", "extra": {"endpoint_url": str(settings.s3.endpoint_url),
                                          "region_name": settings.s3.region}}  # fmt: skip
    return {
        **airflow_env,
        **AWS_DAG_ENV,
        "SHOPSTREAM_EMR__CLUSTER_ID": cluster,
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(conn),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": settings.s3.region,
        "SHOPSTREAM_AIRFLOW_SENSOR_MODE": "poke",
        "SHOPSTREAM_AIRFLOW_EMR_POKE_INTERVAL": "1",
        "SHOPSTREAM_AIRFLOW_RETRIES": "0",
    }


@pytest.mark.slow
def test_aws_keeper_and_maintenance_submit_the_builders_steps(
    airflow_python: Path, stack, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """dag.test() of the aws targets on moto's EMR API: the keeper adds the stream step when none
    runs and short-circuits while it runs; maintenance submits one VACUUM step per entity with
    the run's retention rendered, each equal to the builder's definition."""
    from shopstream.aws import boto_client
    from shopstream.contract import entities
    from shopstream.orchestration import batch_run_id
    from shopstream.submit import STREAM_STEP_NAME, stream_emr_step, vacuum_emr_step

    # A metadata DB of its own: the session's DB already holds these DAG ids serialized with the
    # local target (the earlier dag.test runs parse the whole folder), and a run of the aws
    # target's tasks against that stored version fails when its first task starts.
    airflow_env = _migrated_airflow_env(airflow_python, tmp_path / "airflow-home")
    emr = boto_client(stack, "emr")
    cluster = emr.run_job_flow(
        Name=f"keeper-{uuid.uuid4().hex[:6]}", ReleaseLabel="emr-7.9.0",
        Instances={"MasterInstanceType": "m7g.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]  # fmt: skip
    env = _aws_env(airflow_env, stack, cluster)
    hour = datetime(2026, 11, 20, 0, tzinfo=UTC)

    first = _dag_test(airflow_python, env, "shopstream_stream_keeper", hour)
    assert first["state"] == "success", first["log"][-4000:]
    assert first["tasks"] == {"check_stream": "success", "restart_stream": "success",
                              "wait_stream_running": "success"}  # fmt: skip
    [step] = emr.list_steps(ClusterId=cluster)["Steps"]
    artifacts = AWS_DAG_ENV["SHOPSTREAM_EMR__ARTIFACTS"]
    assert step["Name"] == STREAM_STEP_NAME
    assert step["Config"]["Args"] == stream_emr_step(artifacts)["HadoopJarStep"]["Args"]
    again = _dag_test(airflow_python, env, "shopstream_stream_keeper", hour + timedelta(hours=1))
    assert again["state"] == "success", again["log"][-4000:]
    assert again["tasks"]["restart_stream"] == again["tasks"]["wait_stream_running"] == "skipped"
    assert len(emr.list_steps(ClusterId=cluster)["Steps"]) == 1  # still running: nothing added

    # moto's steps never finish (the sensors) and the ledger summary needs the mart's Connection
    maint = _dag_test(
        airflow_python, env, "shopstream_maintenance", hour, mark_success="wait_vacuum_.*|ledger_summary"
    )
    assert maint["state"] == "success", maint["log"][-4000:]
    assert all(maint["tasks"][f"submit_vacuum_{e}"] == "success" for e in entities()), maint["tasks"]
    run_id = batch_run_id(maint["run_id"])
    added = {s["Name"]: s["Config"]["Args"] for s in emr.list_steps(ClusterId=cluster)["Steps"]}
    for e in entities():
        want = vacuum_emr_step(entity=e, retention_hours=168, run_id=run_id, artifacts_s3_prefix=artifacts)
        assert added[want["Name"]] == want["HadoopJarStep"]["Args"]


# --- the CLI ------------------------------------------------------------------------------------------
def test_airflow_cli_has_help_everywhere() -> None:
    from click.testing import CliRunner

    from shopstream.cli import cli

    runner = CliRunner()
    for args in (
        ["airflow"],
        ["airflow", "start"],
        ["airflow", "status"],
        ["airflow", "stop"],
        ["airflow", "test"],
    ):
        res = runner.invoke(cli, [*args, "--help"])
        assert res.exit_code == 0, res.output
        assert "Example:" in res.output


def test_airflow_test_rejects_a_bad_hour() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "shopstream", "airflow", "test", "--hour", "yesterday"],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=60,
    )  # fmt: skip
    assert res.returncode == 2
    assert "--hour" in res.stderr and "Traceback" not in res.stderr


# --- deploy artifacts (validated statically: no Docker, no cluster here) -------------------------------
def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "airflow" / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    return pins


def test_requirements_are_pinned_and_constrained() -> None:
    pins = _pins()
    assert set(pins) == {
        "apache-airflow",
        "apache-airflow-providers-amazon",
        "apache-airflow-providers-postgres",
    }
    frozen = dict(
        ln.split("==", 1)
        for ln in (REPO / "airflow" / "constraints.txt").read_text().splitlines()
        if "==" in ln
    )
    for name, version in pins.items():
        assert frozen.get(name) == version, name
    assert pins["apache-airflow"].startswith("3.")


def test_airflow_venv_matches_the_pins(airflow_python: Path) -> None:
    res = subprocess.run(
        [str(airflow_python), "-c", "import airflow; print(airflow.__version__)"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert res.stdout.strip().splitlines()[-1] == _pins()["apache-airflow"]


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    text = (REPO / "airflow" / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instr, _, rest = line.partition(" ")
            out.append((instr.upper(), rest.strip()))
    return out


def test_dockerfile_pins_the_airflow_base_and_runs_as_non_root() -> None:
    instructions = _dockerfile()
    args = dict(a.split("=", 1) for i, a in instructions if i == "ARG" and "=" in a)
    base = args["AIRFLOW_IMAGE"]
    repo, _, tag = base.partition(":")
    assert repo == "apache/airflow"
    assert tag == f"{_pins()['apache-airflow']}-python3.11", "base tag must be pinned to the tested Airflow"
    froms = [a for i, a in instructions if i == "FROM"]
    assert froms and all(f.split()[0] == "${AIRFLOW_IMAGE}" for f in froms)
    users = [a for i, a in instructions if i == "USER"]
    assert users[-1] not in ("root", "0"), "the image must end as a non-root user"
    for instr, a in instructions:
        if instr == "COPY" and not a.startswith("--from"):
            for src in [p for p in a.split() if not p.startswith("--")][:-1]:
                assert (REPO / src).exists(), f"COPY source {src} does not exist"


def test_helm_values_for_eks() -> None:
    import yaml

    values = yaml.safe_load((REPO / "airflow" / "helm" / "values.yaml").read_text())
    assert values["airflowVersion"] == _pins()["apache-airflow"]
    assert values["defaultAirflowTag"].startswith(values["airflowVersion"])
    assert values["executor"] == "KubernetesExecutor"
    text = (REPO / "airflow" / "helm" / "values.yaml").read_text()
    assert "Executor: KubernetesExecutor." in text  # the reason is written next to the choice
    sync = values["dags"]["gitSync"]
    assert sync["enabled"] is True and sync["repo"] and sync["branch"]
    assert (REPO / sync["subPath"] / "shopstream_hourly.py").exists()
    assert values["postgresql"]["enabled"] is False
    assert values["data"]["metadataSecretName"]
    assert "metadataConnection" not in values["data"]
    assert values["webserver"]["defaultUser"]["enabled"] is False
    logging_cfg = values["config"]["logging"]
    assert logging_cfg["remote_logging"] == "True"
    assert logging_cfg["remote_base_log_folder"].startswith("s3://")
    for component in ("scheduler", "workers", "apiServer", "dagProcessor", "triggerer"):
        assert values[component]["serviceAccount"]["create"] is True, component
    env = {e["name"]: e["value"] for e in values["env"]}
    assert env["AIRFLOW_VAR_SHOPSTREAM_TARGET"] == "aws"

    def walk(node: Any, path: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                lowered = str(k).lower()
                if any(
                    w in lowered for w in ("password", "fernetkey", "secretkey", "jwtsecret")
                ) and not lowered.endswith(("secretname", "secretkeyref")):  # references, not values
                    assert v in (None, "", {}), f"{path}.{k} holds a secret"
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(values)


def test_airflow_make_include() -> None:
    mk = (REPO / "airflow" / "airflow.mk").read_text()
    assert "\nairflow-venv: $(AIRFLOW_STAMP) ## " in mk
    assert "-r airflow/requirements.txt -c airflow/constraints.txt" in mk


def _listeners(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) listening on ``port``."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, _, hexport = local.partition(":")
            if state == "0A" and int(hexport, 16) == port:
                out.add(addr)
    return out


@pytest.mark.slow
def test_local_airflow_starts_on_loopback_and_stops_by_pid(airflow_python: Path) -> None:
    from stack_ports import stack_port

    port = stack_port(18091)
    cli = [sys.executable, "-m", "shopstream", "airflow"]
    try:
        res = subprocess.run([*cli, "start", "--port", str(port)], capture_output=True, text=True, cwd=REPO,
                             timeout=400, check=False)  # fmt: skip
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        assert f"http://127.0.0.1:{port}" in res.stdout
        status = subprocess.run([*cli, "status", "--port", str(port)], capture_output=True, text=True, cwd=REPO,
                                timeout=60, check=False)  # fmt: skip
        assert status.returncode == 0, status.stdout + status.stderr
        assert _listeners(port) == {"0100007F"}  # 127.0.0.1 only
        assert not _listeners(8793) and not _listeners(8794)  # no log servers on any interface
    finally:
        stop = subprocess.run(
            [*cli, "stop"], capture_output=True, text=True, cwd=REPO, timeout=120, check=False
        )
    assert stop.returncode == 0 and "stopped: api-server, scheduler, dag-processor, triggerer" in stop.stdout
    assert not _listeners(port)
    again = subprocess.run([*cli, "status", "--port", str(port)], capture_output=True, text=True, cwd=REPO,
                           timeout=60, check=False)  # fmt: skip
    assert again.returncode == 1
