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
* TF2 -- the ``tf.keras.layers.BatchNormalization`` docstring (the seed's
  link): "This behavior only occurs as of TensorFlow 2.0. In 1.*, setting
  layer.trainable = False would freeze the layer but would not switch it to
  inference mode."

So, unlike the TF2 rule (``bn_behaviour.rules``): ``training`` alone picks the
statistics (``training=None``, i.e. not passed, means the default ``False``);
``trainable=False`` does not switch to inference mode, it only keeps gamma and
beta out of TRAINABLE_VARIABLES, so an optimizer does not update them; the
moving statistics are updated exactly when the batch is normalised in training
mode and the UPDATE_OPS are run (every tf1 path runs them, see
``bn_behaviour.targets.tf1``).  The moving variance takes the Bessel-corrected
batch variance on the fused kernel the driver uses; that convention is the
target's (``Target.bessel``), checked by ``observation.classify``, not here.

Weight lists (there is no layer object or model in TF1 graph code, so they are
read from the graph collections, restricted to the layer's variable scope):

* ``trainable_weights``: the layer's variables in TRAINABLE_VARIABLES;
* ``non_trainable_weights``: the rest of the layer's GLOBAL_VARIABLES;
* ``model_trainable_weights``: the layer's variables that ``minimize()``
  updates by default (OPT: TRAINABLE_VARIABLES), i.e. the same set: a TF1
  graph has no model between the layer and the optimizer.

The rule only reads the scenario; ``bn_behaviour.rules.RULES`` registers it as ``tf1``.

>>> e = expected(Scenario("layer", "layer_ctor", "before_compile", "call", "true"))
>>> e["mode"], e["moving_stats"], e["trainable_weights"]
('training', 'updated', [])
>>> expected(Scenario("layer", "none", "before_compile", "call", "none"))["mode"]
'inference'
"""

from __future__ import annotations

from ..cases.scenario import TRAINING_PATHS, Scenario
from .observation import expectation

API_DOC = "https://www.tensorflow.org/api_docs/python/tf/compat/v1/layers/batch_normalization"
OPTIMIZER_DOC = "https://www.tensorflow.org/api_docs/python/tf/compat/v1/train/Optimizer#minimize"


def training_flag(s: Scenario) -> bool:
    """The ``training`` value the function receives (API: the default is ``False``).

    >>> training_flag(Scenario("layer", "none", "before_compile", "call", "none"))
    False
    """
    return s.training == "true"


def trainable(s: Scenario) -> bool:
    """The ``trainable`` argument: ``False`` only for ``frozen=layer_ctor`` (the only freeze TF1 has)."""
    return s.frozen != "layer_ctor"


def expected(s: Scenario) -> dict:
    """The observation the documented TF1 rule predicts for ``s``.

    * mode: API ``training`` picks batch or moving statistics; TF2: in 1.*
      ``trainable=False`` does not switch to inference mode.
    * moving_stats: API Note: updated when training and the UPDATE_OPS run
      (both tf1 paths run them), unchanged in inference mode.
    * affine: on the training path (``custom_loop``) gamma/beta move exactly
      when they are in TRAINABLE_VARIABLES (API ``trainable``, OPT ``var_list``).
    * error: nothing in API or OPT says any of these scenarios fails.
    """
    mode = "training" if training_flag(s) else "inference"
    if s.path in TRAINING_PATHS:
        affine = "updated" if trainable(s) else "unchanged"
    else:
        affine = "n/a"
    return expectation(mode, affine, layer_trainable=trainable(s), model_trainable=trainable(s))
