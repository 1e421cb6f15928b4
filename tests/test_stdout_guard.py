"""bn_behaviour.isolation.stdout_guard: what runs inside it cannot write to stdout, at any level."""

import subprocess
import sys

import pytest

CHATTER = """
import ctypes, os, sys
from bn_behaviour.isolation.stdout_guard import stdout_to_stderr
with stdout_to_stderr():
    print("python chatter")
    os.write(1, b"descriptor chatter\\n")
    ctypes.CDLL(None).printf(b"c stdio chatter\\n")  # buffered by the C library: flushed before restoring
print("the result")
os.write(1, b"fd 1 is back\\n")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="printf through ctypes.CDLL(None) is POSIX")
def test_python_descriptor_and_c_output_go_to_stderr_and_both_come_back():
    proc = subprocess.run([sys.executable, "-c", CHATTER], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "the result\nfd 1 is back\n"
    for line in ("python chatter", "descriptor chatter", "c stdio chatter"):
        assert line in proc.stderr


def test_restored_after_an_exception(capfd):
    from bn_behaviour.isolation.stdout_guard import stdout_to_stderr

    before = sys.stdout
    with pytest.raises(RuntimeError), stdout_to_stderr():
        print("inside")
        raise RuntimeError
    assert sys.stdout is before
    print("after")
    out, err = capfd.readouterr()
    assert (out, err) == ("after\n", "inside\n")
