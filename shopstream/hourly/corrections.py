"""The late-hour corrections of one hourly run as a Spark entry point (``jobs/run_corrections.py``).

Hours before ``--hour`` (within the late window) whose bronze changed after they were processed —
late events — are re-run through every step, exactly as ``shopstream batch run`` does before its
own hour. Finding them recounts suspect hours with Spark, so on AWS this runs where Spark is: an
EMR step after the hour's reconcile (the hourly DAG's ``submit_corrections``); the local target
runs the same function in the project's virtualenv (``python -m shopstream.orchestration
corrections``).

    spark-submit jobs/run_corrections.py --profile aws --entity orders --hour 2026-11-24T10 --run-id r1

The last line printed is JSON: ``{"entity", "before", "corrected": [hours]}``. Exit code 1 with
one line when a corrected hour fails a step (e.g. it does not reconcile).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shopstream import batch, config, mart
from shopstream.batch import BatchError
from shopstream.config import Settings
from shopstream.hourly.args import hourly_parser
from shopstream.hours import format_hour


def correct(
    settings: Settings, entity: str, before: datetime, run_id: str, report: Callable[[str], None] = print
) -> dict[str, Any]:
    """Re-run every late-changed hour before ``before``; returns the JSON summary."""
    batch.check_run_id(run_id)
    mart.ensure_schema(settings)
    runner = batch.Runner(settings, run_id)
    try:
        results = batch.correct_late_hours(settings, runner, entity, before, report)
    finally:
        if runner._spark is not None and runner.owns_spark:
            runner._spark.stop()
    hours = sorted({format_hour(r["hour"]) for r in results})
    return {"entity": entity, "before": format_hour(before), "corrected": hours}


def main(argv: list[str] | None = None) -> int:
    """spark-submit entry point (the arguments of every hourly step)."""
    args = hourly_parser("Re-run the hours before --hour whose bronze changed (late events).").parse_args(
        argv
    )
    settings = config.load(args.profile)
    try:
        out = correct(settings, args.entity, args.hour, args.run_id)
    except BatchError as exc:
        print(f"corrections: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
