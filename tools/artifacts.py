"""Build the EMR artifacts exactly as Terraform uploads them (``make artifacts``).

* ``dist/shopstream-<version>-py3-none-any.whl`` — the wheel (contract, profiles, SQL inside);
* ``dist/emr/requirements.txt`` — its runtime dependency closure, every one pinned ``==`` (the
  versions this checkout was tested with), installed by the bootstrap next to the wheel;
* ``dist/emr/jars/*.jar`` — the jars EMR does not ship (:func:`shopstream.submit.emr_jars`, the
  EMR subset of the ``conf/jars`` resolution).

The entry points (``jobs/run_*.py``) and the bootstrap template are uploaded from the tree.

    python -m tools.artifacts [--dist dist]
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


def build(dist: Path) -> dict[str, Path]:
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
    reqs.write_text(
        "# the wheel's runtime closure, pinned (tools/artifacts.py); the bootstrap installs exactly these\n"
        + "".join(f"{name}=={version}\n" for name, version in pins.items())
    )
    return {"wheel": wheel, "requirements": reqs, "jars": jars}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build the wheel, pinned requirements and EMR jar set.")
    p.add_argument("--dist", type=Path, default=REPO / "dist")
    args = p.parse_args(argv)
    out = build(args.dist)
    size = out["wheel"].stat().st_size
    n_jars = len(list(out["jars"].glob("*.jar")))
    n_reqs = sum(1 for line in out["requirements"].read_text().splitlines() if "==" in line)
    print(f"{out['wheel'].name} ({size / 1024:.0f} KiB), {n_reqs} pinned requirements, {n_jars} jars")
    return 0


if __name__ == "__main__":
    sys.exit(main())
