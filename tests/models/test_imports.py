"""models/ holds plain torch + numpy: no module under it imports the simulator, SimPy,
argparse or matplotlib (parsing, rendering and plots belong to the command layer)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[2] / "models"
FORBIDDEN = ("semsim.simulator", "simulator", "simpy", "argparse", "matplotlib")
FILES = sorted(MODELS.rglob("*.py"))


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
    return out


def test_every_models_file_is_checked():
    assert len(FILES) > 20 and MODELS / "loop.py" in FILES


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(MODELS)))
def test_models_import_no_simulator_simpy_argparse_or_matplotlib(path):
    bad = [m for m in _imports(path)
           if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert not bad, f"{path.relative_to(MODELS.parent)} imports {bad}"
