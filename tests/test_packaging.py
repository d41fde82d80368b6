"""The wheel is self-contained: built from a clean checkout, installed outside the repository, it
carries the contract, both profiles and every SQL file, and declares what it imports."""

from __future__ import annotations

import ast
import email.parser
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.aws_env import AWS_ENV

REPO = Path(__file__).resolve().parent.parent


def _clean_checkout(dest: Path) -> Path:
    """The tracked files of the working tree (symlinks kept), nothing built or ignored."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for rel in filter(None, out.decode().split("\0")):
        src = REPO / rel
        if not src.exists() and not src.is_symlink():  # deleted in the working tree
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = _clean_checkout(tmp_path_factory.mktemp("checkout"))
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    (whl,) = dist.glob("shopstream-*.whl")
    return whl


def _tracked(folder: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", folder], cwd=REPO, capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if (REPO / line).exists()]


def test_wheel_carries_contract_profiles_and_every_sql_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    needed = ["conf/contract.yaml", "conf/local.yaml", "conf/aws.yaml", *_tracked("sql")]
    assert any(n.endswith(".sql") for n in needed)
    missing = [f for f in needed if f"shopstream/_data/{f}" not in names]
    assert not missing, f"not in {wheel.name}: {missing}"


def test_installed_wheel_reads_its_own_data_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    """Installed into an empty folder and run from another one, the package loads the contract,
    both profiles and every SQL file from itself (never from a checkout next to it)."""
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = """
import sys
from pathlib import Path
import shopstream
from shopstream import config, sqlfiles
from shopstream.contract import load_contract
from shopstream.resources import sql_path
site = Path(sys.argv[1]).resolve()
assert Path(shopstream.__file__).resolve().is_relative_to(site), shopstream.__file__
assert sorted(load_contract().entities) == ["orders", "users"]
for profile in config.PROFILES:
    s = config.load(profile)
    assert s.profile == profile and not str(s.state_path).startswith(str(site)), s.state_path
for f in sorted(sql_path().rglob("*.sql")):
    served = sqlfiles.path(f.stem, f.parent.name)
    assert served.resolve().is_relative_to(site) and served.read_text().strip(), served
    print("sql/" + f.parent.name + "/" + f.name)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPSTREAM_")}
    env.update(AWS_ENV, PYTHONPATH=str(site))
    work = tmp_path / "elsewhere"
    work.mkdir()
    res = subprocess.run(
        [sys.executable, "-c", probe, str(site)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert sorted(res.stdout.split()) == sorted(_tracked("sql"))


def _runtime_and_extras(wheel: Path) -> tuple[set[str], dict[str, set[str]]]:
    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(meta_name).decode())
    runtime: set[str] = set()
    extras: dict[str, set[str]] = {}
    for req in meta.get_all("Requires-Dist") or []:
        name = re.split(r"[\s\[<>=!;~]", req, maxsplit=1)[0].lower().replace("_", "-")
        m = re.search(r"extra\s*==\s*['\"]([^'\"]+)", req)
        (extras.setdefault(m.group(1), set()) if m else runtime).add(name)
    return runtime, extras


def test_declared_dependencies_match_what_the_code_imports(wheel: Path) -> None:
    """Everything the package imports is a runtime dependency — except the local stack's own
    needs (``shopstream/stack``: the ``local`` extra), the report's charts (``shopstream/report``:
    the ``report`` extra) and Airflow (the ``airflow`` extra) — and
    the local stack's S3 API (moto) is not one."""
    runtime, extras = _runtime_and_extras(wheel)
    assert "moto" not in runtime and "moto" in extras["local"]
    dists = {mod: {d.lower().replace("_", "-") for d in ds} for mod, ds in packages_distributions().items()}
    undeclared = []
    for path in sorted([*(REPO / "shopstream").rglob("*.py"), *(REPO / "producer").rglob("*.py")]):
        parts = path.relative_to(REPO).parts
        allowed = runtime | (extras["local"] if "stack" in parts else set())
        allowed |= extras["report"] if "report" in parts else set()  # `shopstream report`'s charts
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            else:
                continue
            for mod in (m.split(".")[0] for m in mods):
                if mod in sys.stdlib_module_names or mod in ("shopstream", "producer", "__future__"):
                    continue
                if mod == "airflow":  # only the local target's DagBag check; not installed in .venv
                    if "apache-airflow" not in extras["airflow"]:
                        undeclared.append(f"{path.relative_to(REPO)}: airflow (extra airflow)")
                elif not dists.get(mod, {mod}) & allowed:
                    undeclared.append(f"{path.relative_to(REPO)}: {mod} ({sorted(dists.get(mod, {mod}))})")
    assert not undeclared, "imported but not declared:\n" + "\n".join(undeclared)
