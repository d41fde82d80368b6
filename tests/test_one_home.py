"""One home per fact: what the code base defines once, and a check that it stays so.

The entity list's home is the contract (``shopstream.contract.entities()``): every stage, CLI
choice, DAG and benchmark asks it. A tuple, list or set literal that spells out two or more entity
names anywhere else (``("users", "orders")``) is a second definition that a new entity would miss.
"""

from __future__ import annotations

import ast
from pathlib import Path

from shopstream.contract import entities

REPO = Path(__file__).resolve().parent.parent
CONTRACT_MODULE = REPO / "shopstream" / "contract.py"
NOT_SCANNED = {"tests", "build", "dist", "node_modules"}  # tests spell out what they expect


def _sources() -> list[Path]:
    out = []
    for path in sorted(REPO.rglob("*.py")):
        parts = path.relative_to(REPO).parts
        if any(p.startswith(".") or p in NOT_SCANNED for p in parts[:-1]) or path == CONTRACT_MODULE:
            continue
        out.append(path)
    return out


def entity_list_literals(path: Path, names: set[str], root: Path = REPO) -> list[str]:
    """``file:line: literal`` for each tuple/list/set literal naming two or more entities."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            strings = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            if len(strings & names) >= 2:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_the_contract_is_the_only_entity_list() -> None:
    names = set(entities())
    assert len(names) >= 2
    sources = _sources()
    assert REPO / "shopstream" / "batch.py" in sources  # the scan sees the package
    offenders = [hit for path in sources for hit in entity_list_literals(path, names)]
    assert not offenders, "a second entity list; use shopstream.contract.entities() instead:\n" + "\n".join(
        offenders
    )


def test_the_scan_finds_a_second_entity_list(tmp_path: Path) -> None:
    first, second = entities()[:2]
    src = tmp_path / "mod.py"
    src.write_text(
        f"ENTITIES = ({first!r}, {second!r})\n"
        f"TABLES = [{second!r}, 'quarantine', {first!r}]\n"
        f"ONE = ({first!r},)\n"
        f"BY_ENTITY = {{{first!r}: 1, {second!r}: 2}}\n"
    )
    hits = entity_list_literals(src, set(entities()), root=tmp_path)
    assert [h.split(":")[1] for h in hits] == ["1", "2"]
