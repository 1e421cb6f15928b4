"""The daily builds between two versions, and a throwaway environment that runs a row on each.

Keras, tf_keras and TensorFlow publish a build a day (:data:`NIGHTLIES`, per release line of
``versions.toml``).  Its version names its day: ``keras-nightly 3.16.0.dev2026093004`` was built on
2026-09-30, ``tf-nightly 2.21.0.dev20251020`` on 2025-10-20 (:func:`day`).  The builds between two
versions are those the version order puts between them (PEP 440: ``3.1.1 < 3.2.0.dev2024031903 <
3.2.1``), listed from a package index's JSON API (PEP 691, PyPI's by default) or from a folder of
wheels (:func:`builds`).

An :class:`Environment` is a virtual environment made with uv (its cache makes a second one cheap)
from the ``install`` of the session at the newer end, with the released distribution the build
replaces removed; each probe installs one build in place (``--no-deps``: the framework stays the
session's) and runs :mod:`.probe` on it, with this checkout's ``bn_behaviour`` on ``PYTHONPATH`` (so
the rows are today's, whatever package the environment would install).  A build that does not install
or import is a result of its own (:class:`Probe` with ``error``), never a behaviour.

>>> day("3.16.0.dev2026093004"), day("2.21.0.dev20251020"), day("3.15.1")
('2026-09-30', '2025-10-20', None)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from packaging.specifiers import SpecifierSet
from packaging.utils import parse_wheel_filename
from packaging.version import InvalidVersion, Version

import bn_behaviour

from . import Version as Session

try:  # the PyPI package ships the uv binary (uv on PATH serves as well)
    import uv as uv_package
except ImportError:
    uv_package = None

#: PyPI's simple index; ``--index`` names another (a URL, or a folder of wheels).
PYPI = "https://pypi.org/simple"
#: Where environments are kept between runs (``BN_BEHAVIOUR_CACHE`` overrides).
CACHE = Path(os.environ.get("BN_BEHAVIOUR_CACHE", Path.home() / ".cache" / "bn-behaviour")) / "bisect"
#: This checkout's package, which every environment runs (whatever it would install).
PACKAGE = Path(bn_behaviour.__file__).resolve().parent
#: Variables of the caller that would pick another backend, package or plugin option in an environment.
CLEARED = ("KERAS_BACKEND", "TF_USE_LEGACY_KERAS", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "BN_BEHAVIOUR_")
#: What the probe itself needs beside the framework (bn_behaviour's own dependencies).
PROBE_NEEDS = ("numpy", "packaging", "pytest>=8", "pytest-xdist>=3")


@dataclass(frozen=True)
class Nightly:
    """The daily build of one release line: its distribution and the released ones it stands in for."""

    dist: str
    replaces: tuple[str, ...]
    #: Where to read the upstream commits of a window (``{since}``, ``{until}``: its days).
    commits: str
    #: The versions of the line it is the daily build of (PEP 440 specifiers; empty: every version).
    versions: str = ""


_KERAS = Nightly("keras-nightly", ("keras",),
                 "https://github.com/keras-team/keras/commits/master/?since={since}&until={until}")
#: Per release line (``versions.toml``'s ``line``): the daily builds to bisect with, by the line's version.
#: Keras 2 up to 2.15 is the ``keras`` 2.x package TensorFlow's own ``tf.keras`` imports (its daily build is
#: ``keras-nightly`` 2.x), from 2.16 the ``tf_keras`` package.
NIGHTLIES: dict[str, tuple[Nightly, ...]] = {
    "keras-tensorflow": (_KERAS,),
    "keras-jax": (_KERAS,),
    "keras-torch": (_KERAS,),
    "keras-2": (dataclasses.replace(_KERAS, versions="<2.16"),
                Nightly("tf-keras-nightly", ("tf_keras", "tf-keras"),
                        "https://github.com/keras-team/tf-keras/commits/master/?since={since}&until={until}",
                        ">=2.16.0.dev0")),
}


def nightly_for(line: str, version: str) -> Optional[Nightly]:
    """The daily build of ``line`` that ``version`` (the newer end) belongs to, None where the line has none.

    >>> nightly_for("keras-2", "2.13.1").dist, nightly_for("keras-2", "2.18.0").dist
    ('keras-nightly', 'tf-keras-nightly')
    >>> nightly_for("tf1", "2.15.1") is None
    True
    """
    return next((n for n in NIGHTLIES.get(line, ()) if SpecifierSet(n.versions).contains(version, prereleases=True)),
                None)


class NightlyError(ValueError):
    """A one-line usage error: no index, no uv, no such line."""


def day(version: str) -> Optional[str]:
    """The day a nightly version was built (``YYYY-MM-DD``), None for a release."""
    m = re.search(r"\.dev(\d{4})(\d{2})(\d{2})", version)
    return f"{m[1]}-{m[2]}-{m[3]}" if m else None


@functools.cache  # one listing a run: both ends' release days read the same one
def _index_json(index: str, dist: str) -> dict:
    request = urllib.request.Request(f"{index.rstrip('/')}/{dist}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)
    except (OSError, ValueError) as e:
        raise NightlyError(f"cannot list {dist} on {index}: {e}") from None


def _versions_from_index(index: str, dist: str) -> list[str]:
    data = _index_json(index, dist)
    return list(data.get("versions") or {str(parse_wheel_filename(f["filename"])[1]) for f in data.get("files", [])
                                         if f["filename"].endswith(".whl")})


def _versions_from_folder(folder: Path, dist: str) -> list[str]:
    out = set()
    for wheel in folder.glob("*.whl"):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        if name == dist.replace("_", "-").lower():
            out.add(str(version))
    return sorted(out)


def release_day(dist: str, version: str, index: str = PYPI) -> Optional[str]:
    """The day release ``version`` of ``dist`` was uploaded (a build's day is in its version; None when the
    index does not say: a folder of wheels)."""
    if day(version) or Path(index).is_dir():
        return day(version)
    try:
        files = _index_json(index, dist).get("files", [])
    except NightlyError:
        return None
    times = sorted(f["upload-time"][:10] for f in files if f.get("upload-time") and
                   _file_version(f["filename"]) == version)
    return times[0] if times else None


def _file_version(filename: str) -> Optional[str]:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return filename.rsplit(".tar.gz", 1)[0].rsplit("-", 1)[1]
    except (ValueError, IndexError):
        return None


def builds(dist: str, after: str, before: str, index: str = PYPI, days: tuple = (None, None)) -> list[str]:
    """The builds of ``dist`` between versions ``after`` and ``before``, oldest first.

    A build is after ``after`` when its version is newer (PEP 440) or, where ``days`` gives the older end's
    day (:func:`release_day`), it was built after that day: the daily builds made after a release and
    before the version was raised carry the old version (``keras-nightly 3.8.0.dev2025011103`` is a build
    after keras 3.8.0).  It is before ``before`` when its version is older and it was not built after
    that end's day.  ``index``: a simple-index URL (its PEP 691 JSON) or a folder of wheels."""
    folder = Path(index)
    listed = _versions_from_folder(folder, dist) if folder.is_dir() else _versions_from_index(index, dist)
    low, high = Version(after), Version(before)
    since, until = days
    out = []
    for v in listed:
        try:
            parsed = Version(v)
        except InvalidVersion:
            continue
        if not day(v):
            continue
        after_low = low < parsed or bool(since and since < day(v))  # a newer version, or built after the release
        inside = after_low and parsed < high and (not until or day(v) <= until)
        if inside and parsed not in (low, high):
            out.append(parsed)
    return [str(v) for v in sorted(out, key=lambda v: (day(str(v)), v))]


