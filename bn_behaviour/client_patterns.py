"""BatchNormalization subclasses people copy into their own code, as ``--bn-layer`` classes.

Each is a short restatement (not a copy) of a pattern found in public
repositories, with the repository and file it comes from; ``bn_behaviour.clients``
runs them like the published packages' classes.  They subclass
``tf.keras.layers.BatchNormalization`` as the originals do, so the base is
whatever ``tf.keras`` is when the module is imported: Keras 3 on
keras-tensorflow, tf_keras on tf_keras (the target sets ``TF_USE_LEGACY_KERAS``
before the plugin imports this module).  Importing it imports TensorFlow:
nothing in the package imports it; only ``--bn-layer`` names it.
"""

from __future__ import annotations

import tensorflow as tf

_BN = tf.keras.layers.BatchNormalization


class LogicalAndBatchNorm(_BN):
    """``training`` combined with ``self.trainable`` by ``tf.logical_and`` (a missing ``training`` is False).

    Pattern of https://github.com/zzh8829/yolov3-tf2/blob/master/yolov3_tf2/batch_norm.py
    ("Make trainable=False freeze BN for real"), copied into many YOLO ports
    (e.g. hunglc007/tensorflow-yolov4-tflite ``core/common.py``).
    """

    def call(self, x, training=False):
        if training is None:
            training = tf.constant(False)
        return super().call(x, tf.logical_and(training, self.trainable))


class AlwaysInferenceBatchNorm(_BN):
    """A "frozen" BN: every call runs with ``training=False``, whatever the caller passes.

    Pattern of the workaround posted in https://github.com/keras-team/keras/pull/9965#issuecomment-501933060
    (``FrozenBatchNormalization``, often monkey-patched over ``layers.BatchNormalization``
    before building a pretrained application model).
    """

    def call(self, inputs, training=None):
        return super().call(inputs=inputs, training=False)


class ArgsKwargsBatchNorm(_BN):
    """A subclass whose ``call(*args, **kwargs)`` forwards everything: ``training`` is not in its signature.

    Pattern of https://github.com/fizyr/keras-resnet/blob/master/keras_resnet/layers/_batch_normalization.py
    (``BatchNormalization.call(self, *args, **kwargs)``; here without its ``freeze`` argument),
    the shape of any pass-through override that logs or casts before calling the base.
    """

    def call(self, *args, **kwargs):
        return super().call(*args, **kwargs)


def frozen_bn(**kwargs):
    """A factory (``--bn-layer bn_behaviour.client_patterns:frozen_bn``): the always-inference BN, built with
    ``kwargs``; how code that takes a ``norm_layer=`` callable passes its BatchNormalization."""
    return AlwaysInferenceBatchNorm(**kwargs)
