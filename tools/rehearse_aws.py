"""Rehearse every AWS entry point from the artifacts Terraform deploys, against the local stack.

``make rehearse-aws`` (and ``tests/test_rehearse_aws.py``) runs, in a fresh directory outside the
repository:

1. **artifacts** — ``tools.artifacts.build``: the wheel, its pinned requirements and the EMR jar
   set, uploaded with the entry points and the **rendered bootstrap** to an artifacts bucket on
   the local S3 API, under the keys the EMR module uses.
2. **bootstrap** — that rendered script, run by bash with the AWS CLI pointed at the local S3
   API; it creates a fresh virtualenv and installs the wheel (sha256-checked) and requirements.
   Only ``dnf`` and ``sudo`` (Amazon Linux only) are shims that record their arguments.
3. **stream step** — the cluster step Terraform defines (``spark_steps.json``) with
   ``--available-now``, in the bootstrap's virtualenv, with Terraform's rendered step
   environment whose endpoints point at the local stack.
4. **dag.test(aws)** — the hourly DAG parsed for the aws target submits its steps to the local
   S3 API's EMR endpoint (moto); the sensors, which moto's never-finishing steps cannot satisfy,
   and the worker steps (run in 5) are marked success.
5. **hourly run** — exactly the Args the DAG submitted (compact, export, reconcile) and the
   worker commands of load and aggregate, in the DAG's order; the hour must reconcile to zero.

What differs from EMR, and only that (the table's "environment source" says which applies):
``spark-submit`` is the virtualenv's (pyspark) in local mode instead of EMR's on YARN in cluster
mode; the script ``s3://…/jobs/run_<step>.py`` is fetched with the AWS CLI first; Delta,
hadoop-aws and the AWS SDK, which EMR's own spark-defaults put on the classpath, come from the
local jar cache; ``/opt/shopstream`` is a folder of the rehearsal. Endpoints are the local
stack's: Kafka in PLAINTEXT, the S3 API, PostgreSQL standing in for RDS and Redshift, no
OpenSearch or archive stage, Delta's plain S3 LogStore (its DynamoDB LogStore jar is not resolvable here),
the Spark UI off (it would bind every interface).

This module drives those steps in order (:class:`Rehearsal`); each step's work lives in
:mod:`tools.rehearsal` (workspace, deploy, node, emr_api, checks).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shopstream import orchestration as orch
from shopstream.submit import ENTRY_POINTS, HOURLY_EMR_STEPS, stream_emr_step
from tools.rehearsal.checks import check_corrected, check_ledger
from tools.rehearsal.deploy import bootstrap, publish
from tools.rehearsal.emr_api import airflow_setup, dag_test
from tools.rehearsal.node import emr_argv, spark_env, worker_env
from tools.rehearsal.workspace import (
    REPO,
    RehearsalError,
    Row,
    Workspace,
    keep_or_remove,
    rehearsal_hour,
    table,
)

__all__ = ["Rehearsal", "RehearsalError", "Row", "keep_or_remove", "rehearsal_hour", "table"]


class Rehearsal(Workspace):
    """One rehearsal against a running local stack (``settings``: its local profile): the steps
    of the module docstring, in order, each a row of :attr:`rows`."""

    def produce(self, hour: datetime, count: int, *, late: bool = False) -> None:
        """Events of ``hour`` (and past its end, so the watermark closes it) into the local Kafka;
        ``late``: ``count`` more events inside ``hour`` only (new ids), sent after it was processed."""
        env = {**os.environ, "SHOPSTREAM_PROFILE": "local"}
        seed = int(self.tag, 16) % 2**31 + (1 if late else 0)
        start, step_ms = (hour + timedelta(minutes=5), 1000) if late else (hour, int(80 * 60 / count * 1000))
        argv = [sys.executable, "-m", "shopstream", "produce", "--count", str(count), "--seed",
                str(seed), "--start-time", start.isoformat(), "--time-step", f"{step_ms}ms",
                "--no-progress"]  # fmt: skip
        if late:  # one sign-up, then orders only (the default sends 100 sign-ups first)
            argv += ["--initial-users", "1", "--users-per-loop", "0", "--ratio-order-user", "1"]
        self.run(argv, env, REPO, "produce-late" if late else "produce")

    def rehearse(self, hour: datetime, count: int = 400, entity: str = "orders", late: int = 40) -> list[Row]:
        """Everything above for one hourly run (the DAG ``shopstream_hourly_<entity>`` for ``hour``),
        then ``late`` events of ``hour`` sent after it reconciled: the next hour's run corrects it."""
        node = self.work / "node"
        self.timed(
            "producer (local stack)", "repository .venv", "local profile", lambda: self.produce(hour, count)
        )
        published = self.timed(
            "artifacts", "dist/ wheel, requirements, jars", "tools/artifacts.py", lambda: publish(self)
        )
        wheel = published["wheel"].name
        self.timed("EMR bootstrap", "bootstrap/install-shopstream.sh", "rendered templatefile + local S3 API",
                   lambda: (bootstrap(self), "ok")[1])  # fmt: skip
        stream = stream_emr_step(self.artifacts_uri)
        expected_stream = [
            a.replace(published["spec"]["artifacts_placeholder"], self.artifacts_uri)
            for a in published["spec"]["stream_step"]["HadoopJarStep"]["Args"]
        ]
        if stream["HadoopJarStep"]["Args"] != expected_stream:
            raise RehearsalError("the stream step differs from spark_steps.json (Terraform's)")
        env = spark_env(self, node)
        stream_argv = [*emr_argv(self, expected_stream, node), "--available-now"]
        self.timed(
            "stream (jobs/run_stream.py)", wheel, "TF local.env (emr) + local endpoints",
            lambda: self.run(stream_argv, env, node, "stream"),
        )  # fmt: skip
        airflow_setup(self)
        submitted = self.timed(
            "dag.test (aws target)", "airflow/dags", "EMR API on the local S3 API (moto)",
            lambda: dag_test(self, hour, entity, skip=r"wait_.*|load|aggregate"),
        )  # fmt: skip
        self.hourly_run(hour, entity, submitted, env, node, wheel)
        before = self.timed(
            "reconciliation", "ledger (mart)", "aws profile", lambda: check_ledger(self, hour, env, entity)
        )
        if late:
            # late events of the hour, after it reconciled: the stream lands them in bronze, and the
            # next hour's run (its corrections EMR step, as the DAG submits it) re-runs the hour
            self.timed(f"producer: {late} late events", "repository .venv", "local profile",
                       lambda: self.produce(hour, late, late=True))  # fmt: skip
            self.timed(
                "stream again (late events)", wheel, "TF local.env (emr) + local endpoints",
                lambda: self.run(stream_argv, env, node, "stream-late"),
            )  # fmt: skip
            after = hour + timedelta(hours=1)
            fix = self.timed(
                f"dag.test (aws target) {after:%H}:00", "airflow/dags", "EMR API on the local S3 API (moto)",
                lambda: dag_test(self, after, entity, skip="(?!submit_corrections$).*"),
            )  # fmt: skip
            args = fix[entity]["corrections"]["Args"]
            self.timed(
                f"corrections {entity} (EMR step)", "jobs/run_corrections.py",
                "TF local.env (emr) + local endpoints",
                lambda: self.run(emr_argv(self, args, node), env, node, f"corrections-{entity}"),
            )  # fmt: skip
            self.timed("late hour corrected", "ledger (mart)", "aws profile",
                       lambda: check_corrected(self, hour, env, entity, before, late))  # fmt: skip
        return self.rows

    def hourly_run(
        self, hour: datetime, entity: str, submitted: dict[str, dict[str, Any]], env: Mapping[str, str],
        node: Path, wheel: str,
    ) -> None:  # fmt: skip
        """The DAG's steps in its order: the Args it submitted to EMR, the worker's commands."""
        steps = submitted[entity]
        worker_python = str(self.install_dir / "venv" / "bin" / "python")
        for step in (*orch.STEPS, *(s for s in HOURLY_EMR_STEPS if s not in orch.STEPS)):
            if step in HOURLY_EMR_STEPS:
                args = steps[step]["Args"]
                self.timed(
                    f"{step} {entity} (EMR step)", ENTRY_POINTS[step], "TF local.env (emr) + local endpoints",
                    lambda a=args, s=step: self.run(emr_argv(self, a, node), env, node, f"{s}-{entity}"),
                )  # fmt: skip
            else:
                argv = orch.runner_argv(worker_python, step, profile="aws", entity=entity, hour=hour,
                                        run_id=steps["run_id"])  # fmt: skip
                self.timed(
                    f"{step} {entity} (Airflow worker)", wheel, "TF local.env + local endpoints",
                    lambda a=argv, s=step: self.run(a, worker_env(self, env), node, f"{s}-{entity}"),
                )  # fmt: skip
