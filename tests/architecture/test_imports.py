"""The import contract (pyproject.toml `[tool.importlinter]`), run by `make test`: the core
imports no web, widget or frame library and no face; executors depend on the row schema and the
paths, never the reverse; only the widgets import ipywidgets and anywidget; no import cycle.

grimp (import-linter's graph) reads every import statement of every module, those inside
functions included, so an import moved into a function to dodge a cycle still counts.
"""

import os
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("iscc_lab", cache_dir=None)


def test_lint_imports_keeps_every_contract():
    proc = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "BROKEN" not in proc.stdout and "KEPT" in proc.stdout


def test_no_module_imports_itself_back(graph):
    """No module-level import cycle: for every import a -> b, no chain leads from b back to a
    (a package's __init__ and its own modules excepted: the package imports what it exports)."""
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported.startswith(importer + ".") or importer.startswith(imported + "."):
                continue
            chain = graph.find_shortest_chain(imported, importer)
            if chain:
                cycles.append(" -> ".join((importer, *chain)))
    assert not cycles, "\n".join(cycles)


def test_the_contract_reads_imports_inside_functions(graph):
    """The contract would see a core module importing pandas inside a function: grimp reports
    function-level imports (here the widgets' `create_iscc` import, made inside a method)."""
    details = graph.get_import_details(
        importer="iscc_lab.widgets.upload", imported="iscc_lab.generate"
    )
    assert details, "the function-level import is not in the graph"
    assert all(d["line_contents"].startswith("from iscc_lab.generate") for d in details)
