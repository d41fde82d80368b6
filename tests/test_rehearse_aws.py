"""The AWS half, rehearsed from the artifacts Terraform deploys (tools/rehearse_aws.py).

Slow (a fresh virtualenv installs the wheel's pinned requirements, two Spark jobs per entity):
``make rehearse-aws`` runs only this test and prints the table.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
AIRFLOW_PY = Path(os.environ.get("SHOPSTREAM_AIRFLOW_VENV") or REPO / ".venv-airflow") / "bin" / "python"


# a fresh virtualenv and five Spark jobs: ~15 min on two shared cores (the suite's default is 900 s)
@pytest.mark.timeout(3600)
def test_every_aws_entry_point_runs_from_the_deployed_artifacts(stack, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    from tools.rehearse_aws import Rehearsal, keep_or_remove, rehearsal_hour, table

    work = tmp_path_factory.mktemp("rehearse-aws")
    assert not work.resolve().is_relative_to(REPO), "the rehearsal must run outside the repository"
    r = Rehearsal(stack, work, airflow_python=AIRFLOW_PY)
    hour = rehearsal_hour(r.tag)
    t0 = time.monotonic()
    try:
        rows = r.rehearse(hour)
    finally:
        print(
            f"\nrehearsal of {hour:%Y-%m-%dT%H} in {work} ({time.monotonic() - t0:.0f} s)\n" + table(r.rows)
        )
    results = {r.entry_point: r.result for r in rows}
    assert results["reconciliation"].startswith("0 difference")
    # late events of the hour, sent after it reconciled: the next run's corrections step re-ran it
    assert rows[-1].entry_point == "late hour corrected" and rows[-1].result.startswith("0 difference")
    # only dnf and sudo were shimmed, and the bootstrap used them as on Amazon Linux
    recorded = (work / "shims.log").read_text().splitlines()
    assert {line.split()[0] for line in recorded} == {"dnf", "sudo"}
    assert any(line.startswith("dnf install") for line in recorded)
    keep_or_remove(work)
