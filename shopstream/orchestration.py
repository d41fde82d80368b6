"""What the orchestrator runs for one (step, entity, hour): one argument builder for both targets.

Airflow's DAGs (``airflow/dags``) never build a command line themselves; they ask this module:

* :func:`spark_submit_argv` — ``spark-submit [options] <root>/jobs/<step>.py --profile … --entity …
  --hour … --run-id …``. The whole command line comes from :mod:`shopstream.submit` (the one
  builder of every Spark entry point), so the local runner and the EMR step run exactly the same
  entry point with exactly the same arguments; only the Spark options (from the profile) and the script's root
  (the repository here, the artifacts prefix on S3 there) differ.
* :func:`emr_step` — the EMR step definition (``command-runner.jar`` + that argv) for
  ``EmrAddStepsOperator``.
* :func:`runner_argv` — the command an Airflow task runs for a step on the machine it runs on:
  ``python -m shopstream.orchestration run …`` → ``shopstream.batch.run_step``. With
  ``--via spark-submit`` (or ``SHOPSTREAM_LOCAL_SPARK_VIA=spark-submit``) compact/export run as
  the very spark-submit command line the EMR step runs; ``--dry-run`` prints that command.
* :func:`connection_env` — the ``SHOPSTREAM_*`` variables that hand an Airflow Connection's
  host/user/password to that command (credentials live in Airflow Connections, never in code).

At import time the module needs only the standard library, PyYAML and pydantic (both among
Airflow's own dependencies; through ``contract``, ``hours`` and ``hourly.args``): the Airflow
environment (which installs this package without its heavy dependencies) imports it to render
EMR steps. The
``run`` / ``hour-closed`` / ``vacuum`` / ``ledger-summary`` commands below run in the project's
own environment; ``dag-test`` runs in Airflow's.

    python -m shopstream.orchestration run --step compact --entity orders --hour 2026-11-24T10 --run-id r1
    python -m shopstream.orchestration hour-closed --entity orders --hour 2026-11-24T10
    python -m shopstream.orchestration ledger-summary --day 2026-11-23
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shopstream import submit
from shopstream.contract import check_entity, entities
from shopstream.hourly.args import SPARK_STEPS, STEPS
from shopstream.hours import check_hour, format_hour, hour_arg

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("local", "aws")
VACUUM_MIN_RETENTION_HOURS = 168
_RUN_ID_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")

# Exit codes of ``hour-closed`` (the sensor's probe): 0 closed, 3 not closed yet, anything else failed.
CLOSED, NOT_CLOSED = 0, 3


def batch_run_id(airflow_run_id: str) -> str:
    """A run id safe for object keys and SQL literals, stable for one DAG run (all its tries)."""
    safe = _RUN_ID_SAFE.sub("_", airflow_run_id).strip("_")
    if not safe:
        raise ValueError(f"run id {airflow_run_id!r} has no usable characters")
    return safe[:120]


def _check(step: str, entity: str, steps: Sequence[str] = STEPS) -> None:
    if step not in steps:
        raise ValueError(f"unknown step {step!r}; allowed: {', '.join(steps)}")
    check_entity(entity)


# --- spark-submit (the one builder: shopstream.submit) -------------------------------------------
submit_options = submit.submit_options


def app_args(step: str, *, profile: str, entity: str, hour: datetime, run_id: str) -> list[str]:
    """``jobs/run_<step>.py --profile … --entity … --hour … --run-id …`` (:mod:`shopstream.submit`)."""
    _check(step, entity, SPARK_STEPS)
    args = submit.app_args(step, profile=profile, entity=entity, hour=check_hour(hour), run_id=run_id)
    return [submit.ENTRY_POINTS[step], *args]


def spark_submit_argv(
    step: str,
    *,
    profile: str,
    entity: str,
    hour: datetime,
    run_id: str,
    script_root: str,
    conf: Mapping[str, str],
    deploy_mode: str | None = None,
) -> list[str]:
    """The whole ``spark-submit`` command line of a Spark step (local or EMR)."""
    _script, *args = app_args(step, profile=profile, entity=entity, hour=hour, run_id=run_id)
    return submit.spark_submit(step, args, script_root=script_root, conf=conf, deploy_mode=deploy_mode)


def local_spark_submit_argv(settings: Any, step: str, entity: str, hour: datetime, run_id: str) -> list[str]:
    """What the local target runs: the profile's Spark configuration (jars from the cache)."""
    from shopstream.spark import spark_conf

    return spark_submit_argv(
        step,
        profile=settings.profile,
        entity=entity,
        hour=hour,
        run_id=run_id,
        script_root=str(REPO_ROOT),
        conf=spark_conf(settings, f"shopstream-{step}-{entity}"),
    )


