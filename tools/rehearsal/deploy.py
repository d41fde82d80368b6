"""Steps 1-2 of the rehearsal: the artifacts uploaded under the EMR module's keys (with the
rendered bootstrap and the mart password's secret), then that bootstrap run on a fresh "node"
with only ``dnf`` and ``sudo`` shimmed."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# cryptography comes with moto (the local extra every rehearsal runs against), not the package
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shopstream.config import load
from shopstream.credentials import postgres_password
from shopstream.submit import EMR_INSTALL_DIR
from tools import tfrender
from tools.artifacts import build
from tools.rehearsal.node import step_env
from tools.rehearsal.workspace import REPO, RehearsalError, Workspace

SHIMS = ("dnf", "sudo")  # the only commands replaced (README: "Rehearsing the AWS half")


def publish(ws: Workspace) -> dict[str, Any]:
    """Buckets, the mart password's secret, and every artifact uploaded as Terraform does."""
    s3 = ws.s3()
    for name in ws.bucket.values():
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": ws.settings.s3.region})
    ws.s3_client("secretsmanager").create_secret(
        Name=ws.mart_secret, SecretString=postgres_password(ws.settings)
    )
    built = build(ws.work / "dist", rds_ca_bundle=stand_in_ca(ws.work / "stand-in-rds-ca.pem"))
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
    variables = {
        "artifacts_uri": ws.artifacts_uri,
        "wheel_name": wheel.name,
        "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "rds_ca_sha256": hashlib.sha256(built["rds_ca_bundle"].read_bytes()).hexdigest(),
        "python_bin": "python3.11",
        "install_dir": str(ws.install_dir),
    }
    if set(variables) != tfrender.bootstrap_var_names():
        raise RehearsalError(
            f"bootstrap inputs differ from Terraform's: {sorted(tfrender.bootstrap_var_names())}"
        )
    bootstrap_sh = ws.work / "install-shopstream.sh"
    bootstrap_sh.write_text(tfrender.render_template(tfrender.EMR_BOOTSTRAP, variables))
    uploads[f"{prefix}/bootstrap/install-shopstream.sh"] = bootstrap_sh
    for key, path in uploads.items():
        s3.upload_file(str(path), ws.bucket["artifacts"], key)
    return {"wheel": wheel, "uploads": sorted(uploads), "spec": spec}


def bootstrap(ws: Workspace) -> Path:
    """The uploaded bootstrap, run by bash on a fresh node; returns the virtualenv's python."""
    node = ws.work / "node"
    shims = ws.work / "shims"
    for d in (node, shims):
        d.mkdir(parents=True, exist_ok=True)
    record = ws.work / "shims.log"
    (shims / "sudo").write_text(f'#!/bin/bash\necho "sudo $*" >> {record}\nexec "$@"\n')
    (shims / "dnf").write_text(f'#!/bin/bash\necho "dnf $*" >> {record}\n')
    for name in SHIMS:
        (shims / name).chmod(0o755)
    script = node / "install-shopstream.sh"
    ws.s3().download_file(ws.bucket["artifacts"], "emr/bootstrap/install-shopstream.sh", str(script))
    env = ws.clean_env()
    env.update(ws.aws_env())
    env["PATH"] = f"{shims}{os.pathsep}{env['PATH']}"
    ws.run(["bash", str(script)], env, node, "bootstrap", timeout=2400)
    python = ws.install_dir / "venv" / "bin" / "python"
    if not python.is_file():
        raise RehearsalError(f"the bootstrap left no {python}")
    # the CA bundle where the aws profile's postgres.ca_bundle points (install dir relocated)
    bundle = load("aws", environ=step_env(ws)).postgres.ca_bundle
    here = Path(bundle.replace(EMR_INSTALL_DIR, str(ws.install_dir), 1))
    if not bundle.startswith(EMR_INSTALL_DIR + "/") or not here.is_file():
        raise RehearsalError(f"the bootstrap installed no CA bundle at {bundle}")
    return python


def stand_in_ca(path: Path) -> Path:
    """A self-signed CA certificate standing in for the AWS RDS bundle (not reachable offline; the
    local PostgreSQL on loopback is not verified): the bootstrap installs it as it would the real one."""
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
