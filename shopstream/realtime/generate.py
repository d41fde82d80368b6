"""Every generated file under ``logstash/``: index templates and ISM policies (:mod:`.spec`), Logstash
pipelines and ConfigMaps (:mod:`.logstash`), dashboards (:mod:`.saved_objects`).
``shopstream realtime generate`` writes them; ``tests/test_logstash.py`` regenerates and diffs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shopstream.contract import Contract, load_contract
from shopstream.realtime.logstash import (
    render_configmaps,
    render_deadletters_pipeline,
    render_pipeline,
    render_pipelines_yml,
)
from shopstream.realtime.saved_objects import render_dashboards
from shopstream.realtime.spec import (
    LOGSTASH_DIR,
    contract_rules,
    deadletter_template,
    index_template,
    ism_policies,
)

HAND_WRITTEN = ("config/logstash.yml", "pipeline/contract.rb", "k8s/statefulset.yaml", "k8s/hpa.yaml")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def render_all(contract: Contract | None = None, root: Path = LOGSTASH_DIR) -> dict[str, str]:
    """Every generated file under ``logstash/``: relative path -> content."""
    contract = contract or load_contract()
    files: dict[str, str] = {}
    for name in contract.entity_names:
        files[f"pipeline/{name}.conf"] = render_pipeline(name, contract)
        files[f"pipeline/contract-{name}.json"] = _pretty(contract_rules(name, contract))
        files[f"templates/{name}.json"] = _pretty(index_template(name, contract))
    files["pipeline/dead-letters.conf"] = render_deadletters_pipeline(contract)
    files["templates/deadletter.json"] = _pretty(deadletter_template(contract))
    for name, policy in ism_policies(contract).items():
        files[f"templates/ism-{name}.json"] = _pretty(policy)
    files["pipelines.yml"] = render_pipelines_yml(contract)
    files["dashboards/shopstream.ndjson"] = render_dashboards(contract)
    # the ConfigMap embeds the hand-written logstash.yml and contract.rb as they are on disk
    on_disk = {
        p: (root / p).read_text(encoding="utf-8") for p in ("config/logstash.yml", "pipeline/contract.rb")
    }
    cm_input = {**{k: v for k, v in files.items() if k.startswith("pipeline/")}, **on_disk}
    cm_input["pipelines.yml"] = files["pipelines.yml"]
    files["k8s/configmap.yaml"] = render_configmaps(cm_input)
    return dict(sorted(files.items()))


def write_all(root: Path = LOGSTASH_DIR, contract: Contract | None = None) -> list[str]:
    """Write the generated files; return the relative paths that changed."""
    changed = []
    for rel, content in render_all(contract, root).items():
        path = root / rel
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        changed.append(rel)
    return changed


def stale_files(root: Path = LOGSTASH_DIR, contract: Contract | None = None) -> list[str]:
    """Generated files that differ from (or are missing on) disk."""
    return [
        rel
        for rel, content in render_all(contract, root).items()
        if not (root / rel).exists() or (root / rel).read_text(encoding="utf-8") != content
    ]
