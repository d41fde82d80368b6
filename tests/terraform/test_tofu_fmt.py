"""Formatting of terraform/ with OpenTofu's `tofu fmt -check` (canonical HCL layout).

OpenTofu is built from the Go module proxy by `make tofu` into .shopstream/tools/bin (about
3.5 minutes on 2 cores). A missing binary FAILS this test; it never skips it.
"""

from __future__ import annotations

import subprocess

import pytest
from conftest import REPO, TF_ROOT

TOFU = REPO / ".shopstream" / "tools" / "bin" / "tofu"


def test_terraform_tree_is_tofu_formatted() -> None:
    if not TOFU.is_file():
        pytest.fail(f"{TOFU.relative_to(REPO)} is missing: run `make tofu` first")
    proc = subprocess.run(
        [str(TOFU), "fmt", "-check", "-recursive", "-diff", str(TF_ROOT)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, (
        f"run `{TOFU.relative_to(REPO)} fmt -recursive terraform`:\n{proc.stdout}{proc.stderr}"
    )
