"""The three validators of the contract, run on the same Kafka records (tests only).

* Python: :func:`shopstream.validity.check_record` (``Contract.validate_record``);
* Spark: :func:`shopstream.ingest.bronze.transform_classify` on a DataFrame shaped like the
  Kafka source's rows;
* Ruby: ``logstash/pipeline/contract.rb`` under JRuby (the Ruby Logstash embeds, resolved by
  ``shopstream jars`` into ``<jars>/ruby``) through ``tests/ruby/contract_harness.rb``.

Each returns, per record, the reasons it was rejected (empty = accepted).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shopstream.contract import Contract
from shopstream.realtime import spec

REPO = Path(__file__).resolve().parent.parent
TOPICS = {"t.shopstream.users": "users", "t.shopstream.orders": "orders"}
BY_ENTITY = {v: k for k, v in TOPICS.items()}
# Kafka timestamp of every test record: in the past, so "ingest time" is this, whatever the clock
ARRIVAL = datetime(2026, 11, 24, 12, tzinfo=UTC)
ARRIVAL_MS = int(ARRIVAL.timestamp() * 1000)


@dataclass(frozen=True)
class Record:
    entity: str
    value: bytes | None
    key: bytes | None
    timestamp_ms: int = ARRIVAL_MS

    @property
    def timestamp(self) -> datetime:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=self.timestamp_ms)


def python_verdicts(contract: Contract, records: list[Record]) -> list[list[str]]:
    return [contract.validate_record(r.entity, r.value, key=r.key, timestamp=r.timestamp) for r in records]


def spark_frame(spark: Any, records: list[Record]) -> Any:
    data = [
        (r.key, r.value, BY_ENTITY[r.entity], i % 3, i, r.timestamp.replace(tzinfo=None))
        for i, r in enumerate(records)
    ]
    return spark.createDataFrame(
        data, "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
    )


def spark_verdicts(spark: Any, contract: Contract, records: list[Record]) -> list[list[str]]:
    from shopstream.ingest.bronze import transform_classify

    out = transform_classify(spark_frame(spark, records), contract, TOPICS)
    got = {r.kafka_offset: list(r.errors) for r in out.select("kafka_offset", "errors").collect()}
    return [got[i] for i in range(len(records))]


def jruby_jar(jars_dir: Path) -> Path | None:
    found = sorted((jars_dir / "ruby").glob("jruby-complete-*.jar"))
    return found[0] if found else None


class RubyValidator:
    """One JRuby process per call (startup ~10 s): feed many records at once."""

    def __init__(self, jar: Path, rules_dir: Path) -> None:
        self.jar = jar
        self.rules_dir = rules_dir

    @classmethod
    def for_contract(cls, jar: Path, contract: Contract, tmp: Path) -> RubyValidator:
        for entity in contract.entity_names:
            (tmp / f"contract-{entity}.json").write_text(json.dumps(spec.contract_rules(entity, contract)))
        return cls(jar, tmp)

    def verdicts(self, records: list[Record]) -> list[list[str]]:
        java = shutil.which("java") or "java"
        out: list[list[str] | None] = [None] * len(records)
        for entity in sorted({r.entity for r in records}):
            idx = [i for i, r in enumerate(records) if r.entity == entity]
            lines = "".join(
                json.dumps(
                    {
                        "value": None
                        if records[i].value is None
                        else base64.b64encode(records[i].value).decode(),
                        "key": None if records[i].key is None else base64.b64encode(records[i].key).decode(),
                        "ts": records[i].timestamp_ms,
                    }
                )
                + "\n"
                for i in idx
            )
            res = subprocess.run(
                [
                    java,
                    "-cp",
                    str(self.jar),
                    "org.jruby.Main",
                    str(REPO / "tests" / "ruby" / "contract_harness.rb"),
                    str(REPO / "logstash" / "pipeline" / "contract.rb"),
                    str(self.rules_dir / f"contract-{entity}.json"),
                ],
                input=lines,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if res.returncode != 0:
                raise RuntimeError(f"jruby failed ({res.returncode}): {res.stderr[-2000:]}")
            results = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
            assert len(results) == len(idx), res.stderr[-2000:]
            for i, r in zip(idx, results, strict=True):
                if "exception" in r:
                    raise AssertionError(f"contract.rb raised on {records[i]!r}: {r['exception']}")
                out[i] = [] if r["reason"] is None else [r["reason"]]
        return [o if o is not None else [] for o in out]
