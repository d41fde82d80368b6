"""``python -m shopstream.orchestration``: the commands an Airflow task runs (one step, the hour
probe, corrections, VACUUM, the day's ledger summary, ``dag-test``).

The commands import what pulls pyspark or sqlglot (batch, mart, ledger, Spark) inside the
command: Airflow's own environment runs ``dag-test`` from here without those dependencies.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shopstream import config, lake
from shopstream.contract import entities
from shopstream.hourly.args import SPARK_STEPS, STEPS
from shopstream.hours import format_hour, hour_arg
from shopstream.orchestration import (
    CLOSED,
    NOT_CLOSED,
    REPO_ROOT,
    VACUUM_MIN_RETENTION_HOURS,
    local_spark_submit_argv,
    previous_day_hours,
    vacuum_args,
)
from shopstream.process_exit import exit_process


def _settings(profile: str | None) -> Any:
    return config.load(profile)


def _shorten(arg: str) -> str:
    """A spark-submit argument as the log shows it (the jar list is long and says nothing)."""
    for key in ("spark.jars=", "spark.driver.extraClassPath="):
        if arg.startswith(key):
            return key + "…"
    return arg


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
        if settings.profile == "local":  # the job's JVM starts with its java.io.tmpdir
            from shopstream.spark import local_tmp_dir

            local_tmp_dir(settings).mkdir(parents=True, exist_ok=True)
        print("+ " + " ".join(_shorten(a) for a in argv), flush=True)
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
    from shopstream.hourly.corrections import correct

    print(json.dumps(correct(_settings(args.profile), args.entity, args.hour, args.run_id)))
    return 0


def _hour_closed(args: argparse.Namespace) -> int:
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


def parser() -> argparse.ArgumentParser:
    """The commands' parser (the argv builders of ``shopstream.orchestration`` must satisfy it)."""
    p = argparse.ArgumentParser(
        prog="python -m shopstream.orchestration", description=(__doc__ or "").split("\n")[0]
    )
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
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
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
    # hour-closed and corrections read Delta logs with delta-rs, whose threads can abort the
    # interpreter's teardown after the answer was printed (the Airflow task saw exit -6)
    exit_process(main())
