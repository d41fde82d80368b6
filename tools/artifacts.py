"""Build the EMR artifacts exactly as Terraform uploads them (``make artifacts``).

* ``dist/shopstream-<version>-py3-none-any.whl`` — the wheel (contract, profiles, SQL inside);
* ``dist/emr/requirements.txt`` — its runtime dependency closure, every one pinned ``==`` (the
  versions this checkout was tested with) with the sha256 of each file pip may install it from
  on this machine or an EMR node (:data:`NODE_PLATFORMS`; ``pip download`` into
  ``.shopstream/wheelhouse``), installed by the bootstrap with ``--require-hashes`` next to the
  wheel (whose hash the bootstrap adds);
* ``dist/emr/jars/*.jar`` — the jars EMR does not ship (:func:`shopstream.submit.emr_jars`, the
  EMR subset of the ``conf/jars`` resolution);
* ``dist/emr/certs/rds-global-bundle.pem`` — the AWS RDS CA bundle the steps verify the mart with
  (``--rds-ca-bundle FILE``, else the one already staged, else downloaded from the URL the Airflow
  image uses: ``airflow/Dockerfile``'s ``RDS_CA_BUNDLE_URL``).

The entry points (``jobs/run_*.py``) and the bootstrap template are uploaded from the tree.

    python -m tools.artifacts [--dist dist] [--rds-ca-bundle global-bundle.pem]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent


# What an EMR 7 node installs on: Amazon Linux 2023 (glibc 2.34), CPython 3.11 from dnf, Graviton
# (the module's default m7g) or x86_64 instances. pip keeps, of the files it may choose, the ones
# whose hash is listed, so every compatible file of each platform is hashed.
NODE_PYTHON = "3.11"  # the bootstrap's python_bin (python3.11); Requires-Python is checked
# against this interpreter's full version (some pins need >= 3.11.5): the version tested here
NODE_PLATFORMS = {
    arch: [f"manylinux_2_{v}_{arch}" for v in (34, 28, 17)] + [f"manylinux2014_{arch}", f"linux_{arch}"]
    for arch in ("aarch64", "x86_64")
}
WHEELHOUSE = REPO / ".shopstream" / "wheelhouse"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(root: str = "shopstream") -> dict[str, str]:
    """``{distribution: installed version}`` of everything ``root`` needs at run time (no extras)."""
    seen: dict[str, str] = {}
    todo = [
        Requirement(r)
        for r in metadata.requires(root) or []
        if not Requirement(r).marker or Requirement(r).marker.evaluate({"extra": ""})  # type: ignore[union-attr]
    ]
    while todo:
        req = todo.pop()
        name = _norm(req.name)
        if name in seen:
            continue
        dist = metadata.distribution(req.name)
        seen[name] = dist.version
        for raw in dist.requires or []:
            sub = Requirement(raw)
            extras = {"extra": e for e in req.extras} or {"extra": ""}
            if sub.marker is None or sub.marker.evaluate(extras):
                todo.append(sub)
    return dict(sorted(seen.items()))


class ArtifactsError(RuntimeError):
    """An artifact cannot be staged (one line)."""


def rds_ca_bundle_url() -> str:
    """The RDS CA bundle's URL, from its one home (the Airflow image's build argument)."""
    text = (REPO / "airflow" / "Dockerfile").read_text()
    m = re.search(r"^ARG RDS_CA_BUNDLE_URL=(\S+)$", text, re.M)
    if not m:
        raise ArtifactsError("airflow/Dockerfile has no ARG RDS_CA_BUNDLE_URL")
    return m.group(1)


def stage_rds_ca_bundle(dest: Path, source: Path | None) -> Path:
    if source is not None:
        data = source.read_bytes()
    elif dest.is_file():
        data = dest.read_bytes()
    else:
        import urllib.request

        url = rds_ca_bundle_url()
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                data = resp.read()
        except OSError as exc:
            raise ArtifactsError(f"cannot download {url} ({exc}); pass --rds-ca-bundle FILE") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ArtifactsError(f"the RDS CA bundle for {dest} holds no PEM certificate")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


def _dist_file(filename: str) -> tuple[str, str]:
    """(normalised project name, version) of a wheel or sdist file name."""
    stem = filename.removesuffix(".tar.gz").removesuffix(".zip").removesuffix(".whl")
    name, version = stem.split("-")[:2] if filename.endswith(".whl") else stem.rsplit("-", 1)
    return _norm(name), version


def _pure(filename: str) -> bool:
    """An sdist or a wheel for any platform (the same file on every node)."""
    return not filename.endswith(".whl") or filename.endswith("-any.whl")


def _picked(where: Path, pins: dict[str, str]) -> dict[str, Path]:
    """The files of ``where`` that are one of the pins (name and version)."""
    out = {}
    for f in where.iterdir() if where.is_dir() else ():
        name, version = _dist_file(f.name)
        if pins.get(name) == version:
            out[name] = f
    return out


def file_hashes(pins: dict[str, str], wheelhouse: Path = WHEELHOUSE) -> dict[str, set[str]]:
    """``{name: {sha256, ...}}``: the files ``pip download`` picks for each pin, for this machine
    and for every node platform (one directory each under ``wheelhouse``, reused between builds)."""
    import hashlib

    plain = wheelhouse / "pins.txt"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    plain.write_text("".join(f"{n}=={v}\n" for n, v in pins.items()))
    targets: dict[str, list[str]] = {"build": []}
    for arch, tags in NODE_PLATFORMS.items():
        abi = f"cp{NODE_PYTHON.replace('.', '')}"
        targets[f"emr-{arch}"] = [f"--platform={t}" for t in tags] + [
            f"--python-version={NODE_PYTHON}.{sys.version_info.micro}", "--implementation=cp",
            f"--abi={abi}", "--abi=abi3", "--abi=none",
        ]  # fmt: skip
    out: dict[str, set[str]] = {n: set() for n in pins}
    for target, extra in targets.items():  # this machine first: its pure files serve every node
        where = wheelhouse / target
        if target != "build":  # only the pins this machine got a platform-specific wheel of
            binary = {n for n, f in _picked(wheelhouse / "build", pins).items() if not _pure(f.name)}
            if not binary:
                continue
            plain = wheelhouse / f"{target}.txt"
            plain.write_text("".join(f"{n}=={pins[n]}\n" for n in sorted(binary)))
        argv = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "-d",
            str(where),
            "-r",
            str(plain),
        ]
        res = subprocess.run([*argv, *extra], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            tail = (res.stderr or res.stdout).strip().splitlines()[-1:]
            raise ArtifactsError(f"pip download for {target} failed: {' '.join(tail)}")
        for name, f in _picked(where, pins).items():
            out[name].add(hashlib.sha256(f.read_bytes()).hexdigest())
    missing = sorted(n for n, h in out.items() if not h)
    if missing:
        raise ArtifactsError(f"no file hashed for {', '.join(missing)}")
    return out


def build(dist: Path, rds_ca_bundle: Path | None = None) -> dict[str, Path]:
    from shopstream import config, submit

    dist.mkdir(parents=True, exist_ok=True)
    for old in dist.glob("shopstream-*.whl"):
        old.unlink()
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip_wheel, "-w", str(dist), str(REPO)], check=True)
    shutil.rmtree(REPO / "build", ignore_errors=True)
    (wheel,) = dist.glob("shopstream-*.whl")
    emr = dist / "emr"
    jars = emr / "jars"
    shutil.rmtree(jars, ignore_errors=True)
    jars.mkdir(parents=True)
    for jar in submit.emr_jars(config.load("local").jars_dir):
        shutil.copy2(jar, jars / jar.name)
    reqs = emr / "requirements.txt"
    pins = runtime_closure()
    hashes = file_hashes(pins)
    reqs.write_text(
        "# the wheel's runtime closure, pinned and hashed (tools/artifacts.py); the bootstrap installs\n"
        "# exactly these with --require-hashes\n"
        + "".join(
            f"{name}=={version}" + "".join(f" \\\n    --hash=sha256:{h}" for h in sorted(hashes[name])) + "\n"
            for name, version in pins.items()
        )
    )
    ca = stage_rds_ca_bundle(emr / "certs" / "rds-global-bundle.pem", rds_ca_bundle)
    return {"wheel": wheel, "requirements": reqs, "jars": jars, "rds_ca_bundle": ca}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build the wheel, pinned requirements and EMR jar set.")
    p.add_argument("--dist", type=Path, default=REPO / "dist")
    p.add_argument("--rds-ca-bundle", type=Path, default=None, help="the AWS RDS CA bundle (PEM) to stage")
    args = p.parse_args(argv)
    try:
        out = build(args.dist, args.rds_ca_bundle)
    except (ArtifactsError, OSError) as exc:
        print(f"artifacts: {exc}", file=sys.stderr)
        return 2
    size = out["wheel"].stat().st_size
    n_jars = len(list(out["jars"].glob("*.jar")))
    n_reqs = sum(1 for line in out["requirements"].read_text().splitlines() if "==" in line)
    print(f"{out['wheel'].name} ({size / 1024:.0f} KiB), {n_reqs} pinned requirements, {n_jars} jars")
    return 0


if __name__ == "__main__":
    sys.exit(main())
