"""Code-shape rules of the project: no function in envs/, agents/ or experiments/ is longer
than 80 lines (one job per function; see docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 80


def _long_functions(folder: str) -> list[str]:
    out = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_LINES:
                    out.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    return out


@pytest.mark.parametrize("folder", ["envs", "agents", "experiments"])
def test_no_function_is_longer_than_80_lines(folder):
    assert _long_functions(folder) == []
