"""Build the raw archive's Kafka Connect plugin (``connect/``, Java) into the jar cache.

``mvn package`` compiles the sink and copies it with its runtime dependencies into ONE plugin
directory below the worker's ``plugin.path`` (``<jars>/connect-plugins/shopstream-archive-sink``);
that very directory is then zipped (sorted entries, fixed timestamps: the same jars give the same
zip) into ``<jars>/msk-connect/shopstream-archive-sink.zip``, the MSK Connect custom plugin that
Terraform uploads. The zip lives outside ``plugin.path`` so the local worker never scans it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

from shopstream.config import REPO_ROOT, Settings

SOURCE_DIR = REPO_ROOT / "connect"
PLUGIN_NAME = "shopstream-archive-sink"
PLUGIN_PATH_DIRNAME = "connect-plugins"  # the worker's plugin.path below the jar cache
ZIP_DIRNAME = "msk-connect"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class PluginError(Exception):
    """The plugin could not be built; the message names the command or the missing tool."""


def plugin_path(settings: Settings) -> Path:
    """The worker's ``plugin.path``: one directory per plugin below it."""
    return settings.jars_dir / PLUGIN_PATH_DIRNAME


def plugin_dir(settings: Settings) -> Path:
    return plugin_path(settings) / PLUGIN_NAME


def zip_path(settings: Settings) -> Path:
    return settings.jars_dir / ZIP_DIRNAME / f"{PLUGIN_NAME}.zip"


def source_files() -> list[Path]:
    """What the plugin is built from: the pom and the main sources (tests do not change it)."""
    if not (SOURCE_DIR / "pom.xml").is_file():
        return []
    main = sorted(p for p in (SOURCE_DIR / "src" / "main").rglob("*") if p.is_file())
    return [SOURCE_DIR / "pom.xml", *main]


def source_hash() -> str:
    h = hashlib.sha256()
    for path in source_files():
        h.update(str(path.relative_to(SOURCE_DIR)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def plugin_jar(settings: Settings) -> Path | None:
    """The connector's own jar in the plugin directory, or None when the plugin is not built."""
    return next(iter(sorted(plugin_dir(settings).glob(f"{PLUGIN_NAME}-*.jar"))), None)


def is_built(settings: Settings) -> bool:
    return plugin_jar(settings) is not None and zip_path(settings).is_file()


def build(settings: Settings, quiet: bool = True) -> Path:
    """``mvn package`` into the plugin directory, then zip it; returns the zip's path."""
    if not source_files():
        raise PluginError(f"{SOURCE_DIR}/pom.xml not found: build the plugin from a repository checkout")
    mvn = shutil.which("mvn")
    if mvn is None:
        raise PluginError("Maven (mvn) not found on PATH; install it (Debian package maven)")
    out = plugin_dir(settings)
    staging = out.with_name(out.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [mvn, "-B", "-f", str(SOURCE_DIR / "pom.xml"), "package", "-DskipTests", f"-Dplugin.dir={staging}"]
    if quiet:
        cmd.insert(1, "-q")
    res = subprocess.run(cmd, capture_output=quiet, text=True, check=False)
    if res.returncode != 0:
        tail = "\n".join((res.stdout or "").splitlines()[-15:]) if quiet else ""
        command = " ".join(cmd[1:])
        raise PluginError(f"building the archive plugin failed: {command} (exit {res.returncode})\n{tail}")
    shutil.rmtree(out, ignore_errors=True)  # no stale jar of an older build stays on the classpath
    staging.rename(out)
    return write_zip(out, zip_path(settings))


def write_zip(directory: Path, target: Path) -> Path:
    """Zip ``directory`` as ``<name>/<file>`` entries, byte-for-byte reproducible."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{directory.name}/{path.relative_to(directory).as_posix()}", _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    tmp.replace(target)
    return target
