"""The NumPy reference (bn_behaviour/rules/reference.py) against two independent implementations.

The harness judges every framework against its own reference; this module checks that reference
against two implementations it shares no code with, on the same seeded batches
(``bn_behaviour/cases/inputs.py``), after converting conventions (docs/reference.md):

* ONNX's ``BatchNormalization`` operator as its reference implementation runs it
  (``onnx.reference.ReferenceEvaluator``, opset 15; spec ONNX_SPEC, code ONNX_CODE);
* PyTorch's ``torch.nn.functional.batch_norm`` (TORCH_DOC, TORCH_FUNCTIONAL).

Conversions: both are channels-first (N, C, ...), so (N, H, W, C) images are transposed (or the
reference is called with ``axis=1`` on channels-first images); ONNX's ``momentum`` is Keras's,
torch's is its complement (the weight of the new value: ``1 - 0.99``); neither has Keras's default
epsilon (both default to 1e-5), so it is always passed.  What cannot be compared directly (the
moving-variance convention each one lacks, masks) is converted or derived, and each test says so.

It imports no Keras and no TensorFlow: only numpy, onnx and torch.  Each implementation is skipped
(``pytest.importorskip``) when absent; the mask derivations need neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import pytest
from numpy.testing import assert_allclose

from bn_behaviour.cases import inputs
from bn_behaviour.rules import reference as ref

KERAS_DOC = "https://keras.io/api/layers/normalization_layers/batch_normalization/"
TF_KERAS_FUSED = ("https://github.com/keras-team/tf-keras/blob/master/tf_keras/layers/normalization/"
                  "batch_normalization.py")  # ``_bessels_correction_test_only``: the fused kernel's convention
ONNX_SPEC = "https://onnx.ai/onnx/operators/onnx__BatchNormalization.html"
ONNX_CODE = "https://github.com/onnx/onnx/blob/main/onnx/reference/ops/op_batch_normalization.py"
TORCH_DOC = "https://docs.pytorch.org/docs/stable/generated/torch.nn.BatchNorm1d.html"
TORCH_FUNCTIONAL = "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.batch_norm.html"

#: The seeded inputs are float32 (the layer's dtype).  Each implementation runs them in float64 (exactly
#: converted, the reference's precision) and in float32 (as the layer does), against the float64 reference.
#: float64: the same formulas differ only by rounding order, ~1e-15 relative on values up to ~30, so 1e-12
#: once the reference is given the attributes as the implementation holds them (``attr``: ONNX's are
#: float32); measured with onnx 1.23.2 and torch 2.13: torch within 4e-15, ONNX bit-identical.
#: float32: unit roundoff 6e-8, a few dozen operations on values up to ~30 stay below ~2e-6 (measured:
#: 1.3e-6), so 1e-5; ten times tighter than the harness's own RTOL/ATOL (1e-4, rules/observation.py)
#: and far below the smallest convention gap (test_the_tolerance_tells_the_conventions_apart).
TOLS = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-5)}
TOL, F64 = TOLS["float32"], TOLS["float64"]
DTYPES = {"float64": np.float64, "float32": np.float32}
EPSILONS = {"eps=1e-3": inputs.EPSILON, "eps=0.5": 0.5}
C = inputs.CHANNELS
GAMMA, BETA = np.full(C, inputs.GAMMA), np.full(C, inputs.BETA)
START = (np.full(C, inputs.MOVING_MEAN), np.full(C, inputs.MOVING_VARIANCE))
#: Masks (the input's shape without the channel axis; True = counts): arbitrary, at least 2 kept per channel.
MASKS = {"flat": np.array([1, 1, 0, 1, 1, 1, 0, 1], bool),
         "image_nhwc": np.array([[[1, 0], [1, 1]], [[1, 1], [0, 1]]], bool)}


@dataclass(frozen=True)
class Layout:
    """How the seeded (N, C) batch is laid out for the reference, and how to reach channels-first."""

    name: str
    shape: Callable[[np.ndarray], np.ndarray]  # flat batch -> the reference's input
    axis: int  # the reference's channel axis
    to_cf: Callable[[np.ndarray], np.ndarray]  # the reference's layout -> channels-first
    from_cf: Callable[[np.ndarray], np.ndarray]


def _same(a):
    return a


def _image(a):
    return a.reshape(inputs.IMAGE_SHAPE)


LAYOUTS = [
    Layout("flat", _same, -1, _same, _same),  # (N, C) is already channels-first
    Layout("image_nhwc", _image, -1, lambda a: a.transpose(0, 3, 1, 2), lambda a: a.transpose(0, 2, 3, 1)),
    # The reference with axis=1 on channels-first images: no transpose anywhere.
    Layout("image_nchw_axis1", lambda a: _image(a).transpose(0, 3, 1, 2), 1, _same, _same),
]
LAYOUT = {lay.name: lay for lay in LAYOUTS}


# --- the two implementations, channels-first, Keras's momentum ------------------------------------


class Onnx:
    """One ``BatchNormalization`` node, opset 15, run by ONNX's reference evaluator."""

    name = "onnx"
    #: "This op uses the population size (N) for calculating variance, and not the sample size N-1" (ONNX_SPEC).
    bessel = False

    def __init__(self):
        pytest.importorskip("onnx")

    @staticmethod
    def attr(value: float) -> float:
        """An epsilon or momentum as the node holds it: ONNX float attributes are 32-bit (AttributeProto.f),
        so Keras's 0.99 is 0.9900000095 and 1e-3 is 0.0010000000475 even when the tensors are float64."""
        return float(np.float32(value))

    @staticmethod
    @lru_cache(maxsize=None)
    def _session(training: bool, rank: int, dtype: str, epsilon: float, momentum: float):
        import onnx
        from onnx import helper
        from onnx.reference import ReferenceEvaluator

        elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        names = ["X", "scale", "B", "input_mean", "input_var"]
        outs = ["Y", "running_mean", "running_var"] if training else ["Y"]
        node = helper.make_node("BatchNormalization", names, outs, epsilon=epsilon, momentum=momentum,
                                training_mode=int(training))
        x_dims = ["N", "C", *(f"D{i}" for i in range(rank - 2))]  # symbolic: one model per rank
        shapes = {"X": x_dims, "Y": x_dims}
        graph = helper.make_graph([node], "bn",
                                  [helper.make_tensor_value_info(n, elem, shapes.get(n, ["C"])) for n in names],
                                  [helper.make_tensor_value_info(n, elem, shapes.get(n, ["C"])) for n in outs])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
        onnx.checker.check_model(model)
        return ReferenceEvaluator(model)

    def _run(self, training, x, gamma, beta, mean, var, epsilon, momentum, dtype):
        feed = dict(zip(["X", "scale", "B", "input_mean", "input_var"],
                        (np.asarray(a, dtype) for a in (x, gamma, beta, mean, var))))
        session = self._session(training, np.ndim(x), np.dtype(dtype).name, float(epsilon), float(momentum))
        outs = session.run(None, feed)
        return [np.asarray(o, np.float64) for o in outs]

    def train(self, x, gamma, beta, mean, var, *, epsilon, momentum, dtype):
        """(output, running mean, running variance) of one training step."""
        return self._run(True, x, gamma, beta, mean, var, epsilon, momentum, dtype)

    def infer(self, x, gamma, beta, mean, var, *, epsilon, dtype):
        return self._run(False, x, gamma, beta, mean, var, epsilon, 0.9, dtype)[0]

    def moments(self, x, dtype):
        """The batch's own (biased) mean and variance: momentum 0 makes the running outputs
        ``current_mean`` and ``current_var`` (ONNX_SPEC's update formula)."""
        c = x.shape[1]
        _, mean, var = self.train(x, np.ones(c), np.zeros(c), np.zeros(c), np.ones(c),
                                  epsilon=1e-5, momentum=0.0, dtype=dtype)
        return mean, var


