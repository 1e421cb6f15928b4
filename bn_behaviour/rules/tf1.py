"""The documented TF1 rule: what ``tf.compat.v1.layers.batch_normalization`` should do.

Sources (each function below names the sentence it follows):

* API -- the ``tf.compat.v1.layers.batch_normalization`` docstring,
  https://www.tensorflow.org/api_docs/python/tf/compat/v1/layers/batch_normalization
  - ``training``: "Whether to return the output in training mode (normalized
    with statistics of the current batch) or in inference mode (normalized
    with moving statistics)"; its default is ``False``.
  - ``trainable``: "Boolean, if True also add variables to the graph
    collection GraphKeys.TRAINABLE_VARIABLES (see tf.Variable)."
  - Note: "when training, the moving_mean and moving_variance need to be
    updated. By default the update ops are placed in tf.GraphKeys.UPDATE_OPS,
    so they need to be executed alongside the train_op."
* OPT -- ``tf.compat.v1.train.Optimizer.minimize``: ``var_list`` "Defaults to
  the list of variables collected in the graph under the key
  GraphKeys.TRAINABLE_VARIABLES",
  https://www.tensorflow.org/api_docs/python/tf/compat/v1/train/Optimizer#minimize
* COLL -- ``tf.compat.v1.get_collection_ref``: "If the collection exists,
  this returns the list itself, which can be modified in place to change the
  collection", https://www.tensorflow.org/api_docs/python/tf/compat/v1/get_collection_ref
  (how the driver freezes a scope after the layer is built: ``frozen=layer``,
  ``inner_model``, ``outer_model``; see ``bn_behaviour.targets.tf1``).
* TF2 -- the ``tf.keras.layers.BatchNormalization`` docstring (the seed's
  link): "This behavior only occurs as of TensorFlow 2.0. In 1.*, setting
  layer.trainable = False would freeze the layer but would not switch it to
  inference mode."

So, unlike the TF2 rule (``bn_behaviour.rules``): ``training`` alone picks the
statistics (``training=None``, i.e. not passed, means the default ``False``);
``trainable=False`` does not switch to inference mode, it only keeps gamma and
beta out of TRAINABLE_VARIABLES, so an optimizer does not update them; a scope
taken out of TRAINABLE_VARIABLES later (COLL) does not either, and a train op
keeps the ``var_list`` it was built with (OPT: the default is read when
``minimize()`` is called), so only a train op built after the freeze leaves
gamma/beta alone; the moving statistics are updated exactly when the batch is
normalised in training mode and the UPDATE_OPS are run (every tf1 path runs
them, see ``bn_behaviour.targets.tf1``; no freeze touches UPDATE_OPS).  The moving variance takes the Bessel-corrected
batch variance on the fused kernel the driver uses; that convention is the
target's (``Target.bessel``), checked by ``observation.classify``, not here.

Weight lists (there is no layer object or model in TF1 graph code, so they are
read from the graph collections, restricted to the layer's variable scope):

* ``trainable_weights``: the layer's variables in TRAINABLE_VARIABLES at the end;
* ``non_trainable_weights``: the rest of the layer's GLOBAL_VARIABLES;
* ``model_trainable_weights``: the layer's variables that ``minimize()``
  would update by default now (OPT: TRAINABLE_VARIABLES), i.e. the same set:
  a TF1 graph has no model between the layer and the optimizer, and
  ``model=nested``'s scopes are name prefixes, not objects with a flag.

The rule only reads the scenario; ``bn_behaviour.rules.RULES`` registers it as ``tf1``.

>>> e = expected(Scenario("layer", "layer_ctor", "before_compile", "call", "true"))
>>> e["mode"], e["moving_stats"], e["trainable_weights"]
('training', 'updated', [])
>>> expected(Scenario("layer", "none", "before_compile", "call", "none"))["mode"]
'inference'
>>> e = expected(Scenario("nested", "inner_model", "after_fit", "custom_loop", "true"))
>>> e["affine"], e["moving_stats"], e["model_trainable_weights"]
('updated', 'updated', [])
"""

from __future__ import annotations

from ..cases.scenario import TRAINING_PATHS, Scenario
from .observation import expectation

API_DOC = "https://www.tensorflow.org/api_docs/python/tf/compat/v1/layers/batch_normalization"
OPTIMIZER_DOC = "https://www.tensorflow.org/api_docs/python/tf/compat/v1/train/Optimizer#minimize"
COLLECTION_DOC = "https://www.tensorflow.org/api_docs/python/tf/compat/v1/get_collection_ref"
#: Freezes made after the layer is built: a scope's variables leave TRAINABLE_VARIABLES (COLL).
FROZEN_LATER = frozenset({"layer", "inner_model", "outer_model"})


def training_flag(s: Scenario) -> bool:
    """The ``training`` value the function receives (API: the default is ``False``).

    >>> training_flag(Scenario("layer", "none", "before_compile", "call", "none"))
    False
    """
    return s.training == "true"


def trainable(s: Scenario) -> bool:
    """The ``trainable`` argument: ``False`` only for ``frozen=layer_ctor`` (the only freeze at build)."""
    return s.frozen != "layer_ctor"


def in_collection(s: Scenario) -> bool:
    """Whether gamma/beta are in TRAINABLE_VARIABLES at the end (API ``trainable``; COLL: a later freeze
    takes them out).

    >>> in_collection(Scenario("nested", "outer_model", "after_fit", "custom_loop", "none"))
    False
    """
    return trainable(s) and s.frozen not in FROZEN_LATER


def in_train_op(s: Scenario) -> bool:
    """Whether gamma/beta are in the ``var_list`` of the train op the observed step runs.

    OPT: ``var_list`` defaults to TRAINABLE_VARIABLES, read when ``minimize()`` builds the train op;
    with ``when=after_fit`` the train op was built before the freeze and is run again.

    >>> in_train_op(Scenario("nested", "inner_model", "after_fit", "custom_loop", "none"))
    True
    >>> in_train_op(Scenario("nested", "inner_model", "after_fit_recompile", "custom_loop", "none"))
    False
    >>> in_train_op(Scenario("nested", "unfrozen", "after_fit", "custom_loop", "none"))
    False
    """
    if s.frozen in FROZEN_LATER:
        return s.when == "after_fit"
    if s.frozen == "unfrozen":  # out of the collection until `when`: only a train op built after has it
        return s.when != "after_fit"
    return trainable(s)


def expected(s: Scenario) -> dict:
    """The observation the documented TF1 rule predicts for ``s``.

    * mode: API ``training`` picks batch or moving statistics; TF2: in 1.*
      ``trainable=False`` does not switch to inference mode (nor does leaving
      TRAINABLE_VARIABLES: that collection only feeds the optimizer).
    * moving_stats: API Note: updated when training and the UPDATE_OPS run
      (both tf1 paths run them), unchanged in inference mode.
    * affine: on the training path (``custom_loop``) gamma/beta move exactly
      when they are in the train op's ``var_list`` (:func:`in_train_op`).
    * weight lists: TRAINABLE_VARIABLES at the end (:func:`in_collection`).
    * error: nothing in API or OPT says any of these scenarios fails.
    """
    mode = "training" if training_flag(s) else "inference"
    if s.path in TRAINING_PATHS:
        affine = "updated" if in_train_op(s) else "unchanged"
    else:
        affine = "n/a"
    return expectation(mode, affine, layer_trainable=in_collection(s), model_trainable=in_collection(s))
