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
    sessions = re.search(r"session: \[([^\]]+)\]", text).group(1)
    assert [s.strip() for s in sessions.split(",")] == list(nox.VERSIONS)
    assert "nox -s ${{ matrix.session }}" in text and "nox -s changes" in text


def test_every_comparison_uses_version_sessions_and_every_target_exists():
    from bn_behaviour.targets import TARGETS

    nox = _noxfile()
    for _, old, new in nox.COMPARISONS:
        assert old in nox.VERSIONS and new in nox.VERSIONS
    assert {target for target, _, _ in nox.VERSIONS.values()} <= set(TARGETS)
    assert nox.nox.options.sessions == [*nox.VERSIONS, "changes"]
