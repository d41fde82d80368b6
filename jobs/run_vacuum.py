"""spark-submit entry point of the maintenance VACUUM step.

It only hands argv to ``shopstream.maintenance.main``.

    spark-submit jobs/run_vacuum.py --profile aws --entity orders --retention-hours 168 --run-id r1

The logic lives in the installed ``shopstream`` package (the wheel on EMR); nothing imports this file.
"""

from __future__ import annotations

import sys

from shopstream.maintenance import main

if __name__ == "__main__":
    sys.exit(main())
