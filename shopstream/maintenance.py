"""VACUUM a bronze table (spark-submit entry point for the daily maintenance DAG).

Never below 7 days of retention (time travel and stream recovery need it): a smaller
``--retention-hours`` is refused with exit code 2.

    spark-submit jobs/vacuum.py --profile aws --entity orders --retention-hours 168 --run-id r1
"""

from __future__ import annotations

import argparse
import sys

from shopstream import config
from shopstream.contract import entities
from shopstream.hourly.compact import MIN_VACUUM_HOURS, vacuum
from shopstream.lake import bronze_path
from shopstream.spark import session


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="VACUUM a bronze table within its retention.")
    p.add_argument("--profile", default=None, help="configuration profile (conf/<profile>.yaml)")
    p.add_argument("--entity", required=True, choices=entities(), help="which bronze table")
    p.add_argument("--retention-hours", type=int, default=MIN_VACUUM_HOURS, help="at least 168 (7 days)")
    p.add_argument("--run-id", required=True, help="the maintenance run id")
    args = p.parse_args(argv)
    if args.retention_hours < MIN_VACUUM_HOURS:
        p.error(f"--retention-hours {args.retention_hours} is below the minimum {MIN_VACUUM_HOURS}")

    settings = config.load(args.profile)
    spark = session(settings, f"shopstream-vacuum-{args.entity}")
    vacuum(spark, bronze_path(settings, args.entity), args.retention_hours)
    print(f"vacuum {args.entity}: retained {args.retention_hours}h ({args.run_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
