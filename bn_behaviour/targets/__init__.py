"""Targets: the implementations of BatchNormalization the matrix runs on.

The registry is data; a target's driver module is imported only when a
scenario actually runs, after the target's environment (e.g. KERAS_BACKEND)
is in place.

>>> sorted(TARGETS)[:2]
['keras-jax', 'keras-tensorflow']
>>> resolve("nope")
Traceback (most recent call last):
...
bn_behaviour.targets.TargetError: unknown target 'nope'; valid targets: keras-tensorflow, keras-jax, keras-torch, tf_keras, tf1
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass, field
from typing import Optional


class TargetError(Exception):
    """A target name that is unknown or not usable here (a usage error)."""


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    #: Import names that must be importable.
    requires: tuple[str, ...]
    #: Distribution whose version the known deviations are pinned against.
    implementation: str
    #: What to run to install it.
    install: str
    #: Environment set before any framework is imported.
    env: dict[str, str] = field(default_factory=dict)
    #: Module (under bn_behaviour.targets) holding ``run(scenario) -> Raw``.
    driver: str = ""
    #: Moving-variance convention: True for Bessel-corrected batch variance.
    bessel: bool = False
    #: Distributions whose versions every report records.
    versions_of: tuple[str, ...] = ("numpy",)
    #: The documented rule this implementation claims (a key of bn_behaviour.rules.RULES).
    rule: str = "tf2"
    #: Axis values that do not exist on this target: axis -> {value: reason}.
    unsupported: dict[str, dict[str, str]] = field(default_factory=dict)

    def exclusion_reason(self, s) -> Optional[str]:
        """Why ``s`` is not run on this target (beyond the generic exclusions), or None."""
        for axis, values in self.unsupported.items():
            why = values.get(getattr(s, axis))
            if why:
                return f"{axis}={getattr(s, axis)} on {self.name}: {why}"
        return None

    def scenarios(self) -> list:
        """The matrix for this target: every generic scenario it supports."""
        from ..scenario import generate

        return [s for s in generate() if self.exclusion_reason(s) is None]

    def missing(self) -> Optional[str]:
        """Why this target cannot run here, or None."""
        for mod in self.requires:
            if importlib.util.find_spec(mod) is None and not _bundled(mod):
                return f"{mod} is not installed (install with: {self.install})"
        if not self.driver:
            return f"target {self.name} has no driver in this version of bn-behaviour"
        return None

    def version(self) -> str:
        return _dist_version(self.implementation)

    def versions(self) -> dict[str, str]:
        return {d: _dist_version(d) for d in (self.implementation, *self.versions_of)}

    def activate(self) -> None:
        """Put the target's environment in place (before any framework import)."""
        for k, v in self.env.items():
            if k == "TF_USE_LEGACY_KERAS" and importlib.util.find_spec("tf_keras") is None and _keras2_in_tensorflow():
                continue  # tf.keras already is Keras 2 there; the switch would look for the absent tf_keras
            os.environ[k] = v

    def load_driver(self):
        from ..timing import PHASES

        self.activate()
        with PHASES("import"):  # the framework's import, once per process
            return importlib.import_module(f"bn_behaviour.targets.{self.driver}")


#: Other distributions that install the same import package (nightlies).
_ALIASES = {"keras": ("keras-nightly",), "tensorflow": ("tf-nightly", "tensorflow-cpu"),
            "tf_keras": ("tf-keras-nightly",)}


