"""The settings matrix: the layer settings and precision policies real fine-tuning uses.

A second matrix beside the main one.  Each case is a *core* scenario of the
main matrix (a few rows whose rule is settled: training and inference calls,
a frozen call, ``fit()`` with and without a frozen layer, a custom training step) run with one
**setting** of the layer (input rank and channel axis, ``center`` /
``scale``, ``momentum`` / ``epsilon``, a mask, the fused kernel, a save and load, inputs with a
large offset) under one **precision** policy.  Its permanent ID is the core's
ID followed by ``-setting=<name>-precision=<policy>``, so the rows cite the
main matrix's.  Settings and precisions are data; which targets lack one is
data too (with the reason).

>>> case = SettingCase(CORES[0], "channels_first", "float32")
>>> case.id
'layer-frozen=none-when=before_compile-path=call-training=true-setting=channels_first-precision=float32'
>>> SettingCase.from_id(case.id) == case
True
>>> {t: len(generate(t)) for t in KERAS_TARGETS}
{'keras-tensorflow': 87, 'keras-jax': 87, 'keras-torch': 87, 'tf_keras': 105}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from . import inputs, reference
from .observation import RTOL
from .scenario import Scenario

#: The main-matrix rows every setting runs (their rule is the same on every Keras-style target).
CORES: tuple[Scenario, ...] = tuple(Scenario.from_id(i) for i in (
    "layer-frozen=none-when=before_compile-path=call-training=true",
    "layer-frozen=none-when=before_compile-path=call-training=false",
    "layer-frozen=layer-when=before_compile-path=call-training=true",
    "functional-frozen=none-when=before_compile-path=fit-training=none",
    "functional-frozen=layer-when=before_compile-path=fit-training=none",
    "functional-frozen=none-when=before_compile-path=custom_loop-training=true",
))
CALL_CORES = tuple(c for c in CORES if c.path == "call")
#: Cores with a model around the layer (what can be saved and loaded).
MODEL_CORES = tuple(c for c in CORES if c.model != "layer")
KERAS3 = ("keras-tensorflow", "keras-jax", "keras-torch")
KERAS_TARGETS = (*KERAS3, "tf_keras")
#: The offset of ``large_offset`` inputs (the issue: mean 1e4, unit variance, float32).
LARGE_OFFSET = 1e4
#: float32 carries 24 bits: values near 1e4 are spaced 2**-10 ~ 1e-3 apart, so
#: x - mean keeps ~1e-3 absolute error and the normalised output (~2 units
#: wide) a relative error of that order; 1e-2 keeps a 10x margin.
LARGE_OFFSET_TOL = 1e-2


@dataclass(frozen=True)
class Setting:
    name: str
    description: str
    #: Constructor arguments on top of the main matrix's (``targets.common.layer_kwargs``).
    layer: dict[str, Any] = field(default_factory=dict)
    #: ``flat`` (N, C), ``image`` (N, H, W, C), ``image_nchw`` (N, C, H, W) or ``large_offset``.
    data: str = "flat"
    axis: int = -1
    momentum: float = reference.MOMENTUM
    epsilon: float = reference.EPSILON
    mask: bool = False
    #: Targets that run it; the others are excluded with ``missing``'s reason.
    targets: tuple[str, ...] = KERAS_TARGETS
    missing: str = "not a setting of this implementation"
    #: Cores it runs (masks are call arguments: call cores only).
    cores: tuple[Scenario, ...] = CORES
    #: Targets whose moving-variance convention differs here (True: Bessel-corrected).
    bessel: dict[str, bool] = field(default_factory=dict)
    #: Output tolerance, when float32 arithmetic on the inputs cannot meet the default.
    tolerance: Optional[float] = None
    #: gamma / beta that exist (center=False has no beta, scale=False no gamma).
    affine: tuple[str, ...] = ("beta", "gamma")
    #: Save format the model goes through after the core's freeze and before it runs
    #: (``keras``, ``h5``, ``tf``): the loaded model must remember ``trainable``.
    persist: Optional[str] = None
    #: tf_keras ``virtual_batch_size``: ghost batches of this many samples.
    virtual_batch: Optional[int] = None
    #: ``renorm=True`` (its ``renorm_clipping`` is in ``layer``).
    renorm: bool = False
    #: Non-trainable variables the setting adds to the layer's weight lists.
    extra_variables: tuple[str, ...] = ()


#: Batch Renormalization's clipping for the ``renorm`` setting: the batch's r (sigma_B / sigma,
#: 1.5 to 3 here) and d (|mu_B - mu| / sigma, 2 to 5) are clipped, so the corrected output differs
#: from both plain batch normalisation and inference, and the documented clipping is exercised.
RENORM_CLIPPING = {"rmax": 1.5, "dmax": 0.5}
#: Keras 3 gained renorm in 3.14; tf_keras has always had it.
RENORM_TARGETS = KERAS_TARGETS

SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("default", "the main matrix's layer: (N, C) inputs, axis=-1"),
    Setting("channels_last", "(N, H, W, C) images, axis=-1", data="image",
            bessel={"tf_keras": True}),  # tf_keras fuses 4-D input by default: see test_fused.py
    Setting("channels_first", "(N, C, H, W) images, axis=1", layer={"axis": 1}, data="image_nchw", axis=1,
            bessel={"tf_keras": True}),  # tf_keras fuses 4-D input with axis 1 or 3 by default
    Setting("no_center", "center=False: no beta", layer={"center": False}, affine=("gamma",)),
    Setting("no_scale", "scale=False: no gamma", layer={"scale": False}, affine=("beta",)),
    Setting("momentum", "momentum=0.5", momentum=0.5),
    Setting("epsilon", "epsilon=0.5", epsilon=0.5),
    Setting("masked", "a mask excluding the last two samples, passed to the call", mask=True,
            targets=KERAS3, missing="tf_keras' BatchNormalization takes no mask", cores=CALL_CORES),
    Setting("fused", "fused=True on (N, H, W, C) images", layer={"fused": True}, data="image",
            targets=("tf_keras",), missing="only tf_keras has a fused argument", bessel={"tf_keras": True}),
    Setting("unfused", "fused=False on (N, H, W, C) images", layer={"fused": False}, data="image",
            targets=("tf_keras",), missing="only tf_keras has a fused argument"),
    Setting("renorm", f"Batch Renormalization (renorm=True, renorm_clipping={RENORM_CLIPPING})",
            layer={"renorm": True, "renorm_clipping": RENORM_CLIPPING}, renorm=True, targets=RENORM_TARGETS,
            extra_variables=("moving_stddev", "renorm_mean", "renorm_stddev")),
    Setting("virtual_batch", "Ghost Batch Normalization: virtual_batch_size=4 on batches of 8",
            layer={"virtual_batch_size": 4}, virtual_batch=4, targets=("tf_keras",),
            missing="virtual_batch_size is a tf_keras argument (Keras 3 has none)"),
    Setting("large_offset", f"inputs with mean {LARGE_OFFSET:g} and unit variance (float32)",
            data="large_offset", tolerance=LARGE_OFFSET_TOL),
    Setting("saved_keras", "the model saved to a .keras file after the freeze and loaded back before it runs",
            persist="keras", cores=MODEL_CORES),
    Setting("saved_h5", "the model saved to a legacy HDF5 .h5 file after the freeze and loaded back",
            persist="h5", cores=MODEL_CORES),
    Setting("saved_tf", "the model saved as a TensorFlow SavedModel after the freeze and loaded back",
            persist="tf", cores=MODEL_CORES, targets=("tf_keras",),
            missing="Keras 3's model.save() takes .keras (and legacy .h5) only; SavedModel is export() for serving"),
)}


@dataclass(frozen=True)
class Precision:
    name: str  #: the dtype policy's name
    #: NumPy rounding of a float32 array to the policy's compute dtype (what the layer receives).
    rounding: str
    #: Output tolerance: half an ulp of the compute dtype near the outputs' magnitude (<= 8), x4.
    tolerance: float


PRECISIONS: dict[str, Precision] = {p.name: p for p in (
    Precision("float32", "float32", RTOL),
    Precision("mixed_float16", "float16", 4 * 2.0**-11),
    Precision("mixed_bfloat16", "bfloat16", 4 * 2.0**-8),
)}
#: Settings that also run under the mixed policies (the rest stay float32 to keep the matrix small).
MIXED_SETTINGS = ("default", "channels_last")


def round_to(x: np.ndarray, dtype: str) -> np.ndarray:
    """``x`` rounded to ``dtype`` (round to nearest even) and back to float32.

    >>> round_to(np.array([1.0 + 2**-9], np.float32), "bfloat16")  # halfway: to even
    array([1.], dtype=float32)
    >>> round_to(np.array([1.0 + 3 * 2**-9], np.float32), "bfloat16")
    array([1.0078125], dtype=float32)
    >>> round_to(np.array([1.0001], np.float32), "float16")
    array([1.], dtype=float32)
    """
    x = np.asarray(x, np.float32)
    if dtype == "float32":
        return x
    if dtype == "float16":
        return x.astype(np.float16).astype(np.float32)
    bits = x.view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return bits.astype(np.uint32).view(np.float32)


def mask_for(x: np.ndarray) -> np.ndarray:
    """The ``masked`` setting's mask: every position of the last two samples is masked out."""
    m = np.ones(x.shape[:-1], dtype=bool)
    m[-2:] = False
    return m


