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
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tools import tfrender
from tools.artifacts import build

REPO = Path(__file__).resolve().parent.parent
SHIMS = ("dnf", "sudo")  # the only commands replaced (README: "Rehearsing the AWS half")
EMR_PLATFORM_JARS = (
    "delta-spark_",
    "delta-storage-",
    "hadoop-aws-",
    "aws-java-sdk-bundle-",
    "wildfly-openssl-",
)


@dataclass
class Row:
    entry_point: str
    artifact: str
    environment: str
    result: str
    seconds: float


@dataclass
class Rehearsal:
    """One rehearsal against a running local stack (``settings``: its local profile)."""

    settings: Any
    work: Path
    airflow_python: Path | None = None
    rows: list[Row] = field(default_factory=list)
    cluster: str = ""
    airflow_env: dict[str, str] = field(default_factory=dict)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    # --- helpers --------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return str(self.settings.s3.endpoint_url)

    @property
    def bucket(self) -> dict[str, str]:
        return {k: f"rehearsal-{k}-{self.tag}" for k in ("artifacts", "lake", "export", "archive")}

    @property
    def artifacts_uri(self) -> str:
        return f"s3://{self.bucket['artifacts']}/emr"

    @property
    def install_dir(self) -> Path:
        return self.work / "opt" / "shopstream"

    def s3(self) -> Any:
        return self.s3_client("s3")

    def s3_client(self, service: str) -> Any:
        """A client of the local S3 API (moto: S3, EMR, Secrets Manager)."""
        from shopstream.aws import boto_client

        return boto_client(self.settings, service)

    def aws_env(self) -> dict[str, str]:
        """What the AWS CLI/SDK of a node sees: the local S3 API (and EMR API) instead of AWS."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": self.settings.s3.region,
        }

    def clean_env(self) -> dict[str, str]:
        """The machine's environment without this checkout's virtualenv or SHOPSTREAM_* settings."""
        venv_bin = str(Path(sys.executable).parent)
        path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
        keep = {
            k: v for k, v in os.environ.items() if not k.startswith(("SHOPSTREAM_", "PYTHON", "VIRTUAL_ENV"))
        }
        return {**keep, "PATH": path}

    @property
    def mart_secret(self) -> str:
        return f"rehearsal/{self.tag}/mart-password"

    def step_env(self) -> dict[str, str]:
        """Terraform's rendered step environment (terraform/modules/emr local.env), endpoints
        replaced by the local stack's. No password: the steps read the secret it names from
        Secrets Manager (the local S3 API's, :meth:`publish` stores it)."""
        s = self.settings
        env = tfrender.emr_step_env(
            {
                "mart_password_secret_name": self.mart_secret,
                "kafka_bootstrap_servers": s.kafka.bootstrap_servers,
                "lake_bucket": self.bucket["lake"],
                "export_bucket": self.bucket["export"],
                "archive_bucket": self.bucket["archive"],
                "region": s.s3.region,
                "postgres_host": s.postgres.host,
                "opensearch_url": s.opensearch.url,
            }
        )
        env.update(
            {
                "SHOPSTREAM_KAFKA__SECURITY_PROTOCOL": "PLAINTEXT",
                "SHOPSTREAM_S3__ENDPOINT_URL": self.endpoint,
                "SHOPSTREAM_POSTGRES__PORT": str(s.postgres.port),
                "SHOPSTREAM_POSTGRES__WAREHOUSE_DB": s.postgres.warehouse_db,
                "SHOPSTREAM_POSTGRES__MART_DB": s.postgres.mart_db,
                "SHOPSTREAM_WAREHOUSE__ENGINE": "postgres",
                "SHOPSTREAM_LEDGER__OPENSEARCH": "false",
                "SHOPSTREAM_LEDGER__ARCHIVE": "false",  # no Kafka Connect worker in the rehearsal
                "SHOPSTREAM_LAKE__LOG_STORE": "local",
                "SHOPSTREAM_SPARK__UI_ENABLED": "false",
                "SHOPSTREAM_STATE_DIR": str(self.work / "state"),
                "SPARK_LOCAL_IP": "127.0.0.1",
            }
        )
        return env

    def worker_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """An Airflow worker's step: the mart's Connection handed over as the profile's variable
        (shopstream.orchestration.connection_env), as the worker does; no Secrets Manager read."""
        from shopstream.credentials import postgres_password
        from shopstream.orchestration import connection_env

        return {**env, **connection_env(mart={"password": postgres_password(self.settings)})}

    def run(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log: str, timeout: float = 1800
    ) -> None:
        logfile = self.work / "logs" / f"{log}.log"
        logfile.parent.mkdir(parents=True, exist_ok=True)
        with logfile.open("w") as fh:
            res = subprocess.run(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if res.returncode != 0:
            tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-25:])
            raise RehearsalError(f"{log}: exit {res.returncode} ({logfile})\n{tail}")

    def timed(self, entry: str, artifact: str, environment: str, fn: Any) -> Any:
        t0 = time.monotonic()
        try:
            out = fn()
        except Exception as exc:
            self.rows.append(
                Row(entry, artifact, environment, f"FAILED: {str(exc).splitlines()[0]}", _since(t0))
            )
            raise
        self.rows.append(Row(entry, artifact, environment, out if isinstance(out, str) else "ok", _since(t0)))
        return out

    # --- 1. artifacts ---------------------------------------------------------------------------
    def publish(self) -> dict[str, Any]:
        s3 = self.s3()
        for name in self.bucket.values():
            s3.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.settings.s3.region}
            )
        from shopstream.credentials import postgres_password

        self.s3_client("secretsmanager").create_secret(
            Name=self.mart_secret, SecretString=postgres_password(self.settings)
        )
        built = build(self.work / "dist", rds_ca_bundle=stand_in_ca(self.work / "stand-in-rds-ca.pem"))
        wheel: Path = built["wheel"]
        spec = json.loads((REPO / "terraform" / "modules" / "emr" / "spark_steps.json").read_text())
        prefix = "emr"
        uploads = {
            f"{prefix}/wheels/{wheel.name}": wheel,
            f"{prefix}/wheels/requirements.txt": built["requirements"],
        }
        uploads |= {f"{prefix}/jars/{j.name}": j for j in sorted(built["jars"].glob("*.jar"))}
        uploads |= {f"{prefix}/{script}": REPO / script for script in spec["entry_points"].values()}
        uploads[f"{prefix}/certs/rds-global-bundle.pem"] = built["rds_ca_bundle"]
        import hashlib

        variables = {
            "artifacts_uri": self.artifacts_uri,
            "wheel_name": wheel.name,
            "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
            "rds_ca_sha256": hashlib.sha256(built["rds_ca_bundle"].read_bytes()).hexdigest(),
            "python_bin": "python3.11",
            "install_dir": str(self.install_dir),
        }
        if set(variables) != tfrender.bootstrap_var_names():
            raise RehearsalError(
                f"bootstrap inputs differ from Terraform's: {sorted(tfrender.bootstrap_var_names())}"
            )
        bootstrap = self.work / "install-shopstream.sh"
        bootstrap.write_text(tfrender.render_template(tfrender.EMR_BOOTSTRAP, variables))
        uploads[f"{prefix}/bootstrap/install-shopstream.sh"] = bootstrap
        for key, path in uploads.items():
            s3.upload_file(str(path), self.bucket["artifacts"], key)
        return {"wheel": wheel, "uploads": sorted(uploads), "spec": spec}

    # --- 2. bootstrap ---------------------------------------------------------------------------
    def bootstrap(self) -> Path:
        node = self.work / "node"
        shims = self.work / "shims"
        for d in (node, shims):
            d.mkdir(parents=True, exist_ok=True)
        record = self.work / "shims.log"
        (shims / "sudo").write_text(f'#!/bin/bash\necho "sudo $*" >> {record}\nexec "$@"\n')
        (shims / "dnf").write_text(f'#!/bin/bash\necho "dnf $*" >> {record}\n')
        for name in SHIMS:
            (shims / name).chmod(0o755)
        script = node / "install-shopstream.sh"
        s3 = self.s3()
        s3.download_file(self.bucket["artifacts"], "emr/bootstrap/install-shopstream.sh", str(script))
        env = self.clean_env()
        env.update(self.aws_env())
        env["PATH"] = f"{shims}{os.pathsep}{env['PATH']}"
        self.run(["bash", str(script)], env, node, "bootstrap", timeout=2400)
        python = self.install_dir / "venv" / "bin" / "python"
        if not python.is_file():
            raise RehearsalError(f"the bootstrap left no {python}")
        from shopstream.config import load
        from shopstream.submit import EMR_INSTALL_DIR

        # the CA bundle where the aws profile's postgres.ca_bundle points (install dir relocated)
        bundle = load("aws", environ=self.step_env()).postgres.ca_bundle
        here = Path(bundle.replace(EMR_INSTALL_DIR, str(self.install_dir), 1))
        if not bundle.startswith(EMR_INSTALL_DIR + "/") or not here.is_file():
            raise RehearsalError(f"the bootstrap installed no CA bundle at {bundle}")
        return python

    # --- running an EMR step here -----------------------------------------------------------------
    def emr_argv(self, args: Sequence[str], node: Path) -> list[str]:
        """An EMR step's Args as run here (see the module docstring for each replacement)."""
        from shopstream.submit import EMR_INSTALL_DIR

        if args[0] != "spark-submit":
            raise RehearsalError(f"not a spark-submit step: {args[:3]}")
        out = [str(self.install_dir / "venv" / "bin" / "spark-submit"), "--master", "local[2]"]
        rest = list(args[1:])
        if rest[:2] == ["--deploy-mode", "cluster"]:
            rest = rest[2:]
        for a in rest:
            a = a.replace(EMR_INSTALL_DIR, str(self.install_dir))
            if a.startswith(f"{self.artifacts_uri}/"):
                local = node / a.removeprefix(f"{self.artifacts_uri}/")
                local.parent.mkdir(parents=True, exist_ok=True)
                self.s3().download_file(
                    self.bucket["artifacts"], "emr/" + a.removeprefix(f"{self.artifacts_uri}/"), str(local)
                )
                a = str(local)
            out.append(a)
        return out

    def spark_env(self, node: Path) -> dict[str, str]:
        """The step environment plus what EMR's own spark-defaults provide (its Delta/S3 jars)."""
        conf_dir = node / "spark-conf"
        conf_dir.mkdir(parents=True, exist_ok=True)
        platform = sorted(
            str(p)
            for p in (self.settings.jars_dir / "spark").glob("*.jar")
            if p.name.startswith(EMR_PLATFORM_JARS)
        )
        cp = ":".join(platform)
        (conf_dir / "spark-defaults.conf").write_text(
            f"spark.driver.extraClassPath {cp}\nspark.executor.extraClassPath {cp}\n"
            "spark.driver.memory 1g\nspark.sql.shuffle.partitions 4\n"
        )
        env = self.clean_env()
        env.update(self.aws_env())
        env.update(self.step_env())
        env["SPARK_CONF_DIR"] = str(conf_dir)
        env["PYSPARK_PYTHON"] = str(self.install_dir / "venv" / "bin" / "python")
        return env

    # --- the whole rehearsal ---------------------------------------------------------------------
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
        from shopstream.submit import stream_emr_step

        node = self.work / "node"
        self.timed(
            "producer (local stack)", "repository .venv", "local profile", lambda: self.produce(hour, count)
        )
        published = self.timed(
            "artifacts", "dist/ wheel, requirements, jars", "tools/artifacts.py", lambda: self.publish()
        )
        wheel = published["wheel"].name
        self.timed("EMR bootstrap", "bootstrap/install-shopstream.sh", "rendered templatefile + local S3 API",
                   lambda: (self.bootstrap(), "ok")[1])  # fmt: skip
        stream = stream_emr_step(self.artifacts_uri)
        expected_stream = [
            a.replace(published["spec"]["artifacts_placeholder"], self.artifacts_uri)
            for a in published["spec"]["stream_step"]["HadoopJarStep"]["Args"]
        ]
        if stream["HadoopJarStep"]["Args"] != expected_stream:
            raise RehearsalError("the stream step differs from spark_steps.json (Terraform's)")
        env = self.spark_env(node)
        stream_argv = [*self.emr_argv(expected_stream, node), "--available-now"]
        self.timed(
            "stream (jobs/run_stream.py)", wheel, "TF local.env (emr) + local endpoints",
            lambda: self.run(stream_argv, env, node, "stream"),
        )  # fmt: skip
        self.airflow_setup()
        submitted = self.timed(
            "dag.test (aws target)", "airflow/dags", "EMR API on the local S3 API (moto)",
            lambda: self.dag_test(hour, entity, skip=r"wait_.*|load|aggregate"),
        )  # fmt: skip
        self.hourly_run(hour, entity, submitted, env, node, wheel)
        before = self.timed(
            "reconciliation", "ledger (mart)", "aws profile", lambda: self.check_ledger(hour, env, entity)
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
                lambda: self.dag_test(after, entity, skip="(?!submit_corrections$).*"),
            )  # fmt: skip
            args = fix[entity]["corrections"]["Args"]
            self.timed(
                f"corrections {entity} (EMR step)", "jobs/run_corrections.py",
                "TF local.env (emr) + local endpoints",
                lambda: self.run(self.emr_argv(args, node), env, node, f"corrections-{entity}"),
            )  # fmt: skip
            self.timed("late hour corrected", "ledger (mart)", "aws profile",
                       lambda: self.check_corrected(hour, env, entity, before, late))  # fmt: skip
        return self.rows

    def hourly_run(
        self, hour: datetime, entity: str, submitted: dict[str, dict[str, Any]], env: Mapping[str, str],
        node: Path, wheel: str,
    ) -> None:  # fmt: skip
        """The DAG's steps in its order: the Args it submitted to EMR, the worker's commands."""
        from shopstream import orchestration as orch
        from shopstream.submit import ENTRY_POINTS, HOURLY_EMR_STEPS

        steps = submitted[entity]
        worker_python = str(self.install_dir / "venv" / "bin" / "python")
        for step in (*orch.STEPS, *(s for s in HOURLY_EMR_STEPS if s not in orch.STEPS)):
            if step in HOURLY_EMR_STEPS:
                args = steps[step]["Args"]
                self.timed(
                    f"{step} {entity} (EMR step)", ENTRY_POINTS[step], "TF local.env (emr) + local endpoints",
                    lambda a=args, s=step: self.run(self.emr_argv(a, node), env, node, f"{s}-{entity}"),
                )  # fmt: skip
            else:
                argv = orch.runner_argv(worker_python, step, profile="aws", entity=entity, hour=hour,
                                        run_id=steps["run_id"])  # fmt: skip
                self.timed(
                    f"{step} {entity} (Airflow worker)", wheel, "TF local.env + local endpoints",
                    lambda a=argv, s=step: self.run(a, self.worker_env(env), node, f"{s}-{entity}"),
                )  # fmt: skip

    def check_corrected(
        self, hour: datetime, env: Mapping[str, str], entity: str, before: str, late: int
    ) -> str:
        """The corrections step re-ran ``hour``, which now reconciles with more events than before."""
        log = (self.work / "logs" / f"corrections-{entity}.log").read_text().splitlines()
        result = json.loads([ln for ln in log if ln.startswith('{"entity"')][-1])
        if f"{hour:%Y-%m-%dT%H}" not in result["corrected"]:
            raise RehearsalError(f"the corrections step did not re-run {hour:%Y-%m-%dT%H}: {result}")
        now = self.check_ledger(hour, env, entity)
        n_before = int(before.rsplit(" ", 1)[-1].rstrip(")"))
        n_after = int(now.rsplit(" ", 1)[-1].rstrip(")"))
        if n_after <= n_before:  # the late events are of every entity: some of them are this one's
            raise RehearsalError(f"{entity} {hour:%Y-%m-%dT%H}: still {n_after} events after the late ones")
        return f"{now}, was {n_before}"

    def check_ledger(self, hour: datetime, env: Mapping[str, str], *entities: str) -> str:
        from shopstream import config, ledger

        aws = config.load("aws", environ=dict(env))  # which stages the aws run compares
        out = []
        for entity in entities:
            entries = ledger.latest(self.settings, hour, entity)  # the same mart, read from here
            stages = {e.stage: e.row_count for e in entries}
            problems = ledger.differences(entries, ledger.compared_stages(aws))
            if problems or not {"kafka", "bronze", "warehouse", "mart"} <= set(stages):
                raise RehearsalError(f"{entity} {hour:%Y-%m-%dT%H} does not reconcile: {problems or stages}")
            if stages["kafka"] == 0:
                raise RehearsalError(f"{entity} {hour:%Y-%m-%dT%H}: no events reached the hour")
            out.append(f"{entity} {stages['kafka']}")
        return "0 difference (" + ", ".join(out) + ")"

    # --- 4. the DAG's aws target on the EMR API -----------------------------------------------------
    def airflow_setup(self) -> None:
        """A cluster on the EMR API of the local S3 API, and Airflow's metadata DB for dag.test()."""
        from shopstream.aws import boto_client

        if self.airflow_python is None or not self.airflow_python.is_file():
            raise RehearsalError("the Airflow virtualenv is missing: make airflow-venv")
        self.cluster = boto_client(self.settings, "emr").run_job_flow(
            Name=f"rehearsal-{self.tag}", ReleaseLabel="emr-7.9.0",
            Instances={"MasterInstanceType": "m7g.xlarge", "InstanceCount": 1,
                       "KeepJobFlowAliveWhenNoSteps": True},
            JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole",
        )["JobFlowId"]  # fmt: skip
        home = self.work / "airflow-home"
        home.mkdir(exist_ok=True)
        conn = {
            "conn_type": "aws",
            "extra": {"endpoint_url": self.endpoint, "region_name": self.settings.s3.region},
        }
        env = self.clean_env()
        env.update(self.aws_env())
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "airflow" / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                "AIRFLOW_VAR_SHOPSTREAM_TARGET": "aws",
                "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(conn),
                "SHOPSTREAM_EMR__CLUSTER_ID": self.cluster,
                "SHOPSTREAM_EMR__ARTIFACTS": self.artifacts_uri + "/",
                "SHOPSTREAM_AIRFLOW_SENSOR_MODE": "poke",
                "SHOPSTREAM_AIRFLOW_RETRIES": "0",
            }
        )
        self.airflow_env = env
        airflow = str(self.airflow_python.parent / "airflow")
        self.run([airflow, "db", "migrate"], env, home, "airflow-db-migrate", timeout=600)

    # --- 4. the DAG's aws target on the EMR API -----------------------------------------------------
    def dag_test(self, hour: datetime, entity: str, skip: str) -> dict[str, dict[str, Any]]:
        """Run the hourly DAG's aws target with dag.test(), the tasks matching ``skip`` marked
        success (moto's steps never finish; the worker steps run in :meth:`hourly_run`); return
        the steps it submitted ({entity: {step: definition, "run_id": batch run id}}), each
        checked against the builder."""
        from shopstream import orchestration as orch
        from shopstream.aws import boto_client
        from shopstream.submit import ENTRY_POINTS, HOURLY_EMR_STEPS, hourly_emr_step

        emr = boto_client(self.settings, "emr")
        seen = {s["Id"] for s in emr.list_steps(ClusterId=self.cluster)["Steps"]}
        log = f"dag-test-{entity}-{hour:%H}"
        argv = [str(self.airflow_python), "-m", "shopstream.orchestration", "dag-test",
                f"shopstream_hourly_{entity}", "--hour", f"{hour:%Y-%m-%dT%H}",
                "--mark-success", skip]  # fmt: skip
        self.run(argv, self.airflow_env, REPO, log, timeout=900)
        lines = (self.work / "logs" / f"{log}.log").read_text().splitlines()
        result = json.loads([ln for ln in lines if ln.startswith('{"dag_id"')][-1])
        if result["state"] != "success":
            raise RehearsalError(f"dag.test {entity}: {result}")
        run_id = orch.batch_run_id(result["run_id"])
        by_script = {ENTRY_POINTS[s].rsplit("/", 1)[-1]: s for s in HOURLY_EMR_STEPS}
        by_step: dict[str, Any] = {"run_id": run_id}
        for s in emr.list_steps(ClusterId=self.cluster)["Steps"]:
            if s["Id"] in seen:
                continue
            args = s["Config"]["Args"]
            step = by_script[Path(args[-9]).name]
            expected = hourly_emr_step(
                step, entity=entity, hour=hour, run_id=run_id, artifacts_s3_prefix=self.artifacts_uri + "/"
            )
            got = {"Name": s["Name"], "ActionOnFailure": s["ActionOnFailure"],
                   "HadoopJarStep": {"Jar": s["Config"]["Jar"], "Args": args}}  # fmt: skip
            if got != expected:
                raise RehearsalError(f"the DAG submitted {got}, the builder says {expected}")
            by_step[step] = {"Args": args}
        want = {f"submit_{s}" for s in HOURLY_EMR_STEPS if not re.fullmatch(skip, f"submit_{s}")}
        if {f"submit_{s}" for s in by_step if s != "run_id"} != want:
            raise RehearsalError(
                f"dag.test {entity} {hour:%H}:00 submitted {sorted(by_step)}; want {sorted(want)}"
            )
        return {entity: by_step}


class RehearsalError(RuntimeError):
    """A rehearsed entry point failed (the message names it and the tail of its log)."""


def _since(t0: float) -> float:
    return round(time.monotonic() - t0, 1)


def table(rows: Sequence[Row]) -> str:
    head = ("entry point", "artifact", "environment source", "result", "seconds")
    cells = [head, *((r.entry_point, r.artifact, r.environment, r.result, f"{r.seconds:.1f}") for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = [" | ".join(c[i].ljust(widths[i]) for i in range(len(head))) for c in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def stand_in_ca(path: Path) -> Path:
    """A self-signed CA certificate standing in for the AWS RDS bundle (not reachable offline; the
    local PostgreSQL on loopback is not verified): the bootstrap installs it as it would the real one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shopstream rehearsal stand-in RDS CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def rehearsal_hour(tag: str) -> datetime:
    """A closed hour of its own (after the DAGs' start date) so parallel tests never share it."""
    return datetime(2026, 11, 2, tzinfo=UTC) + timedelta(hours=int(tag, 16) % (24 * 14))


def keep_or_remove(path: Path) -> None:
    if not os.environ.get("SHOPSTREAM_REHEARSAL_KEEP"):
        shutil.rmtree(path, ignore_errors=True)
