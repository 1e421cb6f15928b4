"""``bn-behaviour applications``: keras.applications fine-tuned as the guide says, every BN checked.

The architecture list is checked against the installed ``keras.applications`` (every architecture is
run or named as having no BatchNormalization, and those named have none); one small architecture is run
end to end on keras-tensorflow and judged by the guide's rule (a frozen base moves nothing; in the
fine-tuning step the base, still called with ``training=False``, stays in inference mode, or the layers
that do not name the known deviation); the document is what its JSON renders.
"""

import json
import subprocess
import sys

import pytest

from bn_behaviour.targets import TARGETS
from bn_behaviour.usermodel import applications

pytestmark = pytest.mark.harness
TARGET = "keras-tensorflow"

LIST = """
import json, os
os.environ["KERAS_BACKEND"] = "tensorflow"
import keras
from bn_behaviour.usermodel import layers
names = [n for n in dir(keras.applications) if n[0].isupper()]
found = {n: len(layers.find(getattr(keras.applications, n)(weights=None, include_top=False,
                                                           input_shape=(32, 32, 3))))
         for n in ("ConvNeXtTiny", "VGG16", "VGG19")}
print(json.dumps([names, found]))
"""


@pytest.fixture(scope="module")
def installed():
    if TARGETS[TARGET].missing():
        pytest.skip(f"{TARGET} is not installed")


def test_every_architecture_is_run_or_has_no_batch_normalization(installed):
    proc = subprocess.run([sys.executable, "-c", LIST], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names, found = json.loads(proc.stdout.splitlines()[-1])
    assert set(names) == set(applications.ARCHITECTURES) | set(applications.WITHOUT)
    assert found == {"ConvNeXtTiny": 0, "VGG16": 0, "VGG19": 0}


def test_one_architecture_fine_tuned_as_the_guide_says(installed, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bn_behaviour.cli", "applications", "--target", TARGET, "--out",
                           str(tmp_path), "--arch", "MobileNetV3Small"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = applications.read(tmp_path / applications.REPORT)
    (r,) = data["results"]
    assert r["error"] is None and r["layers"] > 10
    assert r["frozen"] == {"moved": 0, "trained": 0}  # the guide: a frozen base moves nothing
    if r["unfrozen"]["moved"]:  # the guide says they stay in inference mode: a known deviation, named
        assert r["broken"] == ["base-training-false-stays-inference"]
        assert r["deviations"] == ["base-training-false-overridden (https://github.com/keras-team/keras/issues/20285)"]
    else:
        assert r["broken"] == [] and r["deviations"] == []
    assert applications.stale(tmp_path) == []
    (tmp_path / applications.DOCUMENT).write_text("edited by hand\n")
    assert applications.stale(tmp_path) == [str(tmp_path / applications.DOCUMENT)]


def test_a_file_it_did_not_write_is_one_line(tmp_path):
    (tmp_path / applications.REPORT).write_text(json.dumps({"format": 1, "results": [], "extra": 1}))
    with pytest.raises(applications.ApplicationsFileError, match="unknown key 'extra'"):
        applications.read(tmp_path / applications.REPORT)