def emr_step(
    step: str,
    *,
    entity: str,
    hour: datetime,
    run_id: str,
    artifacts_s3_prefix: str,
    action_on_failure: str = "CONTINUE",
) -> dict[str, Any]:
    """An EMR step (for ``EmrAddStepsOperator``) that runs the same entry point with ``--profile aws``
    (:func:`shopstream.submit.hourly_emr_step`; the environment is the cluster's spark-defaults,
    rendered by Terraform)."""
    _check(step, entity, SPARK_STEPS)
    out = submit.hourly_emr_step(
        step, entity=entity, hour=check_hour(hour), run_id=run_id, artifacts_s3_prefix=artifacts_s3_prefix
    )
    out["ActionOnFailure"] = action_on_failure
    return out


def emr_vacuum_step(
    *, entity: str, retention_hours: int, run_id: str, artifacts_s3_prefix: str
) -> dict[str, Any]:
    """The maintenance VACUUM as an EMR step (``jobs/run_vacuum.py``; same arguments as locally)."""
    return submit.emr_step(
        "vacuum",
        vacuum_args(profile="aws", entity=entity, retention_hours=retention_hours, run_id=run_id),
        artifacts_s3_prefix=artifacts_s3_prefix,
        name=f"shopstream-vacuum-{entity}-{run_id}",
    )


def vacuum_args(*, profile: str, entity: str, retention_hours: int, run_id: str) -> list[str]:
    check_entity(entity)
    if retention_hours < VACUUM_MIN_RETENTION_HOURS:
        raise ValueError(
            f"vacuum retention {retention_hours}h is below the minimum {VACUUM_MIN_RETENTION_HOURS}h"
        )
    return [
        "--profile",
        profile,
        "--entity",
        entity,
        "--retention-hours",
        str(retention_hours),
        "--run-id",
        run_id,
    ]


# --- what an Airflow task runs ---------------------------------------------------------------------
def runner_argv(
    python: str, step: str, *, profile: str, entity: str, hour: datetime, run_id: str
) -> list[str]:
    """``<python> -m shopstream.orchestration run …``: one step on the machine the task runs on."""
    _check(step, entity)
    return [
        python,
        "-m",
        "shopstream.orchestration",
        "run",
        "--profile",
        profile,
        "--step",
        step,
        "--entity",
        entity,
        "--hour",
        format_hour(hour),
        "--run-id",
        run_id,
    ]


def corrections_argv(python: str, *, profile: str, entity: str, hour: datetime, run_id: str) -> list[str]:
    """``<python> -m shopstream.orchestration corrections …``: late-changed hours before ``hour``."""
    check_entity(entity)
    return [python, "-m", "shopstream.orchestration", "corrections", "--profile", profile, "--entity", entity,
            "--hour", format_hour(hour), "--run-id", run_id]  # fmt: skip


def probe_argv(python: str, *, profile: str, entity: str, hour: datetime) -> list[str]:
    """``<python> -m shopstream.orchestration hour-closed …`` (exit 0 closed, 3 not yet)."""
    check_entity(entity)
    return [
        python,
        "-m",
        "shopstream.orchestration",
        "hour-closed",
        "--profile",
        profile,
        "--entity",
        entity,
        "--hour",
        format_hour(hour),
    ]


