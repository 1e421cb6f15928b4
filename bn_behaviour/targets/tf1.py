"""Driver for TF1: ``tf.compat.v1.layers.batch_normalization`` in a graph, run by a ``Session``.

It performs a scenario the way TF1 code does (build a graph, gather
``UPDATE_OPS``, run a session) and reads the variables back; it predicts
nothing.  The tf1 matrix is small: the function has no layer object, no model
and no ``compile()``, so only ``model=layer``, ``frozen`` in ``none`` /
``layer_ctor`` (``trainable=False`` passed to the function) and
``when=before_compile`` exist (the target's ``unsupported`` data says why).

Paths:

* ``call``: ``sess.run([out, update_ops])``, the seed's pattern;
* ``custom_loop``: the documented TF1 training pattern, one step, the output
  fetched in the same run::

      update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
      with tf.control_dependencies(update_ops):
          train_op = tf.compat.v1.train.GradientDescentOptimizer(LR).minimize(loss)

  With ``trainable=False`` the graph has no trainable variable and
  ``minimize()`` raises ``ValueError: No variables to optimize.``; a TF1 user
  cannot build this train op at all, so that error is the observation (no
  output, nothing run).

Input layout: the seeded batch (``inputs.batch()``, 8 samples x 3 channels)
is fed as two 2x2 NHWC images, like the seed's 1x2x2x4 image.  A rank-4
input takes the layer's default fused kernel (``fused=None``: "use a faster,
fused implementation if possible"), whose moving variance is the
Bessel-corrected batch variance the tf1 target declares (``bessel=True``); a
rank-2 input would take the non-fused kernel and the biased variance
(``tests/test_seed_tf1.py`` shows both).  Each channel holds the same 8
values either way, so the raw facts are recorded as flat (8, 3) arrays and
``observation.classify`` works unchanged.

``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow first resolves
``tf.compat.v1.layers`` (the target registry sets it); if this process already
resolved it for Keras 3, ``run`` fails with a clear message.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from ..cases import inputs
from ..cases.inputs import IMAGE_SHAPE
from ..cases.scenario import Scenario
from ..rules.observation import STATE_NAMES, Facts
from .common import Setup, format_error

V1 = tf.compat.v1
#: The layer's variable scope: the function's default name in a fresh graph.
SCOPE = "batch_normalization"


def batch_normalization_fn():
    """``tf.compat.v1.layers.batch_normalization``, resolved when a scenario runs.

    Resolved lazily so that merely importing this module (doctest collection
    next to Keras 3) never touches ``tf.compat.v1.layers``.
    """
    try:
        return V1.layers.batch_normalization
    except AttributeError as e:  # TF resolved tf.compat.v1.layers without tf_keras
        raise RuntimeError(
            "tf.compat.v1.layers.batch_normalization is unavailable in this process "
            f"({e}); set TF_USE_LEGACY_KERAS=1 before TensorFlow first resolves it, "
            "e.g. in a fresh process"
        ) from None


def defaults() -> tuple[float, float]:
    """The function's own ``momentum`` and ``epsilon`` defaults (the seed relies on them; the
    target declares them for the reference, and tests/test_seed_tf1.py checks they agree)."""
    params = inspect.signature(batch_normalization_fn()).parameters
    return float(params["momentum"].default), float(params["epsilon"].default)


def _initializers() -> dict[str, Any]:
    c = V1.constant_initializer
    return dict(
        gamma_initializer=c(inputs.GAMMA),
        beta_initializer=c(inputs.BETA),
        moving_mean_initializer=c(inputs.MOVING_MEAN),
        moving_variance_initializer=c(inputs.MOVING_VARIANCE),
    )


def layer_kwargs(s: Scenario) -> dict[str, Any]:
    """The arguments the scenario passes: initialisers, ``training`` if given, ``trainable=False`` if frozen."""
    kw = _initializers()
    if s.training != "none":
        kw["training"] = s.training == "true"
    if s.frozen == "layer_ctor":
        kw["trainable"] = False
    return kw


def _short(v) -> str:
    return v.name.split("/")[-1].split(":")[0]


def _layer_variables(collection) -> list:
    return [v for v in collection if v.name.startswith(SCOPE + "/")]


def _state(sess, variables: dict) -> dict[str, np.ndarray]:
    values = sess.run({k: variables[k] for k in STATE_NAMES})
    return {k: np.array(v, dtype=np.float64).reshape(-1) for k, v in values.items()}


def build_path(s: Scenario, out, update_ops: list) -> list:
    """The fetches of the observed run; raises what TF1 raises while building them."""
    if s.path == "call":
        return [out, update_ops]
    if s.path == "custom_loop":
        y = tf.constant(inputs.target().reshape(IMAGE_SHAPE))
        loss = tf.reduce_mean(tf.square(out - y))
        with tf.control_dependencies(update_ops):
            train_op = V1.train.GradientDescentOptimizer(inputs.LEARNING_RATE).minimize(loss)
        return [out, train_op]
    raise ValueError(f"path={s.path} does not exist on tf1")  # excluded by the target's data


def run(s: Scenario, setup: Setup, layer_cls=None) -> Facts:
    """Perform ``s`` in a fresh graph and session and return what happened.

    ``layer_cls`` is ignored: TF1 has one function, not a layer class to swap;
    ``setup`` gives the (N, C) batch, fed as NHWC images.
    """
    batch_normalization = batch_normalization_fn()
    x = setup.data.x
    graph = tf.Graph()
    output: Optional[np.ndarray] = None
    error: Optional[str] = None
    with warnings.catch_warnings(), graph.as_default():
        warnings.simplefilter("ignore")  # the function's deprecation warning
        ph = V1.placeholder(tf.float32, IMAGE_SHAPE, name="x")
        out = batch_normalization(ph, **layer_kwargs(s))
        # API Note: gather the update ops after the layer is built.
        update_ops = V1.get_collection(V1.GraphKeys.UPDATE_OPS)
        variables = {_short(v): v for v in _layer_variables(V1.global_variables())}
        trainable = {_short(v) for v in _layer_variables(V1.trainable_variables())}
        try:
            fetches = build_path(s, out, update_ops)
        except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
            fetches, error = None, format_error(e)
        init = V1.global_variables_initializer()
        with V1.Session(graph=graph) as sess:
            sess.run(init)
            before = _state(sess, variables)
            if fetches is not None:
                try:
                    result = sess.run(fetches, {ph: x.reshape(IMAGE_SHAPE)})
                    output = np.asarray(result[0]).reshape(x.shape)
                except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
                    error = format_error(e)
            after = _state(sess, variables)
    names = sorted(variables)
    return Facts(
        output=output,
        before=before,
        after=after,
        trainable_weights=[n for n in names if n in trainable],
        non_trainable_weights=[n for n in names if n not in trainable],
        # minimize() updates TRAINABLE_VARIABLES by default; no model stands in between.
        model_trainable_weights=[n for n in names if n in trainable],
        error=error,
    )
