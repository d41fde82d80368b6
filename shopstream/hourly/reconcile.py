"""The hourly reconcile step as a Spark entry point (it recounts the hour from Kafka with Spark, so
on AWS it runs where Spark is: an EMR step, ``jobs/run_reconcile.py``).

    spark-submit jobs/run_reconcile.py --profile local --entity users --hour 2026-11-24T10 --run-id r1

Exit code 1 with one line when the hour does not reconcile.
"""

from __future__ import annotations

import json
import sys

from shopstream import config
from shopstream.batch import BatchError, run_step
from shopstream.hourly.args import hourly_parser


def main(argv: list[str] | None = None) -> int:
    """spark-submit entry point: exactly what ``shopstream batch run --step reconcile`` does."""
    args = hourly_parser("Reconcile one hour of one entity (Kafka, bronze, warehouse, mart).").parse_args(
        argv
    )
    settings = config.load(args.profile)
    try:
        out = run_step(settings, "reconcile", args.entity, args.hour, args.run_id)
    except BatchError as exc:
        print(f"reconcile: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
