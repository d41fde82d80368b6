"""Test-stack ports, moved by SHOPSTREAM_TEST_PORT_OFFSET.

Parallel checkouts (git worktrees) on one machine each set SHOPSTREAM_TEST_PORT_OFFSET to a
distinct multiple of 1000 so their test stacks never share a port. A module of its own (not
conftest.py): tests/terraform has a conftest too, and ``import conftest`` would pick either.
"""

from __future__ import annotations

import os

PORT_OFFSET = int(os.environ.get("SHOPSTREAM_TEST_PORT_OFFSET", "0"))


def stack_port(port: int) -> int:
    """``port`` moved by SHOPSTREAM_TEST_PORT_OFFSET."""
    return port + PORT_OFFSET
