"""The local engines' common shape (:class:`Engine`) and what the JVM ones share."""

from __future__ import annotations

import shutil

from shopstream.config import Settings
from shopstream.stack.process import EngineError, Proc

JAVA = shutil.which("java") or "java"


def jar_classpath(settings: Settings, module: str) -> str:
    d = settings.jars_dir / module
    if not d.is_dir() or not any(d.glob("*.jar")):
        raise EngineError(
            f"jars for {module} are missing in {d}; run `shopstream jars` (or `make jars`) first"
        )
    return f"{d}/*"


class Engine:
    name = ""
    timeout = 90.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.state_path / self.name
        self.proc = Proc(self.name, self.dir)

    @property
    def ports(self) -> list[int]:
        raise NotImplementedError

    @property
    def endpoint(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def prepare(self) -> str:
        """Create what the pipeline expects (idempotent). Returns a short note for the log."""
        return ""

    def _env(self) -> dict[str, str]:
        return {"SHOPSTREAM_ENGINE_DIR": str(self.dir)}
