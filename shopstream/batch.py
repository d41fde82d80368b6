"""The hourly batch: compact → export → load → aggregate → reconcile, for one (entity, hour).

Every step is idempotent for (entity, hour) and raises on failure; the same functions run
from ``shopstream batch run``, from Airflow's local target, and (the Spark steps) as the
spark-submit entry points ``jobs/run_compact.py`` / ``jobs/run_export.py`` on EMR.

Late data: before an hour is processed, ``late_hours`` compares bronze's current count and
checksum of recent hours with the ledger's ``bronze`` entries; an hour that changed after it
was processed is processed again (a correction, marked in the ledger).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shopstream import ledger, mart
from shopstream.archive.reader import ledger_count
from shopstream.config import Settings
from shopstream.contract import check_entity, load_contract
from shopstream.contract import entities as contract_entities
from shopstream.hourly.args import STEPS
from shopstream.hourly.compact import compact_hour
from shopstream.hourly.export import EXPORT_CONF, checksum_expr, export_hour, run_path
from shopstream.lake import bronze_path, hour_file_stats, quarantine_path
from shopstream.realtime import count_by_hour
from shopstream.recount import Recount, recount_hour
from shopstream.spark import session
from shopstream.warehouse import warehouse
from shopstream.warehouse_schema import TABLES

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LATE_WINDOW_HOURS = 24


class BatchError(Exception):
    """A step failed; the message says which step, entity and hour."""


class ReconcileError(BatchError):
    """The hour does not reconcile: some stage's count differs from bronze."""


class BatchInputError(ValueError):
    """A run id or an hour the batch refuses before doing anything (the CLI: exit 2)."""


# A run id names export folders and object keys and is written into SQL: letters, digits, _ . -
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,119}")


def new_run_id(hour: datetime) -> str:
    return f"{hour:%Y%m%dT%H}-{uuid.uuid4().hex[:8]}"


def check_run_id(run_id: str) -> str:
    """``run_id`` if it is safe as a path segment and a SQL literal, else BatchInputError."""
    if not RUN_ID_PATTERN.fullmatch(run_id) or ".." in run_id:
        raise BatchInputError(
            f"run id {run_id[:60]!r}: 1-120 letters, digits, '_', '.' or '-' "
            "(no path separators, quotes or '..'), starting with a letter or digit"
        )
    return run_id


def check_hour(hour: datetime, now: datetime | None = None) -> datetime:
    """``hour`` if it can hold events: from the contract's earliest event time to now."""

    earliest = load_contract().logical_types["timestamp"].earliest_time
    now = now or datetime.now(UTC)
    if earliest is not None and hour < earliest.replace(minute=0, second=0, microsecond=0):
        raise BatchInputError(
            f"hour {hour:%Y-%m-%dT%H} is before the contract's earliest event time {earliest:%Y-%m-%d}"
        )
    if hour > now:
        raise BatchInputError(f"hour {hour:%Y-%m-%dT%H} is in the future")
    return hour


