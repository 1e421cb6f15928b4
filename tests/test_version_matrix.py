"""The GitHub workflow fans out exactly the nox sessions (it cannot run here, so its shape is checked)."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "compat.yml"
pytest.importorskip("nox", reason="nox is not installed (pip install nox)")


def _noxfile():
    spec = importlib.util.spec_from_file_location("noxfile", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_workflow_matrix_is_the_nox_version_sessions():
    nox = _noxfile()
    text = WORKFLOW.read_text()
    block = re.search(r"\n( +)session:\n((?:\1  - .+\n)+)", text).group(2)
    assert [line.split("- ", 1)[1].strip() for line in block.splitlines()] == list(nox.VERSIONS)
    assert "nox -s ${{ matrix.session }}" in text and "nox -s changes history" in text


def test_every_comparison_uses_version_sessions_and_every_target_exists():
    from bn_behaviour.targets import TARGETS

    nox = _noxfile()
    for _, old, new in nox.COMPARISONS:
        assert old in nox.VERSIONS and new in nox.VERSIONS
    assert {target for target, _, _ in nox.VERSIONS.values()} <= set(TARGETS)
    assert nox.nox.options.sessions == [*nox.VERSIONS, "changes", "history"]


def test_every_version_names_a_target_a_line_and_why_it_is_pinned():
    """versions.toml is the one table of pins: each entry runs a registered target, says why its pins are
    what they are, and a session name appears once (nox and the fan-out key on it)."""
    from bn_behaviour.history import versions
    from bn_behaviour.targets import TARGETS

    table = versions()
    assert len({v.session for v in table}) == len(table)
    for v in table:
        assert v.target in TARGETS and v.line and v.why.strip(), v
        assert v.install and not v.install[0].startswith("-"), v
