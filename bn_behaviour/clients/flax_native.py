"""Flax's own BatchNorm inside a Keras model, as people port Flax code: ``keras.layers.FlaxLayer``.

``--bn-layer bn_behaviour.clients.flax_native:batch_norm`` (keras-jax only; importing this module
imports Keras and Flax) builds ``FlaxLayer(flax.linen.BatchNorm(...), method=...)`` the way
``FlaxLayer``'s docstring says to adapt a module whose mode argument has another name and the
opposite meaning: linen's ``BatchNorm.__call__`` takes ``use_running_average``, so the method passes
``use_running_average=not training``.  Flax's ``momentum`` and ``epsilon`` mean what Keras' do
(both keep ``momentum`` of the old statistic), and the starting values go in through ``variables=``
(``params``: ``scale``, ``bias``; ``batch_stats``: ``mean``, ``var``), as a port loads trained ones.

What is the adapter's and not Keras': ``FlaxLayer`` creates one unnamed variable per leaf of the
module's variables (``variable``, ``variable_1``, ...); here they are named ``beta``, ``gamma``,
``moving_mean``, ``moving_variance`` (what they are, in the order ``FlaxLayer`` creates them: the
``params`` tree, then the state tree, each in key order), so the statements about which variables are
trainable read them; and ``compute_output_shape`` returns the input's shape.  Everything the layer does
with ``training`` and ``trainable`` is Keras': ``JaxLayer.call(inputs, training=False)`` passes the
``training`` Keras resolved, and ``trainable`` decides only which variables are trainable.

Flax updates ``var`` with the biased batch variance (``mean(x**2) - mean(x)**2``), as Keras 3 does.
Flax 0.12.8 (the newest on the index, 2026-12-07) asks for ``jax>=0.10.0``: it installs beside the
suite's JAX without changing it (``pip install flax==0.12.8``).
"""

from __future__ import annotations

import flax.linen
import keras
import numpy as np

from ..cases import inputs

#: The Keras name of each variable ``FlaxLayer`` creates, in its order (``params``, then ``batch_stats``;
#: each tree in key order): Flax's ``bias`` shifts, ``scale`` scales.
ORDER = (("params", "bias", "beta"), ("params", "scale", "gamma"),
         ("batch_stats", "mean", "moving_mean"), ("batch_stats", "var", "moving_variance"))


class FlaxBatchNorm(keras.layers.FlaxLayer):
    """``FlaxLayer(flax.linen.BatchNorm)`` with its variables named and readable as a BatchNormalization's."""

    def add_weight(self, *args, name=None, **kwargs):
        return super().add_weight(*args, name=name or ORDER[len(self.variables)][2], **kwargs)

    gamma = property(lambda self: self.params["params"]["scale"])
    beta = property(lambda self: self.params["params"]["bias"])
    moving_mean = property(lambda self: self.state["batch_stats"]["mean"])
    moving_variance = property(lambda self: self.state["batch_stats"]["var"])

    def compute_output_shape(self, input_shape):
        return input_shape


def use_running_average(module, inputs, training):
    """``FlaxLayer``'s method: Keras' ``training`` as linen's ``use_running_average``."""
    return module(inputs, use_running_average=not training)


def batch_norm(momentum: float = 0.99, epsilon: float = 1e-3, gamma_initializer="ones", beta_initializer="zeros",
               moving_mean_initializer="zeros", moving_variance_initializer="ones", channels: int = inputs.CHANNELS,
               **kwargs) -> FlaxBatchNorm:
    """``flax.linen.BatchNorm`` with Keras' arguments, its starting values from Keras' initializers, wrapped
    for Keras (``kwargs``: the Keras layer's own, e.g. ``trainable``, ``name``)."""
    start = {keras_name: np.asarray(keras.ops.convert_to_numpy(keras.initializers.get(init)((channels,), "float32")))
             for keras_name, init in (("beta", beta_initializer), ("gamma", gamma_initializer),
                                      ("moving_mean", moving_mean_initializer),
                                      ("moving_variance", moving_variance_initializer))}
    variables: dict = {}
    for collection, flax_name, keras_name in ORDER:
        variables.setdefault(collection, {})[flax_name] = start[keras_name]
    layer = FlaxBatchNorm(flax.linen.BatchNorm(momentum=momentum, epsilon=epsilon), method=use_running_average,
                          variables=variables, **kwargs)
    named = {"gamma": layer.gamma, "beta": layer.beta, "moving_mean": layer.moving_mean,
             "moving_variance": layer.moving_variance}
    if any(v.name != k for k, v in named.items()):  # FlaxLayer created its variables in another order
        raise RuntimeError(f"FlaxLayer's variables are not in the order {[k for *_, k in ORDER]}: "
                           f"{[(k, v.name) for k, v in named.items()]}")
    return layer
