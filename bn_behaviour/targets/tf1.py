"""Driver for TF1: ``tf.compat.v1.layers.batch_normalization`` in a graph, run by a ``Session``.

It performs a scenario the way TF1 code does (build a graph, gather
``UPDATE_OPS``, run a session) and reads the variables back; it predicts
nothing.  The function has no layer object, no model and no ``compile()``;
what TF1 graph code does have, and how each axis maps onto it (the target's
``unsupported`` data says why every other value is excluded):

* ``model=layer``: the function applied to the input placeholder, then a
  dense head (``tf.compat.v1.layers.dense``, scope ``head``) on its output.
  ``model=nested``: the same call inside ``variable_scope("outer")`` /
  ``variable_scope("inner")``, the head in ``outer`` beside ``inner``; the
  scopes are how TF1 code names a sub-network (variables
  ``outer/inner/batch_normalization/gamma``, ``outer/head/kernel``), and
  freezing a sub-network is done by scope (below).  The head is what every
  network has after its normalisation: a trainable neighbour that the loss
  goes through, so a freeze of the layer leaves something to train.
* ``frozen=layer_ctor``: ``trainable=False`` passed to the function (API:
  the variables are then not added to TRAINABLE_VARIABLES).
  ``frozen=layer`` / ``inner_model`` / ``outer_model``: the variables of the
  layer's own scope / ``outer/inner`` / ``outer`` are removed
  from TRAINABLE_VARIABLES in place, through
  ``tf.compat.v1.get_collection_ref`` ("can be modified in place to change the
  collection"); that collection is what ``trainable`` means in TF1 (API) and
  the ``var_list`` ``minimize()`` takes by default (OPT).  The scope-filtered
  ``var_list`` of TF1 fine-tuning code is the same set, but it is an argument,
  not a state that can change "after" anything, so the collection is what the
  driver changes.  ``frozen=layer`` is that freeze on the layer's own scope:
  the function returns a tensor, so no ``trainable`` attribute exists to set.
  ``frozen=unfrozen``: the base (the layer's scope, or ``outer/inner``) leaves
  the collection before the first train op is built and is put back at
  ``when``: TF1's fine-tuning step (train the head, then a train op with the
  base trainable again).
* ``path=call_graph`` stays excluded: a TF1 call is already a graph run by
  ``Session.run``; the ``is_training`` placeholder idiom changes the form of
  ``training`` (a tensor fed at run time), which no ``training`` value names.
* ``when`` (only with ``custom_loop``, whose train op is the traced step):
  ``before_compile``: frozen before ``minimize()`` builds the train op;
  ``after_fit``: the train op is built and run once on the warm-up batch, then
  the scope is frozen and the same train op runs the observed step (the
  traced function reused); ``after_fit_recompile``: the same, then
  ``minimize()`` builds a new train op after the freeze (a new function
  traced).  ``minimize()`` reads the collection when it is called, so only
  a train op built after the freeze sees it.

Paths:

* ``call``: ``sess.run([out, update_ops])``, the seed's pattern (the freeze,
  if any, is made first; no optimizer reads it);
* ``custom_loop``: the documented TF1 training pattern, one step, the output
  fetched in the same run::

      update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
      with tf.control_dependencies(update_ops):
          train_op = tf.compat.v1.train.GradientDescentOptimizer(LR).minimize(loss)

  The loss is the head's.  Only a freeze of every variable the graph has
  (``frozen=outer_model`` of ``model=nested``) leaves ``minimize()`` nothing:
  it raises ``ValueError: No variables to optimize.``, and that error is the
  observation (no output, nothing run).

Weight lists are read from the graph collections at the end, restricted to the
layer's variables: ``trainable_weights`` and ``model_trainable_weights`` are
those in TRAINABLE_VARIABLES (what ``minimize()`` would take by default now),
``non_trainable_weights`` the rest of GLOBAL_VARIABLES.

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

>>> [layer_scope(m) for m in ("layer", "nested")]
['batch_normalization/', 'outer/inner/batch_normalization/']
"""

from __future__ import annotations

import contextlib
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
#: The variable scopes around the layer, outermost first, per model.
MODEL_SCOPES = {"layer": (), "nested": ("outer", "inner")}
#: The scope whose variables each later freeze removes from TRAINABLE_VARIABLES (None: the layer's own).
FROZEN_SCOPE = {"layer": None, "inner_model": "outer/inner/", "outer_model": "outer/"}
#: The base ``frozen=unfrozen`` takes out of TRAINABLE_VARIABLES before the first train op and puts back
#: at ``when``, per model (None: the layer's own scope): the sub-network holding the layer, not the head.
BASE_SCOPE = {"layer": None, "nested": "outer/inner/"}
#: The head's scope: a dense layer on the layer's output, inside the outermost scope of the model.
HEAD = "head"


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


def layer_scope(model: str) -> str:
    """The name prefix of the layer's variables."""
    return "".join(f"{name}/" for name in MODEL_SCOPES[model]) + SCOPE + "/"


def _short(v) -> str:
    return v.name.split("/")[-1].split(":")[0]


def _state(sess, variables: dict) -> dict[str, np.ndarray]:
    values = sess.run({k: variables[k] for k in STATE_NAMES})
    return {k: np.array(v, dtype=np.float64).reshape(-1) for k, v in values.items()}