@dataclass(frozen=True, order=True)
class SettingCase:
    core: Scenario
    setting: str
    precision: str

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise ValueError(f"unknown setting {self.setting!r}; valid: {', '.join(SETTINGS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; valid: {', '.join(PRECISIONS)}")

    @property
    def id(self) -> str:
        return f"{self.core.id}-setting={self.setting}-precision={self.precision}"

    # The core's axes, so deviation patterns select settings cases like scenarios.
    model = property(lambda self: self.core.model)
    frozen = property(lambda self: self.core.frozen)
    when = property(lambda self: self.core.when)
    path = property(lambda self: self.core.path)
    training = property(lambda self: self.core.training)

    def axes(self) -> dict[str, str]:
        return {**self.core.axes(), "setting": self.setting, "precision": self.precision}

    @classmethod
    def from_id(cls, case_id: str) -> "SettingCase":
        core, rest = case_id.split("-setting=", 1)
        setting, precision = rest.split("-precision=", 1)
        return cls(Scenario.from_id(core), setting, precision)

    def describe(self) -> str:
        policy = "" if self.precision == "float32" else f" under the {self.precision} policy"
        return f"{self.core.describe()[:-1]}; {SETTINGS[self.setting].description}{policy}."


def case_from_id(row_id: str):
    """The Scenario (main matrix), SettingCase (settings matrix) or WorkflowCase a row ID names.

    >>> case_from_id(CORES[0].id) == CORES[0], case_from_id(SettingCase(CORES[0], "epsilon", "float32").id).setting
    (True, 'epsilon')
    """
    if row_id.startswith("workflow="):
        from .workflow import WorkflowCase

        return WorkflowCase.from_id(row_id)
    return SettingCase.from_id(row_id) if "-setting=" in row_id else Scenario.from_id(row_id)