@dataclass
class Runner:
    """Holds the SparkSession (created on first need) and the run's context."""

    settings: Settings
    run_id: str
    correction: bool = False
    report: Callable[[str], None] = lambda _m: None
    _spark: SparkSession | None = field(default=None, repr=False)
    owns_spark: bool = False
    topic_prefix: str = ""  # of the contract's topic names, as given to the producer and the stream

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            # pyspark loads with the first Spark step (the CLI and the ledger-only steps never need it)
            from pyspark.sql import SparkSession

            self.owns_spark = SparkSession.getActiveSession() is None
            self._spark = session(self.settings, "shopstream-batch", extra=EXPORT_CONF)
            for key, value in EXPORT_CONF.items():
                self._spark.conf.set(key, value)
        return self._spark

    def entry(
        self, hour: datetime, entity: str, stage: str, count: int, checksum: int | None
    ) -> ledger.Entry:
        return ledger.Entry(hour, entity, stage, count, checksum, self.run_id, self.correction)

    # --- steps ---------------------------------------------------------------------------
    def compact(self, entity: str, hour: datetime) -> dict[str, Any]:

        res = compact_hour(self.spark, bronze_path(self.settings, entity), hour)
        return {"files_before": res.files_before, "files_after": res.files_after, "rows": res.rows}

    def export(self, entity: str, hour: datetime) -> dict[str, Any]:

        res = export_hour(self.spark, self.settings, entity, hour, self.run_id)
        q = self.quarantine_count(entity, hour)
        ledger.record(
            self.settings,
            [
                self.entry(hour, entity, "bronze", res.rows, res.checksum),
                self.entry(hour, entity, "quarantine", q, None),
                self.entry(hour, entity, "warehouse_deadletter", res.dead_letters, res.dead_checksum),
            ],
        )
        return {
            "rows": res.rows,
            "dead_letters": res.dead_letters,
            "files": res.files,
            "manifest": res.manifest,
            "bronze_version": res.bronze_version,
        }

    def quarantine_count(self, entity: str, hour: datetime) -> int:
        from pyspark.sql.utils import AnalysisException

        try:
            q = self.spark.read.format("delta").load(quarantine_path(self.settings))
        except AnalysisException:  # no quarantine table yet: nothing was ever quarantined
            return 0
        return int(
            q.where(
                f"entity = '{entity}' AND event_date = '{hour:%Y-%m-%d}' AND event_hour = {hour.hour}"
            ).count()
        )

    def load(self, entity: str, hour: datetime) -> dict[str, Any]:

        wh = warehouse(self.settings)
        wh.ensure_schema()
        manifest = f"{run_path(self.settings.export_root, entity, hour, self.run_id)}/manifest.json"
        try:
            staged = wh.load_hour(entity, hour, manifest)
        except FileNotFoundError:
            raise BatchError(
                f"load {entity} {hour:%Y-%m-%dT%H}: no export for run {self.run_id} ({manifest}); "
                "run the export step first"
            ) from None
        [(count, checksum)] = wh.query("hour_checksum", {"hour_start": hour}, table=TABLES[entity])
        ledger.record(self.settings, [self.entry(hour, entity, "warehouse", int(count), int(checksum))])
        return {"staged": staged, "rows": int(count)}

    def aggregate(self, entity: str, hour: datetime) -> dict[str, Any]:

        name = "aggregate_signups" if entity == "users" else "aggregate_orders"
        rows = warehouse(self.settings).query(name, {"hour_start": hour})
        mart.replace_hour(self.settings, entity, hour, rows, self.run_id)
        total = mart.hour_total(self.settings, entity, hour) or 0
        ledger.record(self.settings, [self.entry(hour, entity, "mart", total, None)])
        return {"mart_rows": len(rows), "total": total}

    def kafka_recount(self, entity: str, hour: datetime) -> Recount:
        """Valid, distinct events of the hour in the topic, recounted from Kafka itself (only the
        offset ranges that can hold the hour: ``shopstream/recount.py``)."""

        return recount_hour(self.spark, self.settings, entity, hour, self.topic_prefix)

    def reconcile(self, entity: str, hour: datetime) -> dict[str, Any]:
        recount = self.kafka_recount(entity, hour)
        entries = [self.entry(hour, entity, "kafka", recount.count, recount.checksum)]
        os_count = opensearch_count(self.settings, entity, hour)
        if os_count is not None:
            entries.append(self.entry(hour, entity, "opensearch", os_count, None))
        archived = archive_count(self.settings, entity, hour)
        if archived is not None:
            entries.append(self.entry(hour, entity, "archive", archived, None))
        ledger.record(self.settings, entries)
        latest = ledger.latest(self.settings, hour, entity)
        problems = ledger.differences(latest, ledger.compared_stages(self.settings))
        if problems:
            raise ReconcileError(f"hour {hour:%Y-%m-%dT%H} does not reconcile: " + "; ".join(problems))
        return {**{stage.stage: stage.row_count for stage in latest}, "kafka_scanned": recount.scanned}

    def run_step(self, step: str, entity: str, hour: datetime) -> dict[str, Any]:
        if step not in STEPS:
            raise ValueError(f"unknown step {step!r}; allowed: {', '.join(STEPS)}")
        check_entity(entity)
        fn: Callable[[str, datetime], dict[str, Any]] = getattr(self, step)
        t0 = time.monotonic()
        try:
            out = fn(entity, hour)
        except BatchError:
            raise
        except Exception as exc:
            raise BatchError(
                f"{step} {entity} {hour:%Y-%m-%dT%H} failed: {type(exc).__name__}: {exc}"
            ) from exc
        out["seconds"] = round(time.monotonic() - t0, 2)
        self.report(
            f"{step:<9} {entity:<6} {hour:%Y-%m-%dT%H}  " + ", ".join(f"{k}={v}" for k, v in out.items())
        )
        return out


def opensearch_count(settings: Settings, entity: str, hour: datetime) -> int | None:
    """The real-time path's count for the hour, when the ledger compares that path."""
    if not settings.ledger.opensearch:
        return None

    return int(count_by_hour(settings, entity, hour))


