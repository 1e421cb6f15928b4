"""Driver for ``tf.compat.v1.keras.layers.BatchNormalization``: the TF1 meaning of ``trainable`` in a Keras class.

tf_keras keeps the TF1 class as ``batch_normalization_v1.BatchNormalization``
(``_USE_V2_BEHAVIOR = False``: ``trainable = False`` does not force inference
mode).  It runs in TF2 eager mode through the same Keras paths, models and
ordering as tf_keras' own class, so this driver is the tf_keras driver with
that class as the genuine layer; the rule it is judged by is
``bn_behaviour.rules.tf1_keras``.  TF_USE_LEGACY_KERAS=1 is set by the target
registry before this module is imported, so ``tf.compat.v1.keras`` is tf_keras.
"""

from __future__ import annotations

import tensorflow as tf

from ..cases.scenario import Scenario
from ..rules.observation import Facts
from . import common
from . import tf_keras as keras2

#: The Keras module this driver drives (the same as tf_keras').
API = keras2.API
CaptureOutput = keras2.CaptureOutput
train_step = keras2.train_step
#: The genuine layer: the TF1 class as TF2 exposes it.
LAYER = tf.compat.v1.keras.layers.BatchNormalization


def run(s: Scenario, setup: common.Setup, layer_cls=None) -> Facts:
    """Perform ``s`` on the TF1 class (or ``layer_cls``) as ``setup`` says and return what happened."""
    return keras2.run(s, setup, layer_cls or LAYER)
