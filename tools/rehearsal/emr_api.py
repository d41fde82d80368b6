"""Step 4 of the rehearsal: the hourly DAG's aws target run by ``dag.test()`` in the Airflow
virtualenv against the EMR API of the local S3 API (moto), and every step it submitted checked
against the builder (:func:`shopstream.submit.hourly_emr_step`)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from shopstream.orchestration import batch_run_id
from shopstream.submit import ENTRY_POINTS, HOURLY_EMR_STEPS, hourly_emr_step
from tools.rehearsal.workspace import REPO, RehearsalError, Workspace


def airflow_setup(ws: Workspace) -> None:
    """A cluster on the EMR API of the local S3 API, and Airflow's metadata DB for dag.test()."""
    if ws.airflow_python is None or not ws.airflow_python.is_file():
        raise RehearsalError("the Airflow virtualenv is missing: make airflow-venv")
    ws.cluster = ws.s3_client("emr").run_job_flow(
        Name=f"rehearsal-{ws.tag}", ReleaseLabel="emr-7.9.0",
        Instances={"MasterInstanceType": "m7g.xlarge", "InstanceCount": 1,
                   "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]  # fmt: skip
    home = ws.work / "airflow-home"
    home.mkdir(exist_ok=True)
    conn = {
        "conn_type": "aws",
        "extra": {"endpoint_url": ws.endpoint, "region_name": ws.settings.s3.region},
    }
    env = ws.clean_env()
    env.update(ws.aws_env())
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "airflow" / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW_VAR_SHOPSTREAM_TARGET": "aws",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(conn),
            "SHOPSTREAM_EMR__CLUSTER_ID": ws.cluster,
            "SHOPSTREAM_EMR__ARTIFACTS": ws.artifacts_uri + "/",
            "SHOPSTREAM_AIRFLOW_SENSOR_MODE": "poke",
            "SHOPSTREAM_AIRFLOW_RETRIES": "0",
        }
    )
    ws.airflow_env = env
    airflow = str(ws.airflow_python.parent / "airflow")
    ws.run([airflow, "db", "migrate"], env, home, "airflow-db-migrate", timeout=600)


def dag_test(ws: Workspace, hour: datetime, entity: str, skip: str) -> dict[str, dict[str, Any]]:
    """Run the hourly DAG's aws target with dag.test(), the tasks matching ``skip`` marked
    success (moto's steps never finish; the worker steps run in the entry point's hourly run);
    return the steps it submitted ({entity: {step: definition, "run_id": batch run id}}), each
    checked against the builder."""
    emr = ws.s3_client("emr")
    seen = {s["Id"] for s in emr.list_steps(ClusterId=ws.cluster)["Steps"]}
    log = f"dag-test-{entity}-{hour:%H}"
    argv = [str(ws.airflow_python), "-m", "shopstream.orchestration", "dag-test",
            f"shopstream_hourly_{entity}", "--hour", f"{hour:%Y-%m-%dT%H}",
            "--mark-success", skip]  # fmt: skip
    ws.run(argv, ws.airflow_env, REPO, log, timeout=900)
    lines = (ws.work / "logs" / f"{log}.log").read_text().splitlines()
    result = json.loads([ln for ln in lines if ln.startswith('{"dag_id"')][-1])
    if result["state"] != "success":
        raise RehearsalError(f"dag.test {entity}: {result}")
    run_id = batch_run_id(result["run_id"])
    by_script = {ENTRY_POINTS[s].rsplit("/", 1)[-1]: s for s in HOURLY_EMR_STEPS}
    by_step: dict[str, Any] = {"run_id": run_id}
    for s in emr.list_steps(ClusterId=ws.cluster)["Steps"]:
        if s["Id"] in seen:
            continue
        args = s["Config"]["Args"]
        step = by_script[Path(args[-9]).name]
        expected = hourly_emr_step(
            step, entity=entity, hour=hour, run_id=run_id, artifacts_s3_prefix=ws.artifacts_uri + "/"
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
