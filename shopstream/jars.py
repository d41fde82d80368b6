"""Resolve the engines' jars from Maven Central once, into the git-ignored cache.

``conf/jars/pom.xml`` is the manifest. Resolution runs ``mvn dependency:copy-dependencies``
(never at run time: Spark gets local paths through ``spark.jars``), compiles the small
OpenSearch launcher in ``shopstream/stack/java`` and builds the raw archive's Kafka Connect
plugin from ``connect/`` (:mod:`shopstream.connect_plugin`). A fingerprint of the manifest and
the plugin's sources makes a second call a no-op.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from shopstream import connect_plugin
from shopstream.config import CONF_DIR, Settings

MANIFEST_DIR = CONF_DIR / "jars"
LAUNCHER_SRC = Path(__file__).parent / "stack" / "java" / "ShopstreamOpenSearch.java"


class JarsError(Exception):
    pass


def modules() -> list[str]:
    """Module folders listed by the manifest, in the order of the parent pom."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    root = ET.parse(MANIFEST_DIR / "pom.xml").getroot()
    return [m.text or "" for m in root.findall("m:modules/m:module", ns)]


def fingerprint(profiles: Sequence[str] = ()) -> str:
    h = hashlib.sha256()
    for pom in sorted(MANIFEST_DIR.rglob("pom.xml")):
        h.update(str(pom.relative_to(MANIFEST_DIR)).encode())
        h.update(pom.read_bytes())
    h.update(LAUNCHER_SRC.read_bytes())
    h.update(connect_plugin.source_hash().encode())
    h.update(",".join(sorted(profiles)).encode())
    return h.hexdigest()


def is_resolved(settings: Settings, profiles: Sequence[str] = ()) -> bool:
    d = settings.jars_dir
    fp = d / ".fingerprint"
    return (
        fp.exists()
        and fp.read_text().strip() == fingerprint(profiles)
        and all(any((d / m).glob("*.jar")) for m in modules())
        and (d / "launcher" / "ShopstreamOpenSearch.class").exists()
        and connect_plugin.is_built(settings)
    )


def resolve(
    settings: Settings, profiles: Sequence[str] = (), force: bool = False, quiet: bool = True
) -> bool:
    """Resolve all jars. Returns False when nothing had to be done."""
    if not force and is_resolved(settings, profiles):
        return False
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarsError("Maven (mvn) not found on PATH; install it (Debian package maven)")
    javac = shutil.which("javac")
    if javac is None:
        raise JarsError("javac not found on PATH; install a JDK 17 (Debian package openjdk-17-jdk-headless)")
    d = settings.jars_dir
    d.mkdir(parents=True, exist_ok=True)
    cmd = [mvn, "-B", "-f", str(MANIFEST_DIR / "pom.xml"), "dependency:copy-dependencies", f"-Djars.dir={d}"]
    if quiet:
        cmd.insert(1, "-q")
    if profiles:
        cmd.append("-P" + ",".join(profiles))
    res = subprocess.run(cmd, capture_output=quiet, text=True, check=False)
    if res.returncode != 0:
        tail = "\n".join((res.stdout or "").splitlines()[-15:]) if quiet else ""
        raise JarsError(f"mvn dependency:copy-dependencies failed (exit {res.returncode})\n{tail}")
    launcher = d / "launcher"
    launcher.mkdir(exist_ok=True)
    res = subprocess.run(
        [javac, "-d", str(launcher), "-cp", f"{d / 'opensearch'}/*", str(LAUNCHER_SRC)],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        raise JarsError(f"javac of the OpenSearch launcher failed: {res.stderr.strip()[-800:]}")
    try:
        connect_plugin.build(settings, quiet=quiet)
    except connect_plugin.PluginError as exc:
        raise JarsError(str(exc)) from None
    (d / ".fingerprint").write_text(fingerprint(profiles) + "\n")
    return True


def spark_jars(settings: Settings) -> list[str]:
    """Absolute paths of the jars Spark gets through ``spark.jars``."""
    d = settings.jars_dir / "spark"
    jars = sorted(str(p) for p in d.glob("*.jar"))
    if not jars:
        raise JarsError(f"no Spark jars in {d}; run `shopstream jars` (or `make jars`) first")
    return jars