def connection_env(
    warehouse: Mapping[str, Any] | None = None, mart: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """``SHOPSTREAM_*`` overrides from two Airflow Connections (as plain dicts).

    * ``warehouse`` (Redshift, IAM authentication): host, port, schema (database), login (db
      user) and ``extra.cluster_identifier`` — no password exists.
    * ``mart`` (RDS PostgreSQL): host, port, login, schema (database) and the password, handed
      over as ``SHOPSTREAM_PG_PASSWORD`` (the variable the profile names).
    """
    env: dict[str, str] = {}
    if warehouse:
        extra = warehouse.get("extra") or {}
        pairs = {
            "SHOPSTREAM_WAREHOUSE__REDSHIFT_HOST": warehouse.get("host"),
            "SHOPSTREAM_WAREHOUSE__REDSHIFT_PORT": warehouse.get("port"),
            "SHOPSTREAM_WAREHOUSE__REDSHIFT_DATABASE": warehouse.get("schema"),
            "SHOPSTREAM_WAREHOUSE__REDSHIFT_DB_USER": warehouse.get("login"),
            "SHOPSTREAM_WAREHOUSE__REDSHIFT_CLUSTER_ID": extra.get("cluster_identifier"),
        }
        env.update({k: str(v) for k, v in pairs.items() if v not in (None, "")})
    if mart:
        pairs = {
            "SHOPSTREAM_POSTGRES__HOST": mart.get("host"),
            "SHOPSTREAM_POSTGRES__PORT": mart.get("port"),
            "SHOPSTREAM_POSTGRES__USER": mart.get("login"),
            "SHOPSTREAM_POSTGRES__MART_DB": mart.get("schema"),
            "SHOPSTREAM_PG_PASSWORD": mart.get("password"),
        }
        env.update({k: str(v) for k, v in pairs.items() if v not in (None, "")})
    return env


def previous_day_hours(day_start: datetime) -> list[datetime]:
    """The 24 UTC hours of the day that starts at ``day_start`` (the maintenance DAG's interval)."""
    start = check_hour(day_start)
    if start.hour:
        raise ValueError(f"{start.isoformat()} is not midnight UTC")
    return [start + timedelta(hours=i) for i in range(24)]


# --- the commands (run in the project's environment) ----------------------------------------------
def _settings(profile: str | None) -> Any:
    from shopstream import config

    return config.load(profile)


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args.profile)
    if args.step in SPARK_STEPS and (args.dry_run or args.via == "spark-submit"):
        argv = local_spark_submit_argv(settings, args.step, args.entity, args.hour, args.run_id)
        if args.dry_run:
            print(json.dumps(argv))
            return 0
        env = dict(os.environ)
        # spark-submit is the one pyspark installs next to this interpreter.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        env["PYSPARK_PYTHON"] = sys.executable
        print("+ " + " ".join(a if "spark.jars=" not in a else "spark.jars=…" for a in argv), flush=True)
        return subprocess.run(argv, env=env, cwd=str(REPO_ROOT), check=False).returncode
    if args.dry_run:
        print(
            json.dumps(
                ["shopstream.batch.run_step", args.step, args.entity, format_hour(args.hour), args.run_id]
            )
        )
        return 0
    from shopstream import batch

    result = batch.run_step(settings, args.step, args.entity, args.hour, args.run_id)
    print(
        json.dumps(
            {
                "step": args.step,
                "entity": args.entity,
                "hour": format_hour(args.hour),
                "run_id": args.run_id,
                "result": result,
            },
            default=str,
        )
    )
    return 0


def _corrections(args: argparse.Namespace) -> int:
    from shopstream import batch, mart

    settings = _settings(args.profile)
    mart.ensure_schema(settings)
    runner = batch.Runner(settings, args.run_id)
    try:
        results = batch.correct_late_hours(settings, runner, args.entity, args.hour, print)
    finally:
        if runner._spark is not None and runner.owns_spark:
            runner._spark.stop()
    hours = sorted({format_hour(r["hour"]) for r in results})
    print(json.dumps({"entity": args.entity, "before": format_hour(args.hour), "corrected": hours}))
    return 0


def _hour_closed(args: argparse.Namespace) -> int:
    from shopstream import lake

    closed = lake.hour_is_closed(_settings(args.profile), args.entity, args.hour)
    wm = lake.watermark(_settings(args.profile), args.entity)
    print(
        json.dumps(
            {
                "entity": args.entity,
                "hour": format_hour(args.hour),
                "closed": closed,
                "watermark": wm.isoformat() if wm else None,
            }
        )
    )
    return CLOSED if closed else NOT_CLOSED


def _vacuum(args: argparse.Namespace) -> int:
    """VACUUM one bronze table here, through the same library function jobs/run_vacuum.py wraps on EMR."""
    settings = _settings(args.profile)
    vacuum_args(profile=settings.profile, entity=args.entity, retention_hours=args.retention_hours,
                run_id=args.run_id)  # fmt: skip
    from shopstream import lake
    from shopstream.hourly.compact import vacuum
    from shopstream.spark import session

    spark = session(settings, f"shopstream-vacuum-{args.entity}")
    try:
        vacuum(spark, lake.bronze_path(settings, args.entity), args.retention_hours)
    finally:
        spark.stop()
    print(json.dumps({"vacuum": args.entity, "retention_hours": args.retention_hours, "run_id": args.run_id}))
    return 0


def _ledger_summary(args: argparse.Namespace) -> int:
    """Per hour and entity of one UTC day: the ledger's latest counts and what does not reconcile."""
    from shopstream import ledger

    settings = _settings(args.profile)
    hours = previous_day_hours(args.day)
    summary: dict[str, Any] = {"day": f"{args.day:%Y-%m-%d}", "hours": {}, "problems": [], "missing": []}
    for hour in hours:
        entries = ledger.latest(settings, hour)
        key = format_hour(hour)
        seen = {e.entity for e in entries}
        summary["missing"] += [f"{key} {entity}" for entity in entities() if entity not in seen]
        if entries:
            summary["hours"][key] = {f"{e.entity}.{e.stage}": e.row_count for e in entries}
            summary["problems"] += [f"{key} {p}" for p in ledger.differences(entries)]
    print(json.dumps(summary, sort_keys=True))
    return 1 if summary["problems"] else 0