@functools.cache
def uv() -> str:
    """The uv executable (on PATH, or the one the ``uv`` package ships)."""
    found = shutil.which("uv")
    if found:
        return found
    if uv_package is None:
        raise NightlyError("bisect makes its environments with uv: `pip install uv`")
    return uv_package.find_uv_bin()


def _uv_args(requirements: tuple[str, ...]) -> list[str]:
    """``versions.toml``'s pip spelling in uv's (``--pre``: pre-releases allowed)."""
    return ["--prerelease=allow" if r == "--pre" else r for r in requirements]


@dataclass
class Probe:
    """One build's run: its observation per row, or why it could not run."""

    version: str
    rows: dict = field(default_factory=dict)
    error: Optional[str] = None
    versions: dict = field(default_factory=dict)


@dataclass
class Environment:
    """A virtual environment made from ``session``'s install (without the distributions ``replaces`` names),
    where each probe installs one build in place."""

    session: Session
    replaces: tuple[str, ...] = ()
    index: str = PYPI
    cache: Path = CACHE
    log: object = None  #: a callable taking one line of progress (stderr)

    @property
    def folder(self) -> Path:
        spec = json.dumps([self.session.install, self.session.remove, self.replaces, PROBE_NEEDS])
        return self.cache / f"{self.session.session}-{hashlib.sha256(spec.encode()).hexdigest()[:10]}"

    @property
    def python(self) -> Path:
        return self.folder / "bin" / "python"

    def _uv(self, *args: str) -> subprocess.CompletedProcess:
        # pip's find-links (wheels on this machine's disk, e.g. the CPU build of torch) are uv's too.
        local = [a for d in os.environ.get("PIP_FIND_LINKS", "").split() for a in ("--find-links", d)] \
            if args[0] == "install" else []
        return subprocess.run([uv(), "pip", *args, *local, "--python", str(self.python)], capture_output=True,
                              text=True)

    def make(self) -> None:
        """Create the environment once (kept in the cache; a half-made one is made again)."""
        stamp = self.folder / "bn-behaviour-ready"
        if stamp.exists():
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        self._say(f"making {self.folder} from {self.session.session}'s install ({' '.join(self.session.install)})")
        proc = subprocess.run([uv(), "venv", "-q", "--python", sys.executable, str(self.folder)],
                              capture_output=True, text=True)
        install = self.session.install
        # As the nox session: the framework first (it pulls its own Keras), what the session removes, the rest;
        # then the released distribution a daily build stands in for, and the probe's needs.  (Removing a
        # distribution after another that shares its files was installed, keras after keras-nightly, would
        # delete those files.)
        steps = [("install", *_uv_args(install[:1])), ("uninstall", *self.session.remove),
                 ("install", *_uv_args(install[1:])), ("uninstall", *self.replaces), ("install", *PROBE_NEEDS)]
        for step in [s for s in steps if len(s) > 1]:
            if proc.returncode:
                break
            proc = self._uv(*step)
        if proc.returncode:
            raise NightlyError(f"cannot make the environment of {self.session.session}: {_last_line(proc.stderr)}")
        stamp.write_text(json.dumps(self.session.install) + "\n")

    def run(self, *args: str, target: str, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
        """``python ARGS`` in the environment, with this checkout's ``bn_behaviour`` importable."""
        own = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}  # the caller's choices are not its
        env = {**own, "PYTHONPATH": str(_package_root(self.cache)), "BN_BEHAVIOUR_TARGET": target}
        return subprocess.run([str(self.python), *args], capture_output=True, text=True, env=env,
                              cwd=cwd or self.folder)

    def probe(self, dist: str, version: str, target: str, rows: list[str]) -> Probe:
        """Install build ``version`` of ``dist`` in place and run ``rows`` on it."""
        where = ["--find-links", self.index, "--no-index"] if Path(self.index).is_dir() else ["--index-url",
                                                                                                self.index]
        proc = self._uv("install", "-q", "--no-deps", *where, f"{dist}=={version}")
        if proc.returncode:
            return Probe(version, error=f"does not install: {_last_line(proc.stderr)}")
        proc = self.run("-m", "bn_behaviour.history.probe", "--target", target, *rows, target=target)
        try:
            out = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            return Probe(version, error=f"does not run: {_last_line(proc.stderr)}")
        if out.get("error"):
            return Probe(version, error=out["error"], versions=out.get("versions", {}))
        return Probe(version, out["rows"], versions=out["versions"])

    def _say(self, line: str) -> None:
        if self.log:
            self.log(line)


def _package_root(cache: Path) -> Path:
    """A folder holding only this ``bn_behaviour`` (a link to it): the environments' ``PYTHONPATH``, which must
    not bring the rest of an installed package's site-packages along."""
    root = cache / f"package-{hashlib.sha256(str(PACKAGE).encode()).hexdigest()[:10]}"
    link = root / "bn_behaviour"
    if not link.exists():
        root.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(PACKAGE, target_is_directory=True)
        except FileExistsError:  # another environment of the same run made it
            pass
    return root


def _last_line(text: str) -> str:
    lines = [x.strip() for x in text.strip().splitlines() if x.strip()]
    return lines[-1] if lines else "(no message)"
