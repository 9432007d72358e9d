"""The engine (cnnlab/) never imports Streamlit: pages describe the UI, the engine computes."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "cnnlab"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_engine_module_imports_streamlit():
    modules = sorted(ENGINE.rglob("*.py"))
    assert len(modules) > 20
    offenders = [str(path.relative_to(ENGINE)) for path in modules if "streamlit" in _imported_modules(path)]
    assert offenders == []
