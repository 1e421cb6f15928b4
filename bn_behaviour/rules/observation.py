"""Observations: what truly happened, classified against the NumPy reference.

A target's driver returns :class:`Facts` (the layer's output, its variables
before and after the path, its weight lists, the error raised), which nobody
changes afterwards; :class:`Params` holds the numbers needed to judge them
(the input, momentum, epsilon, variance convention, tolerance, axis, mask),
derived from the case and the target, never read from the layer under test.
:func:`classify` turns the two into a categorical :class:`Observation`.
Nothing here imports a framework.

>>> import numpy as np
>>> x = np.array([[0.0], [4.0]])
>>> state = dict(gamma=np.ones(1), beta=np.zeros(1), moving_mean=np.zeros(1), moving_variance=np.ones(1))
>>> classify_mode(x, x / np.sqrt(1 + 1e-3), state)
'inference'
>>> classify_mode(x, np.array([[-1.0], [1.0]]), state)
'training'
>>> classify_mode(x, x * 3, state)
'neither'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import numpy as np

from . import reference

#: Comparison tolerance.  float32 carries ~7 digits (eps = 1.2e-7); the
#: observed values pass through a mean, a variance, an rsqrt and an affine
#: map over a batch of 8, so errors of a few hundred ulp (~1e-5) are normal.
#: 1e-4 keeps a 10x margin above that and stays four orders of magnitude
#: below the training/inference gap the inputs guarantee (> 0.5).
RTOL = 1e-4
ATOL = 1e-4

STATE_NAMES = ("gamma", "beta", "moving_mean", "moving_variance")


@dataclass(frozen=True)
class Facts:
    """What a driver read from the framework for one case (never changed once returned)."""

    output: Optional[np.ndarray]  # the layer's output, when the path reveals it
    before: dict[str, np.ndarray]  # the layer's variables just before the observed path
    after: dict[str, np.ndarray]  # ... and just after it
    trainable_weights: list[str]
    non_trainable_weights: list[str]
    model_trainable_weights: list[str]
    error: Optional[str] = None
    variable_dtypes: Optional[str] = None  # "float32", or ``name=dtype`` for each variable that is not


@dataclass(frozen=True)
class Params:
    """The numbers a case is judged with, derived from the case and the target."""

    x: np.ndarray  # the observed batch, as the reference sees it
    trains: bool  # whether the path runs a training step (gamma/beta can move)
    momentum: float = reference.MOMENTUM
    epsilon: float = reference.EPSILON
    bessel: bool = False  # the moving-variance convention (True: Bessel-corrected)
    axis: int = -1  # the channel axis
    mask: Optional[np.ndarray] = None  # positions that count for the batch statistics
    rtol: float = RTOL  # output tolerance (wider for float16 outputs, for large offsets)
    atol: float = ATOL
    virtual_batch: Optional[int] = None  # tf_keras virtual_batch_size (ghost batches)
    renorm: Optional[dict] = None  # Batch Renormalization's renorm_clipping (renorm=True)
    time_axis: Optional[int] = None  # TimeDistributed: the layer is applied to every slice along this axis


@dataclass
class Observation:
    """The categorical result of one scenario; this is what the report holds."""

    mode: str  # training | inference | neither | n/a (no output)
    moving_stats: str  # updated | unchanged | updated_otherwise
    affine: str  # updated | unchanged | n/a
    trainable_weights: list[str] = field(default_factory=list)
    non_trainable_weights: list[str] = field(default_factory=list)
    model_trainable_weights: list[str] = field(default_factory=list)
    error: Optional[str] = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


GAMMA_BETA = ["beta", "gamma"]
MOVING = ["moving_mean", "moving_variance"]


def expectation(mode: str, affine: str, layer_trainable: bool, model_trainable: bool) -> dict:
    """The full observation a rule predicts from its decisions.

    Shared by every rule: the moving statistics move exactly when the batch
    is normalised in training mode; gamma/beta are trainable weights of the
    layer (and of the model) exactly when the rule says so; nothing raises.

    >>> e = expectation("inference", "n/a", layer_trainable=False, model_trainable=False)
    >>> e["moving_stats"], e["trainable_weights"], e["non_trainable_weights"]
    ('unchanged', [], ['beta', 'gamma', 'moving_mean', 'moving_variance'])
    """
    return Observation(
        mode=mode,
        moving_stats="updated" if mode == "training" else "unchanged",
        affine=affine,
        trainable_weights=GAMMA_BETA if layer_trainable else [],
        non_trainable_weights=sorted(MOVING + ([] if layer_trainable else GAMMA_BETA)),
        model_trainable_weights=GAMMA_BETA if model_trainable else [],
        error=None,
    ).as_dict()


def _close(a, b, rtol=RTOL, atol=ATOL) -> bool:
    return bool(np.allclose(np.asarray(a, np.float64), b, rtol=rtol, atol=atol))


def training_reference(x, before, epsilon=reference.EPSILON, axis=-1, mask=None, virtual_batch=None, renorm=None):
    """The reference training-mode output: the batch's own statistics (per contiguous ghost batch
    with ``virtual_batch``, for failure messages; with Batch Renormalization's correction against
    the renorm statistics the layer had before, with ``renorm``)."""
    if virtual_batch:
        groups = tuple(tuple(range(i, i + virtual_batch)) for i in range(0, len(x), virtual_batch))
        return reference.ghost_training_output(x, before["gamma"], before["beta"], groups, epsilon, axis)
    g, b = before["gamma"], before["beta"]
    if renorm is not None:
        return reference.renorm_training_output(x, g, b, before["renorm_mean"], before["renorm_stddev"], renorm,
                                                epsilon, axis)
    return reference.training_output(x, g, b, epsilon, axis, mask)


def classify_mode(x, output, before, *, epsilon=reference.EPSILON, axis=-1, mask=None, rtol=RTOL, atol=ATOL,
                  virtual_batch=None, renorm=None, time_axis=None) -> str:
    """Which statistics normalised ``x``: the batch's own, the moving ones, or neither.

    A fully masked batch (``reference.fully_masked``) has no statistics of its own, so its output
    is ``inference`` or ``neither``.  With ``time_axis`` (TimeDistributed) the batch's own statistics
    may be each timestep's or the N*T samples' (:func:`classify_statistics` says which).
    """
    if output is None:
        return "n/a"
    g, b = before["gamma"], before["beta"]
    own = not reference.fully_masked(mask)  # whether the batch has statistics of its own
    if time_axis is not None and _close(output, reference.per_timestep_training_output(x, g, b, epsilon, time_axis),
                                        rtol, atol):
        return "training"
    if own and virtual_batch:  # some split into sub-batches (the docstring does not say which samples go together)
        if any(_close(output, reference.ghost_training_output(x, g, b, groups, epsilon, axis), rtol, atol)
               for groups in reference.ghost_partitions(len(x), virtual_batch)):
            return "training"
    elif own and _close(output, training_reference(x, before, epsilon, axis, mask, renorm=renorm), rtol, atol):
        return "training"
    inference = reference.inference_output(
        x, before["moving_mean"], before["moving_variance"], g, b, epsilon, axis
    )
    if _close(output, inference, rtol, atol):
        return "inference"
    return "neither"


def classify_moving_stats(x, before, after, *, momentum=reference.MOMENTUM, bessel=False, axis=-1, mask=None,
                          virtual_batch=None, renorm=None, epsilon=reference.EPSILON, time_axis=None) -> str:
    """``unchanged``, ``updated`` (exactly one reference momentum step on ``x``) or ``updated_otherwise``.

    The moving statistics are float32 variables updated in float32 whatever
    the precision policy, so the float32 tolerance applies.  A fully masked
    batch has no statistics to step towards: any change is ``updated_otherwise``.
    """
    old = (before["moving_mean"], before["moving_variance"])
    new = (after["moving_mean"], after["moving_variance"])
    if all(np.array_equal(o, n) for o, n in zip(old, new)):
        return "unchanged"
    if reference.fully_masked(mask):
        candidates = []
    elif virtual_batch:
        candidates = [tuple(reference.moving_update(o, m, momentum) for o, m in
                            zip(old, reference.ghost_moments(x, groups, axis, bessel)))
                      for groups in reference.ghost_partitions(len(x), virtual_batch)]
    elif renorm is not None:
        candidates = [reference.renorm_moving_stats(x, old[0], before["moving_stddev"], momentum, epsilon, axis)]
    else:
        candidates = [reference.updated_moving_stats(x, *old, momentum=momentum, axis=axis, bessel=bessel,
                                                     mask=mask)]
    if time_axis is not None:  # or one step per timestep, in time order (TimeDistributed)
        candidates.append(reference.per_timestep_moving_stats(x, *old, momentum, bessel, time_axis))
    if any(all(_close(n, e) for n, e in zip(new, expected)) for expected in candidates):
        return "updated"
    return "updated_otherwise"


def classify_statistics(facts: Facts, p: Params) -> str:
    """TimeDistributed: which batch statistics the layer took, ``per_timestep`` (each temporal slice its own
    batch: its output, or one moving step per timestep) or ``pooled`` (the N*T samples at once, one step);
    ``n/a`` when it took none (inference mode, statistics unchanged) or neither form matches.

    Both forms "apply a layer to every temporal slice" (the wrapper's documentation), so this is published
    beside the observation, not judged.
    """
    x, b, a, t = p.x, facts.before, facts.after, p.time_axis
    if facts.output is not None:
        out = np.asarray(facts.output, np.float64)
        if _close(out, reference.per_timestep_training_output(x, b["gamma"], b["beta"], p.epsilon, t), p.rtol, p.atol):
            return "per_timestep"
        if _close(out, reference.training_output(x, b["gamma"], b["beta"], p.epsilon), p.rtol, p.atol):
            return "pooled"
    new = (a["moving_mean"], a["moving_variance"])
    forms = {"per_timestep": reference.per_timestep_moving_stats(x, b["moving_mean"], b["moving_variance"],
                                                                 p.momentum, p.bessel, t),
             "pooled": reference.updated_moving_stats(x, b["moving_mean"], b["moving_variance"], p.momentum,
                                                      bessel=p.bessel)}
    return next((name for name, e in forms.items() if all(_close(n, v) for n, v in zip(new, e))), "n/a")


def classify_affine(before, after, trains: bool) -> str:
    """Whether gamma/beta moved during a path that runs a training step."""
    if not trains:
        return "n/a"
    same = all(np.array_equal(before[k], after[k]) for k in ("gamma", "beta"))
    return "unchanged" if same else "updated"


def classify(facts: Facts, p: Params) -> Observation:
    """The categorical observation of ``facts`` judged with ``p``."""
    return Observation(
        mode=classify_mode(p.x, facts.output, facts.before, epsilon=p.epsilon, axis=p.axis, mask=p.mask,
                           rtol=p.rtol, atol=p.atol, virtual_batch=p.virtual_batch, renorm=p.renorm,
                           time_axis=p.time_axis),
        moving_stats=classify_moving_stats(p.x, facts.before, facts.after, momentum=p.momentum, bessel=p.bessel,
                                           axis=p.axis, mask=p.mask, virtual_batch=p.virtual_batch,
                                           renorm=p.renorm, epsilon=p.epsilon, time_axis=p.time_axis),
        affine=classify_affine(facts.before, facts.after, p.trains),
        trainable_weights=sorted(facts.trainable_weights),
        non_trainable_weights=sorted(facts.non_trainable_weights),
        model_trainable_weights=sorted(facts.model_trainable_weights),
        error=facts.error,
    )


def _training(facts: Facts, p: Params) -> np.ndarray:
    return training_reference(p.x, facts.before, p.epsilon, p.axis, p.mask, p.virtual_batch, p.renorm)


def describe_numbers(facts: Facts, p: Params) -> str:
    """The numbers behind a classification, for failure messages."""
    lines = []
    b = facts.before
    if facts.output is not None:
        infer = reference.inference_output(p.x, b["moving_mean"], b["moving_variance"], b["gamma"], b["beta"],
                                           p.epsilon, p.axis)
        out = np.asarray(facts.output, np.float64)
        lines.append(f"output[0]              = {np.round(out[0], 5).tolist()}")
        if reference.fully_masked(p.mask):
            lines.append("reference training[0]  = none (every position is masked out: no batch statistics)")
        else:
            lines.append(f"reference training[0]  = {np.round(_training(facts, p)[0], 5).tolist()}")
        lines.append(f"reference inference[0] = {np.round(infer[0], 5).tolist()}")
    for k in STATE_NAMES:
        lines.append(
            f"{k:16s} before {np.round(b[k], 6).tolist()}"
            f" after {np.round(facts.after[k], 6).tolist()}"
        )
    return "\n".join(lines)


def measure(facts: Facts, p: Params, mode: str) -> dict[str, Optional[float]]:
    """Numeric errors against the reference, for reports (the checks use tolerances, not these).

    ``output_error``: the largest absolute difference between the output and
    the reference output of the observed ``mode`` (as :func:`classify` decided
    it; training mode when the output matches neither, inference mode for a fully masked batch,
    which has no training-mode reference); ``batch_variance_error``: the
    largest relative difference between the batch variance the moving update
    implies, ``(after - momentum * before) / (1 - momentum)``, and the
    reference batch variance (None when the statistics did not move or the batch has none).
    """
    out = {"output_error": None, "batch_variance_error": None}
    b, a = facts.before, facts.after
    empty = reference.fully_masked(p.mask)
    if facts.output is not None:
        if mode == "inference" or empty:
            ref = reference.inference_output(p.x, b["moving_mean"], b["moving_variance"], b["gamma"], b["beta"],
                                             p.epsilon, p.axis)
        else:
            ref = _training(facts, p)
        out["output_error"] = float(np.max(np.abs(np.asarray(facts.output, np.float64) - ref)))
    plain = p.virtual_batch is None and p.renorm is None and not empty  # the plain update's implied variance
    if plain and not np.array_equal(a["moving_variance"], b["moving_variance"]):
        implied = (a["moving_variance"] - p.momentum * b["moving_variance"]) / (1 - p.momentum)
        _, var = reference.batch_moments(p.x, p.axis, p.bessel, p.mask)
        out["batch_variance_error"] = float(np.max(np.abs(implied / var - 1)))
    return out
