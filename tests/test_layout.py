"""The dependency direction: ``jobs/*.py`` are thin spark-submit entry points over the library;
nothing under ``shopstream/`` imports them."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_library_never_imports_the_entry_points() -> None:
    offenders = [
        f"{path.relative_to(REPO)}: import {name}"
        for path in sorted((REPO / "shopstream").rglob("*.py"))
        for name in _imported_modules(path)
        if name == "jobs" or name.startswith("jobs.")
    ]
    assert not offenders, "the library imports the spark-submit entry points:\n" + "\n".join(offenders)


def test_entry_points_are_thin() -> None:
    """Each ``jobs/*.py`` imports one ``main`` from the library and calls it; no logic of its own."""
    entry_points = sorted((REPO / "jobs").glob("*.py"))
    assert entry_points, "no spark-submit entry points under jobs/"
    for path in entry_points:
        tree = ast.parse(path.read_text(), filename=str(path))
        defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.Lambda)]
        assert not defs, f"{path.name} defines code; it belongs in the library"
        mods = [m for m in _imported_modules(path) if m not in ("__future__", "sys")]
        assert len(mods) == 1 and mods[0].startswith("shopstream."), f"{path.name} imports {mods}"
        (module,) = mods
        __import__(module)  # the library module it names exists and imports without side effects
        assert callable(getattr(__import__(module, fromlist=["main"]), "main"))
