"""spark-submit entry point of the long-running stream step (Kafka -> Delta bronze).

It only hands argv to ``shopstream.ingest.stream.main``.

    spark-submit jobs/run_stream.py --profile aws [--available-now]

The logic lives in the installed ``shopstream`` package (the wheel on EMR); nothing imports this file.
"""

from __future__ import annotations

import sys

from shopstream.ingest.stream import main

if __name__ == "__main__":
    sys.exit(main())
