"""The documented rule of a Keras class with the TF1 meaning of ``trainable`` (``tf.compat.v1.keras.layers``).

Sources:

* BN2 -- the TF2 ``BatchNormalization`` docstring (tf_keras' and Keras 3's),
  https://keras.io/api/layers/normalization_layers/batch_normalization/ :
  "The meaning of setting `layer.trainable = False` is to freeze the layer,
  i.e. its internal state will not change during training: its trainable
  weights will not be updated during `fit()` or `train_on_batch()`, and its
  state updates will not be run.  Usually, this does not necessarily mean that
  the layer is run in inference mode (which is normally controlled by the
  `training` argument ...)"; the exception that a frozen BatchNormalization
  runs in inference mode "has been introduced in TensorFlow 2.0".
* FAQ -- the Keras FAQ (``bn_behaviour.rules.tf2.FAQ``):
  "Starting in TensorFlow 2.0, setting `bn.trainable = False` will *also*
  force the layer to run in inference mode."  The v1 class keeps the
  behaviour from before (``tf_keras`` ``batch_normalization_v1``:
  ``_USE_V2_BEHAVIOR = False``).

So everything is as in the TF2 rule (``bn_behaviour.rules.tf2``: how
``training`` reaches the layer, what a model's ``trainable`` sets, when a
change counts after ``compile()``, the weight lists), except two decisions:
``training`` alone picks the statistics (a frozen layer called in training
mode still normalises with the batch's), and the moving statistics move only
when the layer runs in training mode *and* is trainable ("its state updates
will not be run").

>>> e = expected(Scenario("functional", "layer", "before_compile", "fit", "none"))
>>> e["mode"], e["moving_stats"], e["affine"]
('training', 'unchanged', 'unchanged')
>>> expected(Scenario("functional", "none", "before_compile", "fit", "none"))["moving_stats"]
'updated'
"""

from __future__ import annotations

from ..cases.scenario import Scenario
from . import tf2

BN2_DOC = tf2.BN_DOC
FAQ = tf2.FAQ
#: The rule whose citable statements and recipes this one shares (``rules.rulebook``, ``rules.recipes``) ...
INHERITS = "tf2"
#: ... except these statements, which it replaces with its own.
REPLACES = ("frozen-bn-runs-in-inference",)


def expected(s: Scenario) -> dict:
    """The observation the TF1 meaning of ``trainable`` predicts for ``s`` (the TF2 rule otherwise)."""
    e = tf2.expected(s)
    training = tf2.training_flag(s)
    e["mode"] = "training" if training else "inference"
    e["moving_stats"] = "updated" if training and tf2.effective_state(s)["layer"] else "unchanged"
    return e