class Torch:
    """``torch.nn.functional.batch_norm`` on CPU."""

    name = "torch"
    #: "the value stored in the moving average of the variance is calculated via the unbiased estimator" (TORCH_DOC).
    bessel = True

    def __init__(self):
        self.torch = pytest.importorskip("torch")

    @staticmethod
    def attr(value: float) -> float:
        """``eps`` and ``momentum`` are Python floats, doubles in ATen: nothing is rounded."""
        return float(value)

    def _t(self, a, dtype):
        return self.torch.tensor(np.asarray(a, dtype))

    def train(self, x, gamma, beta, mean, var, *, epsilon, momentum, dtype):
        rm, rv = self._t(mean, dtype), self._t(var, dtype)  # updated in place
        y = self.torch.nn.functional.batch_norm(
            self._t(x, dtype), rm, rv, self._t(gamma, dtype), self._t(beta, dtype),
            training=True, momentum=1.0 - momentum, eps=epsilon)  # torch's momentum: the new value's weight
        return [t.numpy().astype(np.float64) for t in (y, rm, rv)]

    def infer(self, x, gamma, beta, mean, var, *, epsilon, dtype):
        t = [self._t(a, dtype) for a in (x, mean, var, gamma, beta)]
        return self.torch.nn.functional.batch_norm(*t, training=False, eps=epsilon).numpy().astype(np.float64)

    def moments(self, x, dtype):
        dims = [d for d in range(x.ndim) if d != 1]
        var, mean = self.torch.var_mean(self._t(x, dtype), dim=dims, correction=0)
        return mean.numpy().astype(np.float64), var.numpy().astype(np.float64)


