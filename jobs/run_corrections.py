"""spark-submit entry point of the hourly late-hour corrections.

It only hands argv to ``shopstream.hourly.corrections.main``.

    spark-submit jobs/run_corrections.py --profile aws --entity orders --hour 2026-11-24T10 --run-id r1

The logic lives in the installed ``shopstream`` package (the wheel on EMR); nothing imports this file.
"""

from __future__ import annotations

import sys

from shopstream.hourly.corrections import main

if __name__ == "__main__":
    sys.exit(main())
