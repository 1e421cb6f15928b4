"""Stage 2, how each implementation runs a case: the targets and their drivers.

The registry is data, and everything a target can do is on its entry: its
rule, its backend, its variance conventions, which matrices, settings and
axis values it lacks (``unsupported``, each with the reason), whether
``--bn-layer`` can replace its class.  Adding a target is one entry here plus
its driver module, which is imported only when a case actually runs, after
the target's environment (e.g. KERAS_BACKEND) is in place.

>>> sorted(TARGETS)[:2]
['keras-jax', 'keras-tensorflow']
>>> resolve("nope")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
bn_behaviour.targets.TargetError: unknown target 'nope'; valid targets: keras-tensorflow, keras-jax, keras-torch, ...
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass, field
from typing import Optional

from packaging.version import InvalidVersion, Version

from ..cases import inputs
from ..cases.scenario import AXES as SCENARIO_AXES
from ..cases.scenario import Scenario, generate
from ..isolation.timing import PHASES
from . import environment
from .environment import PROCESS_DIR


class TargetError(Exception):
    """A target name that is unknown or not usable here (a usage error)."""


#: The moving-variance updates a class may declare: Bessel-corrected or not (PyTorch's and TF1's are).
VARIANCES = {"biased": False, "bessel": True}


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
    #: Module (under bn_behaviour.targets) holding ``run(scenario, setup, layer_cls) -> Facts``.
    driver: str = ""
    #: The framework that executes the layer: ``tensorflow``, ``jax`` or ``torch``.
    backend: str = "tensorflow"
    #: Moving-variance convention: True for Bessel-corrected batch variance.
    bessel: bool = False
    #: The convention of the fused kernel on 4-D input, for a target that has one (None: no fused kernel).
    fused_bessel: Optional[bool] = None
    #: ``momentum`` and ``epsilon`` the layer runs with (the reference judges with these).
    momentum: float = inputs.MOMENTUM
    epsilon: float = inputs.EPSILON
    #: Distributions whose versions every report records.
    versions_of: tuple[str, ...] = ("numpy",)
    #: The documented rule this implementation claims (a key of ``bn_behaviour.rules.RULES``).
    rule: str = "tf2"
    #: The genuine layer class ``--bn-layer`` replaces (None: there is no class to replace).
    layer_class: Optional[str] = None
    #: What this target lacks: axis (or ``matrix``) -> {value: reason}.
    unsupported: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The moving-variance update the class under test declares (in :data:`VARIANCES`; None: the target's).
    variance: Optional[str] = None

    def with_variance(self, variance: str) -> "Target":
        """This target judging a class whose moving-variance update is ``variance`` (``--bn-variance``),
        fused kernel or not.

        >>> TARGETS["keras-torch"].with_variance("bessel").convention(), TARGETS["keras-torch"].convention()
        (True, False)
        """
        if variance not in VARIANCES:
            raise TargetError(f"variance {variance!r} is not one of {', '.join(VARIANCES)}")
        return dataclasses.replace(self, bessel=VARIANCES[variance], fused_bessel=None, variance=variance)

    def exclusion_reason(self, case) -> Optional[str]:
        """Why ``case`` (any case type) does not run on this target, or None."""
        axes = case.axes()
        for axis, values in self.unsupported.items():
            why = values.get(axes.get(axis))
            if why:
                return f"{axis}={axes[axis]} on {self.name}: {why}"
        return None

    def lacks(self, matrix: str) -> Optional[str]:
        """Why this target does not run the matrix called ``matrix``, or None."""
        return self.unsupported.get("matrix", {}).get(matrix)

    def convention(self, fused_kernel: bool = False) -> bool:
        """The moving-variance convention of a case (True: Bessel-corrected), given whether it
        takes the fused kernel where the target has one."""
        return self.fused_bessel if fused_kernel and self.fused_bessel is not None else self.bessel

    def scenarios(self) -> list[Scenario]:
        """The main matrix for this target: every generic scenario it supports."""
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
        """Put the target's environment in place, before any framework import: each variable the user has
        not set (``environment.apply``); one set otherwise that this target cannot run with is a TargetError."""
        env = dict(self.env)
        if "TF_USE_LEGACY_KERAS" in env and importlib.util.find_spec("tf_keras") is None and _keras2_in_tensorflow():
            del env["TF_USE_LEGACY_KERAS"]  # tf.keras already is Keras 2 there; the switch would look for tf_keras
        why = environment.apply(self.name, env, TARGETS)
        if why:
            raise TargetError(why)

    def load_driver(self):
        self.activate()
        with PHASES("import"):  # the framework's import, once per process
            return importlib.import_module(f"bn_behaviour.targets.{self.driver}")


#: Other distributions that install the same import package (nightlies).
ALIASES = {"keras": ("keras-nightly",), "tensorflow": ("tf-nightly", "tensorflow-cpu"),
            "tf_keras": ("tf-keras-nightly",)}


def _keras2_in_tensorflow() -> bool:
    """TensorFlow before 2.16, whose own tf.keras is Keras 2 (the ``keras`` 2.x distribution)."""
    try:
        return Version(_dist_version("tensorflow")) < Version("2.16") and _dist_version("keras").startswith("2.")
    except InvalidVersion:
        return False


def _bundled(module: str) -> bool:
    """Whether ``module`` is missing but TensorFlow bundles its equivalent (tf_keras as tf.keras)."""
    return module == "tf_keras" and _keras2_in_tensorflow()


def _dist_version(dist: str) -> str:
    for name in (dist, *ALIASES.get(dist, ())):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    if dist == "tf_keras" and _keras2_in_tensorflow():
        return _dist_version("keras")
    return "not installed"


#: Silence TensorFlow's C++ start-up logging in every target process (a level the user set stays theirs).
_QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3"}
#: JAX compiles every case's jitted step to the same XLA program as the last case's (a new model is a new
#: function to ``jax.jit``, so its in-memory cache never hits); JAX's compilation cache, in a folder of
#: this process only (empty at start: a run from scratch stays from scratch), compiles each program once.
#: Half the keras-jax run's time was these repeated compilations.
_JAX_ONCE = {"JAX_COMPILATION_CACHE_DIR": PROCESS_DIR, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
             "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1"}


#: What Keras 3 lacks of tf_keras' BatchNormalization (settings of bn_behaviour.cases.setting, matrices).
_KERAS3_LACKS = {
    "matrix": {"fused": "Keras 3 has no fused kernel (fused is a tf_keras argument)"},
    "setting": {
        "fused": "only tf_keras has a fused argument",
        "unfused": "only tf_keras has a fused argument",
        "virtual_batch": "virtual_batch_size is a tf_keras argument (Keras 3 has none)",
        "saved_tf": "Keras 3's model.save() takes .keras (and legacy .h5) only; SavedModel is export() for serving",
    },
}

_TF_KERAS = Target(
    name="tf_keras",
    description="Keras 2 (tf_keras)",
    requires=("tf_keras", "tensorflow"),
    implementation="tf_keras",
    install='pip install "bn-behaviour[tf_keras]"',
    env={"TF_USE_LEGACY_KERAS": "1", **_QUIET},
    driver="tf_keras",
    backend="tensorflow",
    # (N, C) inputs never take the fused kernel; the non-fused path keeps
    # the biased batch variance (checked numerically by every `updated`
    # case).  The fused 4-D kernel keeps the Bessel-corrected one: the kernel
    # returns the unbiased batch variance and tf_keras keeps it
    # (``_bessels_correction_test_only = True`` in BatchNormalizationBase;
    # checked by test_fused_variance_convention).
    bessel=False,
    fused_bessel=True,
    versions_of=("tensorflow", "numpy"),
    layer_class="tf_keras.layers.BatchNormalization",
)

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
            backend="tensorflow",
            versions_of=("tensorflow", "numpy"),
            layer_class="keras.layers.BatchNormalization",
            unsupported=_KERAS3_LACKS,
        ),
        Target(
            name="keras-jax",
            description="Keras 3 on the JAX backend",
            requires=("keras", "jax"),
            implementation="keras",
            install='pip install "bn-behaviour[jax]"',
            env={"KERAS_BACKEND": "jax", **_QUIET, **_JAX_ONCE},
            driver="keras3",
            backend="jax",
            # Keras 3 updates moving_variance with the biased batch variance on
            # every backend (checked numerically by every `updated` case).
            bessel=False,
            versions_of=("jax", "jaxlib", "numpy"),
            layer_class="keras.layers.BatchNormalization",
            unsupported={**_KERAS3_LACKS, "matrix": {
                **_KERAS3_LACKS["matrix"],
                "compiled": "the JAX backend compiles with XLA already: jit_compile=\"auto\" resolves to True on "
                "JAX (Trainer._resolve_auto_jit_compile), so the main matrix's compile()-based rows run an "
                "XLA-compiled step, and its traced call and custom step are jax.jit",
            }},
        ),
        Target(
            name="keras-torch",
            description="Keras 3 on the PyTorch backend",
            requires=("keras", "torch"),
            implementation="keras",
            install='pip install "bn-behaviour[torch]"',
            env={"KERAS_BACKEND": "torch", **_QUIET},
            driver="keras3",
            backend="torch",
            # Biased batch variance, as on every Keras 3 backend (checked numerically).
            bessel=False,
            versions_of=("torch", "numpy"),
            layer_class="keras.layers.BatchNormalization",
            unsupported={
                **_KERAS3_LACKS,
                "path": {
                    "call_graph": "not run: the PyTorch backend's traced call would be torch.compile around "
                    "model(x), which Keras itself never does (it runs torch eagerly unless compile(jit_compile="
                    "True), whose torch.compile'd steps the compiled matrix runs); each case would cost 15 to 50 s "
                    "of inductor compilation on CPU",
                },
            },
        ),
        _TF_KERAS,
        dataclasses.replace(
            _TF_KERAS,
            name="tf1-keras",
            description="tf.compat.v1.keras.layers.BatchNormalization (the TF1 meaning of trainable) in TF2 eager mode",
            # tf_keras' own code path (the v1 class only changes _USE_V2_BEHAVIOR): its conventions, its packages.
            driver="tf1_keras",
            rule="tf1-keras",
            layer_class="tf.compat.v1.keras.layers.BatchNormalization",
            unsupported={
                "model": {
                    **dict.fromkeys(
                        ["sequential", "subclassed"],
                        "the v1 class differs from tf_keras' own only inside the layer (_USE_V2_BEHAVIOR: what "
                        "trainable=False does to training, the fused default); a Sequential or a Model subclass "
                        "hands training and trainable to it through tf_keras' own model code exactly as the "
                        "functional model does (tf_keras' column compares the three), so functional, layer and "
                        "nested are this class's rows",
                    ),
                },
                "matrix": {
                    "settings": "the settings matrix is judged by the tf2 rule; this class follows tf1-keras",
                    "compiled": "the v1 class differs from tf_keras' own only inside the layer, whose graph XLA "
                    "compiles the same way: tf_keras' compiled rows are this class's compiled step",
                    "workflows": "the workflows build the target's Keras module's own (TF2) BatchNormalization,"
                    " not the v1 class",
                },
            },
        ),
        Target(
            name="tf1",
            description="tf.compat.v1.layers.batch_normalization in graph mode",
            requires=("tf_keras", "tensorflow"),
            implementation="tensorflow",
            install='pip install "bn-behaviour[tf_keras]"',
            env={"TF_USE_LEGACY_KERAS": "1", **_QUIET},
            driver="tf1",
            backend="tensorflow",
            # The driver feeds rank-4 images, so the default fused kernel runs and
            # keeps the Bessel-corrected variance (rank-2 input would not: see
            # the driver's docstring and tests/test_seed_tf1.py).
            bessel=True,
            # The function's own defaults (its docstring: momentum=0.99, epsilon=0.001); the driver passes
            # neither, as TF1 code rarely did (tests/test_seed_tf1.py checks the signature).
            momentum=0.99,
            epsilon=0.001,
            versions_of=("tf_keras", "numpy"),
            rule="tf1",
            unsupported={
                "matrix": {
                    "fused": "the tf1 driver already feeds every case as 4-D images through the fused kernel "
                    "(the function's fused=None means fused on rank-4 input), so the fused matrix would "
                    "repeat its main-matrix rows",
                    "settings": "the settings matrix follows the tf2 rule; tf1 follows tf1",
                    "workflows": "tf1 has no Keras model: the workflows are Keras workflows",
                    "compiled": "tf1 has no compile() and no tf.function: a TF1 graph is run by Session.run, "
                    "whose XLA (auto-clustering) is a session setting, not a path users choose per model",
                },
                "model": {
                    **dict.fromkeys(
                        [m for m in SCENARIO_AXES["model"] if m not in ("layer", "nested")],
                        "asks how a Keras model (a node, a Model subclass, a custom layer, TimeDistributed) "
                        "passes training to the layer; TF1 code passes training to the function call itself",
                    ),
                    **dict.fromkeys(
                        ["sequential", "functional", "subclassed"],
                        "TF1 graph code has no model object, only variable scopes: a single scope around the "
                        "function is model=layer with a name prefix; a scoped sub-network is model=nested",
                    ),
                    "base_training_false": "base(inputs, training=False) is, in TF1, training=False passed to "
                    "the function: model=nested with training=false",
                },
                "frozen": {
                    "outer_then_layer": "removing the outer scope's variables from TRAINABLE_VARIABLES and "
                    "adding the layer's back restores what was removed (the outer scope holds only the layer): "
                    "TF1 has no per-object trainable flag whose precedence this asks about",
                },
                "when": dict.fromkeys(
                    ["after_compile", "after_compile_recompile"],
                    "generated only with compile()-based paths, which TF1 lacks; minimize() building the "
                    "train op is custom_loop's traced step (when=after_fit*)",
                ),
                "path": {
                    "call_graph": "it asks whether a call traced by tf.function behaves as an eager one; a TF1 "
                    "call is already a graph run by Session.run (tf.function's TF1 counterpart): path=call. An "
                    "is_training placeholder changes how training is given (a tensor), which no training value "
                    "names",
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
