"""The vendoring guide's API example (docs/vendoring.md), run as written in a fresh pytest process."""

import re
from pathlib import Path

import pytest

from bn_behaviour.targets import TARGETS

#: Starts other Python processes (a framework import each): run with `pytest -m harness`.
pytestmark = pytest.mark.harness


GUIDE = Path(__file__).resolve().parent.parent / "docs" / "vendoring.md"


def example() -> str:
    text = GUIDE.read_text()
    match = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/vendoring.md lost its API example"
    lines = match.group(1).splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines) + "\n"


def test_readme_api_example_runs_green(pytester, clean_env):
    if TARGETS["keras-tensorflow"].missing():
        pytest.skip("keras-tensorflow is not installed")
    pytester.makepyfile(test_my_batchnorm=example())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=14)
    result.stdout.fnmatch_lines(["*14 passed*"])
