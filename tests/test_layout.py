"""The package's shape: stage folders, no import cycle, small modules, framework imports deferred for a reason.

``python tests/import_graph.py`` prints the graph these tests read.
"""

from __future__ import annotations

from pathlib import Path

import import_graph
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bn_behaviour"
#: The stages a newcomer sees when listing the package (docs/architecture.md draws them).
STAGES = ("cases", "targets", "rules", "report", "matrices", "workflows")
MAX_LINES = 400
#: What may be imported inside a function, and why it must wait (nothing of the package itself).
DEFERRED = {
    "tensorflow": "a target's framework: imported only after the target's environment is set, in its own process",
    "jax": "Keras 3's JAX backend: only the active backend is imported",
    "torch": "Keras 3's PyTorch backend: only the active backend is imported",
    "rich.console": "optional: the table falls back to Markdown without rich",
    "rich.table": "optional: the table falls back to Markdown without rich",
    "rich.progress": "optional: the report's progress falls back to plain lines without rich",
}


def test_the_stages_are_folders_with_a_docstring_each():
    for stage in STAGES:
        init = PACKAGE / stage / "__init__.py"
        assert init.exists(), stage
        assert init.read_text().lstrip().startswith('"""'), f"{stage}/__init__.py says nothing about its stage"


def test_no_import_cycle_function_level_imports_included():
    found = import_graph.cycles(import_graph.internal_edges(import_graph.graph()))
    assert not found, "\n".join(" -> ".join(c) for c in found)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_function_level_imports_are_frameworks_that_must_wait():
    nested = [i for imps in import_graph.graph().values() for i in imps if i.nested]
    odd = [f"{i.source}:{i.line} imports {i.target}" for i in nested if i.target not in DEFERRED]
    assert not odd, odd
