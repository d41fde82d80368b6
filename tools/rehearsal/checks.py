"""What must hold after the rehearsal's runs, read from the mart's ledger: the hour reconciles
across the stages the aws profile compares, and the late events' hour was corrected."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from shopstream import config, ledger
from tools.rehearsal.workspace import RehearsalError, Workspace


def check_ledger(ws: Workspace, hour: datetime, env: Mapping[str, str], *entities: str) -> str:
    """``0 difference (<entity> <events>, …)`` when every entity's ``hour`` reconciles."""
    aws = config.load("aws", environ=dict(env))  # which stages the aws run compares
    out = []
    for entity in entities:
        entries = ledger.latest(ws.settings, hour, entity)  # the same mart, read from here
        stages = {e.stage: e.row_count for e in entries}
        problems = ledger.differences(entries, ledger.compared_stages(aws))
        if problems or not {"kafka", "bronze", "warehouse", "mart"} <= set(stages):
            raise RehearsalError(f"{entity} {hour:%Y-%m-%dT%H} does not reconcile: {problems or stages}")
        if stages["kafka"] == 0:
            raise RehearsalError(f"{entity} {hour:%Y-%m-%dT%H}: no events reached the hour")
        out.append(f"{entity} {stages['kafka']}")
    return "0 difference (" + ", ".join(out) + ")"


def check_corrected(
    ws: Workspace, hour: datetime, env: Mapping[str, str], entity: str, before: str, late: int
) -> str:
    """The corrections step re-ran ``hour``, which now reconciles with more events than before."""
    log = (ws.work / "logs" / f"corrections-{entity}.log").read_text().splitlines()
    result = json.loads([ln for ln in log if ln.startswith('{"entity"')][-1])
    if f"{hour:%Y-%m-%dT%H}" not in result["corrected"]:
        raise RehearsalError(f"the corrections step did not re-run {hour:%Y-%m-%dT%H}: {result}")
    now = check_ledger(ws, hour, env, entity)
    n_before = int(before.rsplit(" ", 1)[-1].rstrip(")"))
    n_after = int(now.rsplit(" ", 1)[-1].rstrip(")"))
    if n_after <= n_before:  # the late events are of every entity: some of them are this one's
        raise RehearsalError(f"{entity} {hour:%Y-%m-%dT%H}: still {n_after} events after the late ones")
    return f"{now}, was {n_before}"
