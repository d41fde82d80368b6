"""Shared parsing for the Terraform tests: every .tf under terraform/ parsed once with python-hcl2.

python-hcl2 8.x keeps HCL's own spelling in its output: expressions come back wrapped as
"${...}" and, by default, string literals and block labels keep their double quotes. We ask it to
strip the quotes (SerializationOptions(strip_string_quotes=True, explicit_blocks=False)) and keep
the "${...}" wrappers, which is what the reference regexes below look for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest

REPO = Path(__file__).resolve().parents[2]
TF_ROOT = REPO / "terraform"
MODULES_DIR = TF_ROOT / "modules"
STACKS_DIR = TF_ROOT / "stacks"
POLICIES_DIR = TF_ROOT / "policies"
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"

_OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)

# Meta-arguments of a module block that are not inputs of the module.
MODULE_META_ARGS = {"source", "version", "providers", "depends_on", "count", "for_each"}


def tf_files() -> list[Path]:
    return sorted(p for p in TF_ROOT.rglob("*.tf") if ".terraform" not in p.parts)


def _drop_comments(node: Any) -> Any:
    """python-hcl2 8.x attaches comments inside blocks as "__comments__" entries; drop them."""
    if isinstance(node, dict):
        return {k: _drop_comments(v) for k, v in node.items() if k != "__comments__"}
    if isinstance(node, list):
        return [_drop_comments(v) for v in node]
    return node


def parse_file(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return _drop_comments(hcl2.load(fh, serialization_options=_OPTIONS))


def _blocks(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return list(doc.get(kind, []))


@dataclass
class Config:
    """One Terraform configuration directory (a module or a stack)."""

    path: Path
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    def blocks(self, kind: str) -> list[dict[str, Any]]:
        return [b for doc in self.docs.values() for b in _blocks(doc, kind)]

    def variables(self) -> dict[str, dict[str, Any]]:
        return {name: body for b in self.blocks("variable") for name, body in b.items()}

    def outputs(self) -> dict[str, dict[str, Any]]:
        return {name: body for b in self.blocks("output") for name, body in b.items()}

    def module_calls(self) -> dict[str, dict[str, Any]]:
        return {name: body for b in self.blocks("module") for name, body in b.items()}

    def resources(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (rtype, rname, body)
            for b in self.blocks("resource")
            for rtype, named in b.items()
            for rname, body in named.items()
        ]

    def data_sources(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (dtype, dname, body)
            for b in self.blocks("data")
            for dtype, named in b.items()
            for dname, body in named.items()
        ]

    def locals(self) -> dict[str, Any]:
        return {k: v for b in self.blocks("locals") for k, v in b.items()}

    def serialized(self) -> str:
        """All parsed content as one JSON string, for reference searches."""
        return json.dumps(self.docs, sort_keys=True)

    def module_dir(self, call: dict[str, Any]) -> Path:
        return (self.path / call["source"]).resolve()


def load_config(path: Path) -> Config:
    config = Config(path=path)
    for tf in sorted(path.glob("*.tf")):
        config.docs[tf.name] = parse_file(tf)
        config.text[tf.name] = tf.read_text(encoding="utf-8")
    return config


def reference_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(re.escape(prefix) + r"\.([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_-]*)")


@pytest.fixture(scope="session")
def modules() -> dict[str, Config]:
    return {p.name: load_config(p) for p in sorted(MODULES_DIR.iterdir()) if p.is_dir()}


@pytest.fixture(scope="session")
def stacks() -> dict[str, Config]:
    return {p.name: load_config(p) for p in sorted(STACKS_DIR.iterdir()) if p.is_dir()}


@pytest.fixture(scope="session")
def configs(modules: dict[str, Config], stacks: dict[str, Config]) -> list[Config]:
    return [*modules.values(), *stacks.values()]