def apply_layer(s: Scenario, x):
    """The function applied to ``x`` inside the model's variable scopes, then the head on its output
    (outside the inner scope, inside the outer one): returns the layer's output and the head's."""
    batch_normalization = batch_normalization_fn()
    scopes = MODEL_SCOPES[s.model]
    with contextlib.ExitStack() as stack:
        for name in scopes:
            stack.enter_context(V1.variable_scope(name))
        out = batch_normalization(x, **layer_kwargs(s))
    with contextlib.ExitStack() as stack:
        for name in scopes[:1]:
            stack.enter_context(V1.variable_scope(name))
        kernel = V1.glorot_uniform_initializer(seed=inputs.SEED)
        return out, V1.layers.dense(out, inputs.CHANNELS, kernel_initializer=kernel, name=HEAD)


def _drop(prefix: str) -> list:
    """Remove the variables named ``prefix...`` from TRAINABLE_VARIABLES (COLL); returns what was removed."""
    ref = V1.get_collection_ref(V1.GraphKeys.TRAINABLE_VARIABLES)
    removed = [v for v in ref if v.name.startswith(prefix)]
    ref[:] = [v for v in ref if not v.name.startswith(prefix)]
    return removed


def freeze_at_build(s: Scenario) -> list:
    """``frozen=unfrozen``: the base leaves TRAINABLE_VARIABLES before any train op; returns its variables."""
    if s.frozen != "unfrozen":
        return []
    return _drop(BASE_SCOPE[s.model] or layer_scope(s.model))


def change(s: Scenario, base: list) -> None:
    """The change made at ``when``: ``frozen=layer`` / ``inner_model`` / ``outer_model`` drop the scope's
    variables from TRAINABLE_VARIABLES; ``unfrozen`` puts the base's back (COLL)."""
    if s.frozen in FROZEN_SCOPE:
        _drop(FROZEN_SCOPE[s.frozen] or layer_scope(s.model))
    elif s.frozen == "unfrozen":
        V1.get_collection_ref(V1.GraphKeys.TRAINABLE_VARIABLES).extend(base)


def build_path(s: Scenario, out, head, update_ops: list) -> list:
    """The fetches of the observed run (the layer's output first); raises what TF1 raises while building them.

    The loss is the head's, as in any network: the layer trains together with the head after it.
    """
    if s.path == "call":
        return [out, update_ops]
    if s.path == "custom_loop":
        y = tf.constant(inputs.target().reshape(IMAGE_SHAPE))
        loss = tf.reduce_mean(tf.square(head - y))
        with tf.control_dependencies(update_ops):
            train_op = V1.train.GradientDescentOptimizer(inputs.LEARNING_RATE).minimize(loss)
        return [out, train_op]
    raise ValueError(f"path={s.path} does not exist on tf1")  # excluded by the target's data


def run(s: Scenario, setup: Setup, layer_cls=None) -> Facts:
    """Perform ``s`` in a fresh graph and session and return what happened.

    ``layer_cls`` is ignored: TF1 has one function, not a layer class to swap;
    ``setup`` gives the (N, C) batches, fed as NHWC images.
    """
    x, warm = setup.data.x, setup.data.warm
    first_step = s.when.startswith("after_fit")
    graph = tf.Graph()
    output: Optional[np.ndarray] = None
    error: Optional[str] = None
    fetches: Optional[list] = None
    with warnings.catch_warnings(), graph.as_default():
        warnings.simplefilter("ignore")  # the function's deprecation warning
        ph = V1.placeholder(tf.float32, IMAGE_SHAPE, name="x")
        out, head = apply_layer(s, ph)
        # API Note: gather the update ops after the layer is built.
        update_ops = V1.get_collection(V1.GraphKeys.UPDATE_OPS)
        prefix = layer_scope(s.model)
        variables = {_short(v): v for v in V1.global_variables() if v.name.startswith(prefix)}
        base = freeze_at_build(s)
        if not first_step:
            change(s, base)
        try:
            fetches = build_path(s, out, head, update_ops)
        except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
            error = format_error(e)
        init = V1.global_variables_initializer()
        with V1.Session(graph=graph) as sess:
            sess.run(init)
            try:
                if first_step and fetches is not None:
                    sess.run(fetches, {ph: warm.reshape(IMAGE_SHAPE)})  # the first training step
                    change(s, base)
                    if s.when.endswith("_recompile"):
                        fetches = None  # a new train op, built after the change
                        fetches = build_path(s, out, head, update_ops)
            except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
                error = format_error(e)
            before = _state(sess, variables)
            if fetches is not None:
                try:
                    result = sess.run(fetches, {ph: x.reshape(IMAGE_SHAPE)})
                    output = np.asarray(result[0]).reshape(x.shape)
                except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
                    error = format_error(e)
            after = _state(sess, variables)
        trainable = {_short(v) for v in V1.trainable_variables() if v.name.startswith(prefix)}
    names = sorted(variables)
    return Facts(
        output=output,
        before=before,
        after=after,
        trainable_weights=[n for n in names if n in trainable],
        non_trainable_weights=[n for n in names if n not in trainable],
        # minimize() takes TRAINABLE_VARIABLES by default; no model stands in between.
        model_trainable_weights=[n for n in names if n in trainable],
        error=error,
    )
