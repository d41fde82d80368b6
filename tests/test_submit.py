"""The one command builder (shopstream.submit) and what Terraform consumes from it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shopstream import submit

REPO = Path(__file__).resolve().parent.parent


def test_checked_in_spec_is_what_the_builder_renders() -> None:
    """terraform/modules/emr/spark_steps.json is generated; any change to the builder must be
    re-rendered (``python -m shopstream.submit terraform``) or this fails."""
    assert (REPO / submit.SPEC_PATH).read_text() == submit.render_spec()
    res = subprocess.run(
        [sys.executable, "-m", "shopstream.submit", "terraform", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout


def test_drift_is_detected(tmp_path: Path) -> None:
    spec = json.loads(submit.render_spec())
    spec["stream_step"]["HadoopJarStep"]["Args"].insert(1, "--packages")
    stale = tmp_path / "spark_steps.json"
    stale.write_text(json.dumps(spec))
    res = subprocess.run(
        [sys.executable, "-m", "shopstream.submit", "terraform", "--check", "--path", str(stale)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1 and "drifted" in res.stdout


def test_terraform_reads_the_spec_and_writes_no_command_line_of_its_own() -> None:
    main = (REPO / "terraform" / "modules" / "emr" / "main.tf").read_text()
    assert 'jsondecode(file("${path.module}/spark_steps.json"))' in main
    assert "local.spark.stream_step.HadoopJarStep.Args" in main
    assert '"spark-submit"' not in main and "--packages" not in main and "--deploy-mode" not in main


def test_every_entry_point_exists_and_is_thin() -> None:
    assert set(submit.ENTRY_POINTS) == {"stream", "compact", "export", "reconcile", "corrections", "vacuum"}
    for script in submit.ENTRY_POINTS.values():
        assert (REPO / script).is_file(), script
    assert sorted(p.name for p in (REPO / "jobs").glob("*.py")) == sorted(
        Path(s).name for s in submit.ENTRY_POINTS.values()
    )


@pytest.mark.parametrize("step", submit.HOURLY_EMR_STEPS)
def test_local_and_emr_run_the_same_entry_point_with_the_same_arguments(step: str) -> None:
    hour = datetime(2026, 11, 24, 10, tzinfo=UTC)
    args = submit.app_args(step, profile="aws", entity="orders", hour=hour, run_id="r1")
    local = submit.spark_submit(step, args, script_root=str(REPO), conf={"spark.master": "local[1]"})
    emr = submit.hourly_emr_step(
        step, entity="orders", hour=hour, run_id="r1", artifacts_s3_prefix="s3://a/emr/"
    )
    e_args = emr["HadoopJarStep"]["Args"]
    assert local[-len(args) :] == e_args[-len(args) :] == args
    assert local[-len(args) - 1] == f"{REPO}/{submit.ENTRY_POINTS[step]}"
    assert e_args[-len(args) - 1] == f"s3://a/emr/{submit.ENTRY_POINTS[step]}"
    assert e_args[:3] == ["spark-submit", "--deploy-mode", "cluster"] and "--packages" not in e_args
    assert f"spark.jars=file://{submit.EMR_INSTALL_DIR}/jars/*.jar" in e_args


def test_emr_jar_set_is_the_kafka_closure_of_the_spark_resolution(settings) -> None:  # type: ignore[no-untyped-def]
    jars = submit.emr_jars(settings.jars_dir)
    names = [j.name for j in jars]
    assert all(any(n.startswith(p) for n in names) for p in submit.EMR_JAR_PREFIXES)
    assert not any(n.startswith(("delta-", "hadoop-aws", "aws-java-sdk")) for n in names), "EMR ships those"


def test_bad_input_is_one_line() -> None:
    with pytest.raises(submit.SubmitError, match="unknown entry point"):
        submit.app_args("nope", profile="aws")
    with pytest.raises(submit.SubmitError, match="s3://"):
        submit.emr_step("stream", [], artifacts_s3_prefix="/tmp/x", name="n")