def _dag_test(args: argparse.Namespace) -> int:
    """One DAG run with ``dag.test()`` (run by the Airflow virtualenv's interpreter).

    For the hourly DAGs ``--hour H`` means data_interval_start = H: a manual run's data interval
    is the last complete one before its logical date, so the logical date passed is H + 1h.
    The last stdout line is JSON: ``{"dag_id", "run_id", "state", "data_interval_start", "tasks"}``.
    """
    dags = Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER") or REPO_ROOT / "airflow" / "dags")
    if str(dags) not in sys.path:
        sys.path.insert(0, str(dags))  # what Airflow's own processes do for the DAG bundle
    from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags), include_examples=False)
    if bag.import_errors:
        print(json.dumps({"import_errors": bag.import_errors}))
        return 2
    if args.dag_id not in bag.dags:
        print(json.dumps({"error": f"no DAG {args.dag_id!r}; have {sorted(bag.dags)}"}))
        return 2
    dag = bag.dags[args.dag_id]
    if dag.start_date and args.hour < dag.start_date:
        print(
            json.dumps(
                {
                    "error": f"{format_hour(args.hour)} is before {args.dag_id}'s start_date "
                    f"{dag.start_date.isoformat()}: Airflow would create no task"
                }
            )
        )
        return 2
    period = timedelta(days=1) if args.dag_id == "shopstream_maintenance" else timedelta(hours=1)
    dr = dag.test(logical_date=args.hour + period, mark_success_pattern=args.mark_success)
    print(
        json.dumps(
            {
                "dag_id": dag.dag_id,
                "run_id": dr.run_id,
                "state": str(dr.state),
                "data_interval_start": dr.data_interval_start.isoformat(),
                "tasks": {ti.task_id: str(ti.state) for ti in dr.get_task_instances()},
            }
        )
    )
    return 0 if str(dr.state) == "success" else 1


def _day_arg(text: str) -> datetime:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"day {text!r} is not a date like 2026-11-24") from None
    return day


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m shopstream.orchestration", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one batch step for one (entity, hour)")
    run.add_argument("--step", required=True, choices=STEPS)
    run.add_argument("--dry-run", action="store_true", help="print the command (JSON) instead of running it")
    run.add_argument(
        "--via",
        choices=("library", "spark-submit"),
        default=os.environ.get("SHOPSTREAM_LOCAL_SPARK_VIA", "library"),
        help="how compact/export run here: shopstream.batch.run_step (default) or the EMR command line",
    )
    closed = sub.add_parser("hour-closed", help="exit 0 when the stream closed the hour, 3 when not yet")
    fix = sub.add_parser(
        "corrections", help="re-run the hours before --hour whose bronze changed (late events)"
    )
    vac = sub.add_parser("vacuum", help="VACUUM one bronze table (jobs/run_vacuum.py) within retention")
    vac.add_argument("--retention-hours", type=int, default=VACUUM_MIN_RETENTION_HOURS)
    vac.add_argument("--run-id", required=True)
    summary = sub.add_parser("ledger-summary", help="the ledger of one UTC day; exit 1 if an hour differs")
    summary.add_argument("--day", required=True, type=_day_arg, help="UTC day, e.g. 2026-11-24")
    summary.add_argument("--profile", default=None, choices=("local", "aws"))
    dt = sub.add_parser("dag-test", help="one DAG run with dag.test() (inside the Airflow virtualenv)")
    dt.add_argument("dag_id")
    dt.add_argument("--hour", required=True, type=hour_arg, help="data_interval_start, e.g. 2026-11-24T10")
    dt.add_argument(
        "--mark-success", default=None, help="regex of task ids to mark success instead of running"
    )
    for sp in (run, closed, vac, fix):
        sp.add_argument("--profile", default=None, choices=("local", "aws"))
        sp.add_argument("--entity", required=True, choices=entities())
    for sp in (run, closed, fix):
        sp.add_argument("--hour", required=True, type=hour_arg, help="UTC hour, e.g. 2026-11-24T10")
    for sp in (run, fix):
        sp.add_argument("--run-id", required=True)
    args = p.parse_args(argv)
    handlers = {
        "run": _run,
        "hour-closed": _hour_closed,
        "corrections": _corrections,
        "vacuum": _vacuum,
        "ledger-summary": _ledger_summary,
        "dag-test": _dag_test,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
