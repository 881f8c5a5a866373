"""The architecture's rules, checked on every run: import contracts (import-linter, configured
in pyproject.toml), lint (ruff), no import cycles, no module over ~500 lines."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent


def _tool(name):
    path = BIN / name
    assert path.exists(), f"{name} is missing: it comes with the test extras (pip install -e '.[test]')"
    return str(path)


def test_import_contracts_hold():
    r = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "BROKEN" not in r.stdout and "KEPT" in r.stdout


def test_ruff_finds_nothing():
    r = subprocess.run([_tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_import_cycles():
    import grimp

    graph = grimp.build_graph("bpttviz")
    modules = sorted(graph.modules)
    cycles = []
    for i, a in enumerate(modules):
        for b in modules[i + 1:]:
            if graph.chain_exists(importer=a, imported=b) and graph.chain_exists(importer=b, imported=a):
                cycles.append((a, b, graph.find_shortest_chain(importer=a, imported=b),
                               graph.find_shortest_chain(importer=b, imported=a)))
    assert cycles == [], "\n".join(f"{a} <-> {b}: {c1} / {c2}" for a, b, c1, c2 in cycles[:10])


def test_no_module_is_over_the_size_limit():
    too_long = []
    for path in (ROOT / "bpttviz").rglob("*.py"):
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > 560:  # "~500 lines": a little slack, never a second main_window
            too_long.append(f"{path.relative_to(ROOT)}: {n} lines")
    assert too_long == []


def test_session_and_timeline_use_no_widgets():
    """import-linter sees external packages only whole (PyQt5), so QtWidgets is checked here."""
    import ast

    for name in ("session.py", "timeline.py", "undo.py"):
        tree = ast.parse((ROOT / "bpttviz" / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert "QtWidgets" not in node.module and "QtGui" not in node.module, (name, node.module)
            if isinstance(node, ast.Import):
                for a in node.names:
                    assert "QtWidgets" not in a.name, (name, a.name)
