"""One home per fact: what the code base defines once, and a check that it stays so.

Each list below has one home that everything else imports: the entity list is the contract's
(``shopstream.contract.entities()``), the batch's steps and the Spark ones among them are
``shopstream.hourly.args.STEPS`` / ``SPARK_STEPS``. A tuple, list or set literal anywhere else that
spells out every name of such a list (``("users", "orders")``, ``["compact", "export", "load", ...]``,
in any order, with or without other names) is a second definition that a change would miss.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shopstream.contract import entities
from shopstream.hourly.args import SPARK_STEPS, STEPS

REPO = Path(__file__).resolve().parent.parent
NOT_SCANNED = {"tests", "build", "dist", "node_modules"}  # tests spell out what they expect
FACTS = {
    "entity list (shopstream.contract.entities())": (lambda: entities(), "shopstream/contract.py"),
    "batch steps (shopstream.hourly.args.STEPS)": (lambda: list(STEPS), "shopstream/hourly/args.py"),
    "Spark steps (shopstream.hourly.args.SPARK_STEPS)": (
        lambda: list(SPARK_STEPS),
        "shopstream/hourly/args.py",
    ),
}


def _sources() -> list[Path]:
    out = []
    for path in sorted(REPO.rglob("*.py")):
        parts = path.relative_to(REPO).parts
        if any(p.startswith(".") or p in NOT_SCANNED for p in parts[:-1]):
            continue
        out.append(path)
    return out


def list_literals(path: Path, names: set[str], root: Path = REPO) -> list[str]:
    """``file:line: literal`` for each tuple/list/set literal that names every one of ``names``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            strings = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            if names <= strings:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


@pytest.mark.parametrize("fact", sorted(FACTS))
def test_each_list_is_defined_in_its_home_only(fact: str) -> None:
    values, home = FACTS[fact]
    names = set(values())
    assert len(names) >= 2
    sources = _sources()
    assert REPO / "shopstream" / "batch.py" in sources  # the scan sees the package
    offenders = [hit for path in sources if path != REPO / home for hit in list_literals(path, names)]
    assert not offenders, f"a second {fact}; import it instead:\n" + "\n".join(offenders)


def test_the_scan_finds_a_second_list(tmp_path: Path) -> None:
    first, second = entities()[:2]
    src = tmp_path / "mod.py"
    src.write_text(
        f"ENTITIES = ({first!r}, {second!r})\n"
        f"TABLES = [{second!r}, 'quarantine', {first!r}]\n"
        f"ONE = ({first!r}, 'quarantine')\n"
        f"BY_ENTITY = {{{first!r}: 1, {second!r}: 2}}\n"
    )
    hits = list_literals(src, set(entities()), root=tmp_path)
    assert [h.split(":")[1] for h in hits] == ["1", "2"]
