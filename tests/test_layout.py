"""The layout is the architecture: one ``semsim`` namespace over simulator/ and models/,
the shared basics at the bottom, and nothing importing a top-level ``simulator`` or
``models`` module (which would load a second copy of every module and its registries)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"simulator": "semsim.simulator", "models": "semsim.models"}


def _python_files(*folders: str):
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_every_package_is_installed_under_the_namespace():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = {FOLDERS[init.relative_to(ROOT).parts[0]]
             + "".join("." + p for p in init.relative_to(ROOT).parts[1:-1])
             for folder in FOLDERS for init in (ROOT / folder).rglob("__init__.py")}
    assert found == listed
    assert cfg["package-dir"] == {v: k for k, v in FOLDERS.items()}


def test_no_top_level_simulator_or_models_imports():
    bad = [f"{p.relative_to(ROOT)}: {m}"
           for p in _python_files("simulator", "models", "tests", "benchmarks")
           for m in _imports(p) if re.match(r"(simulator|models)(\.|$)", m)]
    assert not bad, bad


def test_common_is_the_lowest_layer():
    """models/common imports only the standard library, numpy, scipy (torch lazily, inside
    functions) and itself."""
    for path in _python_files("models/common"):
        tree = ast.parse(path.read_text())
        top = {n.module if isinstance(n, ast.ImportFrom) else a.name
               for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
               for a in (n.names if isinstance(n, ast.Import) else [n])
               if not isinstance(n, ast.ImportFrom) or n.level == 0}
        for mod in top:
            assert not mod.startswith("torch"), f"{path.name} imports torch at import time"
            if mod.startswith("semsim"):
                assert mod.startswith("semsim.models.common"), f"{path.name} imports {mod}"


#: one job per file: no module of simulator/ or models/ longer than this
MAX_MODULE_LINES = 400


def test_no_module_is_too_long():
    long = [f"{p.relative_to(ROOT)}: {n} lines" for p in _python_files("simulator", "models")
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    assert not long, long