def archive_count(settings: Settings, entity: str, hour: datetime) -> int | None:
    """The raw archive's count for the hour (valid distinct events), when the ledger compares it."""

    return ledger_count(settings, entity, hour)


def run_step(settings: Settings, step: str, entity: str, hour: datetime, run_id: str) -> dict[str, Any]:
    """One step for one (entity, hour) — the unit Airflow's local target calls."""

    check_hour(hour)
    check_run_id(run_id)
    mart.ensure_schema(settings)  # the ledger and mart tables exist before any step records
    return Runner(settings, run_id).run_step(step, entity, hour)


def late_hours(
    settings: Settings, runner: Runner, entity: str, before: datetime, window: int
) -> list[datetime]:
    """Already processed hours in [before - window, before) whose bronze changed since.

    Two reads that do not grow with the hours retained: the ledger's latest ``bronze`` entry of
    each hour in the window (one query) and the latest bronze snapshot's file statistics (rows
    per hour partition, no data read). Bronze only grows by appends (compaction rewrites keep
    the rows), so an hour whose row total still equals the distinct count the ledger recorded
    cannot have changed. Only the others — a late event arrived, or the hour already held
    duplicates when it was processed — are recounted exactly (distinct event_ids and checksum),
    each from its own partition.
    """
    from pyspark.sql import functions as F

    start = before - timedelta(hours=window)
    processed = ledger.latest_stage(settings, entity, "bronze", start, before)
    if not processed:
        return []
    rows = hour_file_stats(settings, bronze_path(settings, entity), start, before)
    suspects = [  # an hour without live files in this lake has nothing that could have changed
        hour for hour, prev in processed.items() if hour in rows and rows[hour] != prev.row_count
    ]
    out = []
    for hour in sorted(suspects):
        r = (
            runner.spark.read.format("delta")
            .load(bronze_path(settings, entity))
            .where((F.col("event_date") == F.lit(hour.date())) & (F.col("event_hour") == hour.hour))
            .agg(F.expr("count(distinct event_id)").alias("n"), F.expr(checksum_expr()).alias("c"))
            .collect()[0]
        )
        prev = processed[hour]
        if (prev.row_count, prev.checksum) != (int(r["n"]), int(r["c"])):
            out.append(hour)
    return out


def correct_late_hours(
    settings: Settings, runner: Runner, entity: str, before: datetime, report: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Re-run every step for the hours before ``before`` (within the late window) whose bronze
    changed after they were processed: the corrections of ``batch run`` and the hourly DAG."""
    results: list[dict[str, Any]] = []
    for late in late_hours(settings, runner, entity, before, LATE_WINDOW_HOURS):
        report(f"late data: {entity} {late:%Y-%m-%dT%H} changed after it was processed; correcting")
        fix = Runner(
            settings,
            new_run_id(late),
            correction=True,
            report=report,
            _spark=runner.spark,
            topic_prefix=runner.topic_prefix,
        )
        for step in STEPS:
            out = fix.run_step(step, entity, late)
            results.append({"step": step, "entity": entity, "hour": late, "correction": True, **out})
    return results


def run_hour(
    settings: Settings,
    hour: datetime,
    entities: Sequence[str] | None = None,
    steps: Sequence[str] = STEPS,
    run_id: str | None = None,
    report: Callable[[str], None] = lambda _m: None,
    catch_up_late: bool = True,
    topic_prefix: str = "",
) -> list[dict[str, Any]]:
    """Run the steps for each entity of one hour (plus corrections of late-changed hours);
    ``entities`` defaults to all of the contract's."""

    check_hour(hour)
    if run_id is not None:
        check_run_id(run_id)
    mart.ensure_schema(settings)
    runner = Runner(settings, run_id or new_run_id(hour), report=report, topic_prefix=topic_prefix)
    results = []
    try:
        for entity in contract_entities() if entities is None else entities:
            if catch_up_late and list(steps) == list(STEPS):
                results += correct_late_hours(settings, runner, entity, hour, report)
            for step in steps:
                results.append(
                    {"step": step, "entity": entity, "hour": hour, **runner.run_step(step, entity, hour)}
                )
    finally:
        if runner._spark is not None and runner.owns_spark:
            runner._spark.stop()
    return results


def hours_between(start: datetime, end: datetime) -> Iterable[datetime]:
    h = start
    while h <= end:
        yield h
        h += timedelta(hours=1)
