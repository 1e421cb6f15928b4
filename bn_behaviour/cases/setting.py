"""The settings matrix: the layer settings and precision policies real fine-tuning uses.

A second matrix beside the main one.  Each case is a *core* scenario of the
main matrix (a few rows whose rule is settled: training and inference calls,
a frozen call, ``fit()`` with and without a frozen layer, a custom training step) run with one
**setting** of the layer (input rank and channel axis, ``center`` /
``scale``, ``momentum`` / ``epsilon``, a mask, the fused kernel, a save and load, inputs with a
large offset) under one **precision** policy.  Its permanent ID is the core's
ID followed by ``-setting=<name>-precision=<policy>``, so the rows cite the
main matrix's.  Settings and precisions are data; which targets lack a
setting, and why, is the target's (``Target.unsupported["setting"]``).

>>> case = SettingCase(CORES[0], "channels_first", "float32")
>>> case.id
'layer-frozen=none-when=before_compile-path=call-training=true-setting=channels_first-precision=float32'
>>> SettingCase.from_id(case.id) == case
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

import numpy as np

from . import inputs
from .inputs import EPSILON, MOMENTUM
from .scenario import AXES, Scenario

#: The main-matrix rows every setting runs (their rule is the same on every Keras-style target).
CORES: tuple[Scenario, ...] = tuple(Scenario.from_id(i) for i in (
    "layer-frozen=none-when=before_compile-path=call-training=true",
    "layer-frozen=none-when=before_compile-path=call-training=false",
    "layer-frozen=layer-when=before_compile-path=call-training=true",
    "functional-frozen=none-when=before_compile-path=fit-training=none",
    "functional-frozen=layer-when=before_compile-path=fit-training=none",
    "functional-frozen=none-when=before_compile-path=custom_loop-training=true",
))
#: Cores whose call the suite writes itself (an eager call, the custom training step's model call):
#: a mask is a call argument (``BatchNormalization.call``, a functional model's ``call``), and
#: ``fit()`` takes none.
MASK_CORES = tuple(c for c in CORES if c.path in ("call", "custom_loop"))
#: Cores with a model around the layer (what can be saved and loaded: a bare layer has no ``save()``).
MODEL_CORES = tuple(c for c in CORES if c.model != "layer")
#: Why a setting restricted to some cores leaves the others out (its ``exclusion_reason``).
CORES_REASONS = {
    MASK_CORES: "runs the scenarios whose call passes its mask: fit() takes no mask argument",
    MODEL_CORES: "runs the scenarios with a model to save: a bare layer has no save()",
}
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
    #: Constructor arguments on top of the main matrix's (``targets.network.layer_kwargs``).
    layer: dict[str, Any] = field(default_factory=dict)
    #: ``flat`` (N, C), ``image`` (N, H, W, C), ``image_nchw`` (N, C, H, W) or ``large_offset``.
    data: str = "flat"
    axis: int = -1
    momentum: float = MOMENTUM
    epsilon: float = EPSILON
    #: A mask passed to the call (``mask_for``): ``last_two`` (the last two samples masked out) or
    #: ``all`` (every position masked out: a fully masked batch); None: no mask.
    mask: Optional[str] = None
    #: Cores it runs (a key of ``CORES_REASONS`` when not all).
    cores: tuple[Scenario, ...] = CORES
    #: Whether a target with a fused kernel takes it here (tf_keras fuses 4-D input by default,
    #: axis 1 or 3): the moving-variance convention is then the target's ``fused_bessel``.
    fused_kernel: bool = False
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
SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("default", "the main matrix's layer: (N, C) inputs, axis=-1"),
    Setting("channels_last", "(N, H, W, C) images, axis=-1", data="image", fused_kernel=True),
    Setting("channels_first", "(N, C, H, W) images, axis=1", layer={"axis": 1}, data="image_nchw", axis=1,
            fused_kernel=True),
    Setting("no_center", "center=False: no beta", layer={"center": False}, affine=("gamma",)),
    Setting("no_scale", "scale=False: no gamma", layer={"scale": False}, affine=("beta",)),
    Setting("momentum", "momentum=0.5", momentum=0.5),
    Setting("epsilon", "epsilon=0.5", epsilon=0.5),
    Setting("masked", "a mask excluding the last two samples, passed to the call", mask="last_two",
            cores=MASK_CORES),
    Setting("masked_all", "a mask excluding every sample (a fully masked batch), passed to the call", mask="all",
            cores=MASK_CORES),
    Setting("fused", "fused=True on (N, H, W, C) images", layer={"fused": True}, data="image", fused_kernel=True),
    Setting("unfused", "fused=False on (N, H, W, C) images", layer={"fused": False}, data="image"),
    Setting("renorm", f"Batch Renormalization (renorm=True, renorm_clipping={RENORM_CLIPPING})",
            layer={"renorm": True, "renorm_clipping": RENORM_CLIPPING}, renorm=True,
            extra_variables=("moving_stddev", "renorm_mean", "renorm_stddev")),
    Setting("virtual_batch", "Ghost Batch Normalization: virtual_batch_size=4 on batches of 8",
            layer={"virtual_batch_size": 4}, virtual_batch=4),
    Setting("large_offset", f"inputs with mean {LARGE_OFFSET:g} and unit variance (float32)",
            data="large_offset", tolerance=LARGE_OFFSET_TOL),
    Setting("saved_keras", "the model saved to a .keras file after the freeze and loaded back before it runs",
            persist="keras", cores=MODEL_CORES),
    Setting("saved_h5", "the model saved to a legacy HDF5 .h5 file after the freeze and loaded back",
            persist="h5", cores=MODEL_CORES),
    Setting("saved_tf", "the model saved as a TensorFlow SavedModel after the freeze and loaded back",
            persist="tf", cores=MODEL_CORES),
)}


@dataclass(frozen=True)
class Precision:
    name: str  #: the dtype policy's name
    #: NumPy rounding of a float32 array to the policy's compute dtype (what the layer receives).
    rounding: str
    #: Output tolerance: half an ulp of the compute dtype near the outputs' magnitude (<= 8), x4;
    #: None: the float32 tolerance of ``bn_behaviour.rules.observation``.
    tolerance: Optional[float]


PRECISIONS: dict[str, Precision] = {p.name: p for p in (
    Precision("float32", "float32", None),
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


def mask_for(x: np.ndarray, which: str = "last_two") -> np.ndarray:
    """A setting's mask (the input's shape without the channel axis, true = counts): ``last_two``
    (``masked``) masks out every position of the last two samples, ``all`` (``masked_all``) every position.

    >>> mask_for(np.zeros((4, 3))), mask_for(np.zeros((4, 3)), "all")
    (array([ True,  True, False, False]), array([False, False, False, False]))
    """
    if which not in ("last_two", "all"):
        raise ValueError(f"unknown mask {which!r}; valid: last_two, all")
    m = np.ones(x.shape[:-1], dtype=bool)
    m[-2:] = False
    return m if which == "last_two" else np.zeros_like(m)


@dataclass(frozen=True, order=True)
class SettingCase:
    """A core scenario with one layer setting under one precision policy."""

    AXES: ClassVar[dict] = {**AXES, "setting": SETTINGS, "precision": PRECISIONS}
    #: A pattern selects settings cases only when it names ``setting``.
    PATTERN_NEEDS: ClassVar[frozenset[str]] = frozenset({"setting"})

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
        core, sep, rest = case_id.partition("-setting=")
        setting, sep2, precision = rest.partition("-precision=")
        if not (sep and sep2):
            raise ValueError(f"not a settings-matrix ID: {case_id!r}")
        return cls(Scenario.from_id(core), setting, precision)

    def describe(self) -> str:
        policy = "" if self.precision == "float32" else f" under the {self.precision} policy"
        return f"{self.core.describe()[:-1]}; {SETTINGS[self.setting].description}{policy}."


def exclusion_reason(case: SettingCase) -> Optional[str]:
    """Why ``case`` is not generated on any target, or None (a target's own gaps are the target's)."""
    st = SETTINGS[case.setting]
    if case.core not in st.cores:
        return f"setting={st.name} {CORES_REASONS[st.cores]}"
    if case.precision != "float32" and st.name not in MIXED_SETTINGS:
        return f"precision={case.precision} runs with settings {', '.join(MIXED_SETTINGS)} only"
    return None


def all_cases() -> list[SettingCase]:
    return [SettingCase(c, s, p) for s in SETTINGS for p in PRECISIONS for c in CORES]


def data(case: SettingCase) -> inputs.Data:
    """The batches of a case (observed, warm-up, targets), rounded to its precision."""
    st = SETTINGS[case.setting]
    base = inputs.image_data() if st.data.startswith("image") else inputs.flat_data()
    x, warm, y = base.x, base.warm, base.y
    if st.data == "image_nchw":
        x, warm, y = (np.ascontiguousarray(a.transpose(0, 3, 1, 2)) for a in (x, warm, y))
    if st.data == "large_offset":
        means, stds = np.array(inputs.CHANNEL_MEANS), np.array(inputs.CHANNEL_STDS)
        x, warm = ((LARGE_OFFSET + (a - means) / stds).astype(np.float32) for a in (x, warm))
    rounding = PRECISIONS[case.precision].rounding
    return inputs.Data(round_to(x, rounding), round_to(warm, rounding), y)
