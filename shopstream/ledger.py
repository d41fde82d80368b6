"""The reconciliation ledger: per (hour, entity, stage) counts and checksums, one row per run.

Stages, in pipeline order: ``kafka`` (valid distinct events of the hour in the topic),
``bronze``, ``quarantine`` (informational: not compared), ``warehouse_deadletter`` (bronze rows
the warehouse cannot load, set aside by the export; subtracted from bronze), ``warehouse``,
``mart`` (the hour's
total), then ``opensearch`` and ``archive`` when those paths run. A closed hour reconciles when
every compared stage's latest count equals bronze's (and checksums match where both have one).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shopstream.config import Settings
from shopstream.mart import connect

STAGES = (
    "kafka",
    "bronze",
    "quarantine",
    "warehouse_deadletter",
    "warehouse",
    "mart",
    "opensearch",
    "archive",
)
# informational: not compared. ``warehouse_deadletter`` (bronze rows the warehouse cannot load,
# which the export set aside) is subtracted from bronze before every comparison instead.
INFORMATIONAL = {"quarantine", "warehouse_deadletter"}


@dataclass(frozen=True)
class Entry:
    hour_start: datetime
    entity: str
    stage: str
    row_count: int
    checksum: int | None
    run_id: str
    is_correction: bool
    recorded_at: datetime | None = None


def record(settings: Settings, entries: list[Entry]) -> None:
    """Append one row per entry (a run's stages)."""
    with connect(settings) as conn, conn.cursor() as cur:
        for e in entries:
            cur.execute(
                "insert into ledger (hour_start, entity, stage, row_count, checksum, run_id, is_correction) "
                "values (%s, %s, %s, %s, %s, %s, %s)",
                (e.hour_start, e.entity, e.stage, e.row_count, e.checksum, e.run_id, e.is_correction),
            )
        conn.commit()


def latest(settings: Settings, hour: datetime, entity: str | None = None) -> list[Entry]:
    """The latest entry of each (entity, stage) for one hour."""
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "select distinct on (entity, stage) hour_start, entity, stage, row_count, checksum, run_id, "
            "is_correction, recorded_at from ledger "
            "where hour_start = %s and (%s::text is null or entity = %s) "
            "order by entity, stage, recorded_at desc, ledger_id desc",
            (hour, entity, entity),
        )
        rows = [Entry(*r) for r in cur.fetchall()]
    order = {s: i for i, s in enumerate(STAGES)}
    return sorted(rows, key=lambda e: (e.entity, order.get(e.stage, 99)))


def latest_stage(
    settings: Settings, entity: str, stage: str, start: datetime, end: datetime
) -> dict[datetime, Entry]:
    """The latest ``stage`` entry of every hour in [start, end) that has one (one indexed query:
    its cost follows the window, not the ledger's length)."""
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "select distinct on (hour_start) hour_start, entity, stage, row_count, checksum, run_id, "
            "is_correction, recorded_at from ledger "
            "where hour_start >= %s and hour_start < %s and entity = %s and stage = %s "
            "order by hour_start, recorded_at desc, ledger_id desc",
            (start, end, entity, stage),
        )
        return {e.hour_start: e for e in (Entry(*r) for r in cur.fetchall())}


def runs(settings: Settings, hour: datetime, entity: str) -> list[Entry]:
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "select hour_start, entity, stage, row_count, checksum, run_id, is_correction, recorded_at "
            "from ledger where hour_start = %s and entity = %s order by recorded_at, ledger_id",
            (hour, entity),
        )
        return [Entry(*r) for r in cur.fetchall()]


def compared_stages(settings: Settings) -> set[str]:
    """Stages compared with bronze: the always-on path plus the optional paths that run."""
    stages = {"kafka", "warehouse", "mart"}
    if settings.ledger.opensearch:
        stages.add("opensearch")
    if settings.ledger.archive:
        stages.add("archive")
    return stages


def differences(entries: list[Entry], compare: set[str] | None = None) -> list[str]:
    """What does not reconcile, one line per problem (empty = the hour reconciles).

    ``compare`` limits the stages checked against bronze (default: every stage present)."""
    problems = []
    by_entity: dict[str, dict[str, Entry]] = {}
    for e in entries:
        by_entity.setdefault(e.entity, {})[e.stage] = e
    for entity, stages in sorted(by_entity.items()):
        bronze = stages.get("bronze")
        if bronze is None:
            problems.append(f"{entity}: no bronze entry")
            continue
        dead = stages.get("warehouse_deadletter")
        ref = bronze
        if dead is not None and dead.row_count:
            ref = replace(
                bronze,
                row_count=bronze.row_count - dead.row_count,
                checksum=None
                if bronze.checksum is None or dead.checksum is None
                else bronze.checksum - dead.checksum,
            )
        for stage, e in stages.items():
            if stage == "bronze" or stage in INFORMATIONAL or (compare is not None and stage not in compare):
                continue
            if e.row_count != ref.row_count:
                problems.append(
                    f"{entity}: {stage} has {e.row_count} rows, bronze {ref.row_count} "
                    f"(difference {e.row_count - ref.row_count:+d})"
                )
            elif e.checksum is not None and ref.checksum is not None and e.checksum != ref.checksum:
                problems.append(f"{entity}: {stage} checksum {e.checksum} != bronze {ref.checksum}")
    return problems