IMPLS = {"onnx": Onnx, "torch": Torch}


@pytest.fixture(scope="module")
def torch_one_thread():
    """torch on one intra-op thread for this module, restored after: tensors of 24 values gain nothing from
    threads, and on a busy 2-core machine the OpenMP pool's waiting made each call ~100 ms instead of ~10 us."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(params=list(IMPLS))
def impl(request):
    if request.param == "torch":
        request.getfixturevalue("torch_one_thread")
    return IMPLS[request.param]()


def _steps(n: int) -> list[np.ndarray]:
    """The batches of ``n`` successive training steps: the seeded batch, the warm-up batch, the batch again."""
    return [inputs.batch(), inputs.warmup_batch(), inputs.batch()][:n]


# --- outputs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("eps", list(EPSILONS))
@pytest.mark.parametrize("layout", list(LAYOUT))
def test_training_output(impl, layout, eps, dtype):
    """Training mode normalises with the batch's own mean and variance, epsilon inside the root:
    ``gamma * (batch - mean(batch)) / sqrt(var(batch) + epsilon) + beta`` (KERAS_DOC), the variance the
    biased one (ONNX_SPEC: "``ReduceVar`` refers to the population variance"; TORCH_DOC: "the variance is
    calculated via the biased estimator"), as the reference's ``training_output``."""
    lay, epsilon = LAYOUT[layout], EPSILONS[eps]
    x = lay.shape(inputs.batch())
    y, _, _ = impl.train(lay.to_cf(x), GAMMA, BETA, *START, epsilon=epsilon, momentum=inputs.MOMENTUM,
                         dtype=DTYPES[dtype])
    assert_allclose(lay.from_cf(y), ref.training_output(x, GAMMA, BETA, impl.attr(epsilon), lay.axis), **TOLS[dtype])


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("state", ["initial_moving", "warm_moments"])
@pytest.mark.parametrize("eps", list(EPSILONS))
@pytest.mark.parametrize("layout", list(LAYOUT))
def test_inference_output(impl, layout, eps, state, dtype):
    """Inference mode normalises with the given moving statistics: ``gamma * (x - moving_mean) /
    sqrt(moving_var + epsilon) + beta`` (KERAS_DOC; ONNX_SPEC "When training_mode=False"; TORCH_DOC).
    The states: the layer's start (0, 1), and per-channel values (the warm-up batch's moments)."""
    lay, epsilon = LAYOUT[layout], EPSILONS[eps]
    x = lay.shape(inputs.batch())
    warm = inputs.warmup_batch().astype(np.float64)
    mean, var = START if state == "initial_moving" else (warm.mean(axis=0), warm.var(axis=0))
    y = impl.infer(lay.to_cf(x), GAMMA, BETA, mean, var, epsilon=epsilon, dtype=DTYPES[dtype])
    want = ref.inference_output(x, mean, var, GAMMA, BETA, impl.attr(epsilon), lay.axis)
    assert_allclose(lay.from_cf(y), want, **TOLS[dtype])


def test_per_channel_parameters_stay_on_their_channel(impl):
    """With distinct gamma, beta and moving statistics per channel, every layout keeps each on its channel
    (the transposes and the reference's ``axis`` agree; KERAS_DOC's ``axis``, ONNX_SPEC's "(N x C x ...)")."""
    gamma, beta = np.array([2.0, 0.5, -1.0]), np.array([1.0, -3.0, 0.25])
    mean, var = np.array([0.5, -1.0, 2.0]), np.array([0.25, 4.0, 1.5])
    epsilon = impl.attr(inputs.EPSILON)
    for lay in LAYOUTS:
        x = lay.shape(inputs.batch())
        y, _, _ = impl.train(lay.to_cf(x), gamma, beta, mean, var, epsilon=inputs.EPSILON,
                             momentum=inputs.MOMENTUM, dtype=np.float64)
        assert_allclose(lay.from_cf(y), ref.training_output(x, gamma, beta, epsilon, lay.axis), **F64)
        y = impl.infer(lay.to_cf(x), gamma, beta, mean, var, epsilon=inputs.EPSILON, dtype=np.float64)
        assert_allclose(lay.from_cf(y), ref.inference_output(x, mean, var, gamma, beta, epsilon, lay.axis), **F64)


# --- moving statistics -----------------------------------------------------------------------------


def _run_steps(impl, lay, n, dtype, momentum=inputs.MOMENTUM):
    """The implementation's running statistics after each of ``n`` steps, fed back step by step."""
    mean, var = START
    after = []
    for b in _steps(n):
        _, mean, var = impl.train(lay.to_cf(lay.shape(b)), GAMMA, BETA, mean, var, epsilon=inputs.EPSILON,
                                  momentum=momentum, dtype=dtype)
        after.append((mean, var))
    return after


def _ref_steps(lay, n, bessel, momentum=inputs.MOMENTUM):
    """The reference's moving statistics after each of ``n`` steps."""
    mean, var = START
    after = []
    for b in _steps(n):
        mean, var = ref.updated_moving_stats(lay.shape(b), mean, var, momentum, lay.axis, bessel=bessel)
        after.append((mean, var))
    return after


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("steps", [1, 3], ids=["1_step", "3_steps"])
@pytest.mark.parametrize("layout", list(LAYOUT))
def test_moving_statistics_in_the_implementations_own_convention(impl, layout, steps, dtype):
    """``moving = moving * momentum + batch * (1 - momentum)`` after each step (KERAS_DOC; ONNX_SPEC's
    ``running_mean = input_mean * momentum + current_mean * (1 - momentum)``; TORCH_DOC's note,
    ``(1 - momentum) * x_hat + momentum * x_t`` with torch momentum = 1 - Keras momentum), the batch
    variance in the implementation's one convention: ONNX the biased one (``ReduceVar``, population
    size N: Keras 3 and tf_keras' non-fused path, KERAS_DOC), torch the Bessel-corrected one ("the
    unbiased estimator": tf_keras' fused kernel and tf1, TF_KERAS_FUSED).  The other convention has
    no counterpart here: test_the_convention_an_implementation_lacks_is_its_own_times_n_over_n_minus_1."""
    lay = LAYOUT[layout]
    got = _run_steps(impl, lay, steps, DTYPES[dtype])
    want = _ref_steps(lay, steps, impl.bessel, impl.attr(inputs.MOMENTUM))
    for step, ((gm, gv), (wm, wv)) in enumerate(zip(got, want), 1):
        assert_allclose(gm, wm, **TOLS[dtype], err_msg=f"moving mean after step {step}")
        assert_allclose(gv, wv, **TOLS[dtype], err_msg=f"moving variance after step {step}")


@pytest.mark.parametrize("layout", list(LAYOUT))
def test_the_convention_an_implementation_lacks_is_its_own_times_n_over_n_minus_1(impl, layout):
    """ONNX offers no Bessel-corrected running variance ("not the sample size N-1", ONNX_SPEC; no attribute
    changes it) and torch no biased one (always "the unbiased estimator", TORCH_DOC; no argument), so the
    reference's other convention cannot be compared directly.  Converted instead: a step's batch-variance
    term ``moving_after - momentum * moving_before`` scales by ``n / (n - 1)`` (biased to Bessel, n = 8
    values per channel) or its inverse; with that, each implementation is checked against both conventions,
    step by step over three steps (each step starting from the reference's own previous value)."""
    lay = LAYOUT[layout]
    n = inputs.BATCH_SIZE
    factor = n / (n - 1) if not impl.bessel else (n - 1) / n
    m = impl.attr(inputs.MOMENTUM)
    prev_mean, prev_var = START
    for step, b in enumerate(_steps(3), 1):
        x = lay.shape(b)
        _, _, var = impl.train(lay.to_cf(x), GAMMA, BETA, prev_mean, prev_var, epsilon=inputs.EPSILON,
                               momentum=inputs.MOMENTUM, dtype=np.float64)
        want_mean, want_var = ref.updated_moving_stats(x, prev_mean, prev_var, m, lay.axis, bessel=not impl.bessel)
        converted = m * prev_var + (var - m * prev_var) * factor
        assert_allclose(converted, want_var, **F64, err_msg=f"converted moving variance after step {step}")
        prev_mean, prev_var = want_mean, want_var


# --- masks: no counterpart in either implementation ------------------------------------------------


def _kept(x, mask, axis):
    """The kept positions as a flat (K, C) batch (the reference's mask drops positions, never channels)."""
    return np.moveaxis(np.asarray(x, np.float64), axis, -1)[mask]


@pytest.mark.parametrize("bessel", [False, True], ids=["biased", "bessel"])
@pytest.mark.parametrize("layout", ["flat", "image_nhwc"])
def test_masked_reference_is_the_unmasked_reference_on_the_kept_positions(layout, bessel):
    """Keras 3's ``mask`` (KERAS_DOC: "Masked elements of the current inputs are not taken into account for
    mean and variance computation during training") has no counterpart in ONNX (the operator has no mask
    input, ONNX_SPEC) or torch (``batch_norm`` takes none, TORCH_FUNCTIONAL).  What can be stated
    instead: per-channel statistics over the kept positions are the statistics of the batch made of
    those positions (a weighted sum with 0/1 weights is the sum over the kept ones, and the count is
    theirs; for images, reducing over N, H, W is reducing over the flattened positions).  So the masked
    moments, training output (on the kept positions) and moving update equal the unmasked ones of the
    kept (K, C) batch."""
    lay, mask = LAYOUT[layout], MASKS[layout]
    x, warm = lay.shape(inputs.batch()), lay.shape(inputs.warmup_batch())
    kept = _kept(x, mask, lay.axis)
    # The same float64 sums in another order: F64.
    assert_allclose(ref.batch_moments(x, lay.axis, bessel, mask), ref.batch_moments(kept, bessel=bessel), **F64)
    y = ref.training_output(x, GAMMA, BETA, inputs.EPSILON, lay.axis, mask=mask)
    assert_allclose(_kept(y, mask, lay.axis), ref.training_output(kept, GAMMA, BETA, inputs.EPSILON), **F64)
    assert_allclose(ref.updated_moving_stats(warm, *START, inputs.MOMENTUM, lay.axis, bessel, mask),
                    ref.updated_moving_stats(_kept(warm, mask, lay.axis), *START, inputs.MOMENTUM, bessel=bessel),
                    **F64)


@pytest.mark.parametrize("layout", ["flat", "image_nhwc"])
def test_masked_reference_against_the_kept_batch(impl, layout):
    """By that derivation, the implementations see the masked case as the kept (K, C) batch: their
    training output and moving statistics on it equal the masked reference's on the kept positions
    (in the implementation's variance convention, as above); and every position, masked ones included,
    is normalised with the kept positions' mean and biased variance (computed by the implementation:
    ONNX's training outputs with momentum 0, ``torch.var_mean(correction=0)``) through its inference
    formula (KERAS_DOC ``mask``; ONNX_SPEC; TORCH_DOC)."""
    lay, mask = LAYOUT[layout], MASKS[layout]
    x = lay.shape(inputs.batch())
    kept = _kept(x, mask, lay.axis)
    epsilon, momentum = impl.attr(inputs.EPSILON), impl.attr(inputs.MOMENTUM)
    y, mean, var = impl.train(kept, GAMMA, BETA, *START, epsilon=inputs.EPSILON, momentum=inputs.MOMENTUM,
                              dtype=np.float64)
    want = ref.training_output(x, GAMMA, BETA, epsilon, lay.axis, mask=mask)
    assert_allclose(y, _kept(want, mask, lay.axis), **F64)
    want_stats = ref.updated_moving_stats(x, *START, momentum, lay.axis, bessel=impl.bessel, mask=mask)
    assert_allclose((mean, var), want_stats, **F64)
    kept_mean, kept_var = impl.moments(kept, np.float64)
    every = impl.infer(lay.to_cf(x), GAMMA, BETA, kept_mean, kept_var, epsilon=inputs.EPSILON, dtype=np.float64)
    assert_allclose(lay.from_cf(every), want, **F64)


# --- the tolerance is tight enough to see a convention -------------------------------------------


def test_the_tolerance_tells_the_conventions_apart(impl):
    """A crosscheck that would pass whatever the convention proves nothing: each conversion this module
    makes, left out, misses TOL by at least 10x.  Epsilon: the implementation's default 1e-5 (ONNX_SPEC,
    TORCH_FUNCTIONAL) instead of Keras's 1e-3, on the training output; momentum: the other implementation's
    sense (0.01 to ONNX, 0.99 to torch; TORCH_DOC's note), on the moving mean; variance: the other
    convention (ONNX_SPEC's N, TORCH_DOC's N-1), on the moving variance; all after one step on the batch."""
    lay = LAYOUT["flat"]
    x = inputs.batch()
    y, _, _ = impl.train(x, GAMMA, BETA, *START, epsilon=1e-5, momentum=inputs.MOMENTUM, dtype=np.float64)
    (mean, _), = _run_steps(impl, lay, 1, np.float64, momentum=1.0 - inputs.MOMENTUM)
    (_, var), = _run_steps(impl, lay, 1, np.float64)
    (want_mean, _), = _ref_steps(lay, 1, impl.bessel)
    (_, other_var), = _ref_steps(lay, 1, not impl.bessel)
    pairs = {"epsilon": (y, ref.training_output(x, GAMMA, BETA, inputs.EPSILON)),
             "momentum": (mean, want_mean),
             "variance (other convention)": (var, other_var)}
    margins = {k: float(np.max(np.abs(a - b) / (TOL["atol"] + TOL["rtol"] * np.abs(b)))) for k, (a, b) in pairs.items()}
    assert min(margins.values()) >= 10, f"{impl.name}: gap / tolerance per left-out conversion: {margins}"