def _keras2_in_tensorflow() -> bool:
    """TensorFlow before 2.16, whose own tf.keras is Keras 2 (the ``keras`` 2.x distribution)."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(_dist_version("tensorflow")) < Version("2.16") and _dist_version("keras").startswith("2.")
    except InvalidVersion:
        return False


def _bundled(module: str) -> bool:
    """Whether ``module`` is missing but TensorFlow bundles its equivalent (tf_keras as tf.keras)."""
    return module == "tf_keras" and _keras2_in_tensorflow()


def _dist_version(dist: str) -> str:
    for name in (dist, *_ALIASES.get(dist, ())):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    if dist == "tf_keras" and _keras2_in_tensorflow():
        return _dist_version("keras")
    return "not installed"


#: Silence TensorFlow's C++ start-up logging in every target process.
_QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3"}

TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        Target(
            name="keras-tensorflow",
            description="Keras 3 on the TensorFlow backend",
            requires=("keras", "tensorflow"),
            implementation="keras",
            install='pip install "bn-behaviour[tensorflow]"',
            env={"KERAS_BACKEND": "tensorflow", **_QUIET},
            driver="keras3",
            versions_of=("tensorflow", "numpy"),
        ),
        Target(
            name="keras-jax",
            description="Keras 3 on the JAX backend",
            requires=("keras", "jax"),
            implementation="keras",
            install='pip install "bn-behaviour[jax]"',
            env={"KERAS_BACKEND": "jax", **_QUIET},
            driver="keras3",
            # Keras 3 updates moving_variance with the biased batch variance on
            # every backend (checked numerically by every `updated` case).
            bessel=False,
            versions_of=("jax", "jaxlib", "numpy"),
        ),
        Target(
            name="keras-torch",
            description="Keras 3 on the PyTorch backend",
            requires=("keras", "torch"),
            implementation="keras",
            install='pip install "bn-behaviour[torch]"',
            env={"KERAS_BACKEND": "torch", **_QUIET},
            driver="keras3",
            # Biased batch variance, as on every Keras 3 backend (checked numerically).
            bessel=False,
            versions_of=("torch", "numpy"),
            unsupported={
                "path": {
                    "call_graph": "the PyTorch backend has no traced function the user wraps a call in "
                    "(Keras runs torch eagerly; torch.compile is an optional compiler, not a tracing "
                    "API with tf.function's or jax.jit's semantics)",
                },
            },
        ),
        Target(
            name="tf_keras",
            description="Keras 2 (tf_keras)",
            requires=("tf_keras", "tensorflow"),
            implementation="tf_keras",
            install='pip install "bn-behaviour[tf_keras]"',
            env={"TF_USE_LEGACY_KERAS": "1", **_QUIET},
            driver="tf_keras",
            # (N, C) inputs never take the fused kernel; the non-fused path keeps
            # the biased batch variance (checked numerically by every `updated`
            # case).  The fused 4-D path is Bessel-corrected: see test_fused.py.
            bessel=False,
            versions_of=("tensorflow", "numpy"),
        ),
        Target(
            name="tf1",
            description="tf.compat.v1.layers.batch_normalization in graph mode",
            requires=("tf_keras", "tensorflow"),
            implementation="tensorflow",
            install='pip install "bn-behaviour[tf_keras]"',
            env={"TF_USE_LEGACY_KERAS": "1", **_QUIET},
            driver="tf1",
            # The driver feeds rank-4 images, so the default fused kernel runs and
            # keeps the Bessel-corrected variance (rank-2 input would not: see
            # the driver's docstring and tests/test_seed_tf1.py).
            bessel=True,
            versions_of=("tf_keras", "numpy"),
            rule="tf1",
            unsupported={
                "model": dict.fromkeys(
                    ["sequential", "functional", "subclassed", "nested", "base_training_false"],
                    "the TF1 function is applied to a tensor in a graph; there is no Keras model around it",
                ),
                "frozen": {
                    "layer": "the function returns a tensor, not a layer, so trainable=False "
                    "can only be passed to it (frozen=layer_ctor)",
                    **dict.fromkeys(
                        ["inner_model", "outer_model", "outer_then_layer", "unfrozen"],
                        "there is no model to freeze or unfreeze",
                    ),
                },
                "when": dict.fromkeys(
                    ["after_compile", "after_compile_recompile", "after_fit", "after_fit_recompile"],
                    "graph mode has no compile() and trainable is fixed when the graph is built",
                ),
                "path": {
                    "call_graph": "in graph mode every sess.run is already a graph run: "
                    "it would be path=call again",
                    **dict.fromkeys(
                        ["fit", "train_on_batch", "evaluate", "test_on_batch", "predict", "predict_on_batch"],
                        "there is no compile()/fit(): the TF1 function has no Keras model",
                    ),
                },
            },
        ),
    ]
}


def default_name() -> str:
    """BN_BEHAVIOUR_TARGET, else Keras 3 on KERAS_BACKEND (default tensorflow)."""
    env = os.environ.get("BN_BEHAVIOUR_TARGET")
    if env:
        return env
    return f"keras-{os.environ.get('KERAS_BACKEND', 'tensorflow')}"


def resolve(name: Optional[str]) -> Target:
    """The target called ``name`` (or the default), or a one-line TargetError."""
    name = name or default_name()
    if name not in TARGETS:
        raise TargetError(f"unknown target {name!r}; valid targets: {', '.join(TARGETS)}")
    return TARGETS[name]


def require(name: Optional[str]) -> Target:
    """Like :func:`resolve`, and the target must be runnable here."""
    target = resolve(name)
    why = target.missing()
    if why:
        usable = [n for n, t in TARGETS.items() if t.missing() is None]
        raise TargetError(
            f"target {target.name!r} cannot run here: {why}; usable here: {', '.join(usable) or 'none'}"
            f"; valid targets: {', '.join(TARGETS)}"
        )
    return target