def exclusion_reason(case: SettingCase, target: str) -> Optional[str]:
    """Why ``case`` does not run on ``target``, or None."""
    st = SETTINGS[case.setting]
    if target not in st.targets:
        return f"setting={st.name} on {target}: {st.missing}"
    if case.core not in st.cores:
        return f"setting={st.name} runs the call scenarios only"
    if case.precision != "float32" and st.name not in MIXED_SETTINGS:
        return f"precision={case.precision} runs with settings {', '.join(MIXED_SETTINGS)} only"
    return None


def all_cases() -> list[SettingCase]:
    return [SettingCase(c, s, p) for s in SETTINGS for p in PRECISIONS for c in CORES]


def generate(target: str) -> list[SettingCase]:
    """The settings matrix of ``target``, in a stable order."""
    return [c for c in all_cases() if exclusion_reason(c, target) is None]


def data(case: SettingCase):
    """The batches of a case as ``targets.common.Data`` (observed, warm-up, targets), rounded to its precision."""
    from .targets.common import Data, flat_data, image_data

    st = SETTINGS[case.setting]
    base = image_data() if st.data.startswith("image") else flat_data()
    x, warm, y = base.x, base.warm, base.y
    if st.data == "image_nchw":
        x, warm, y = (np.ascontiguousarray(a.transpose(0, 3, 1, 2)) for a in (x, warm, y))
    if st.data == "large_offset":
        means, stds = np.array(inputs.CHANNEL_MEANS), np.array(inputs.CHANNEL_STDS)
        x, warm = ((LARGE_OFFSET + (a - means) / stds).astype(np.float32) for a in (x, warm))
    rounding = PRECISIONS[case.precision].rounding
    return Data(round_to(x, rounding), round_to(warm, rounding), y)
