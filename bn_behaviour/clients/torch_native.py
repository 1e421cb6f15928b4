"""PyTorch's own BatchNorm inside a Keras model, as people port PyTorch code: ``keras.layers.TorchModuleWrapper``.

``--bn-layer bn_behaviour.clients.torch_native:batch_norm_1d`` (keras-torch only; importing this module
imports Keras and PyTorch) builds ``TorchModuleWrapper(torch.nn.BatchNorm1d(C))`` with the suite's
constructor arguments translated the way a port translates them: ``momentum`` is the weight of the *new*
batch statistic in PyTorch (``1 - keras' momentum``), ``eps`` is ``epsilon``, and the starting values are
copied into the module's ``weight`` / ``bias`` / ``running_mean`` / ``running_var``.

What is the adapter's and not Keras': Keras tracks the module's parameters as variables named
``variable`` and ``variable_1``; here they are named ``gamma`` and ``beta`` (what they are), so the
statements about which variables are trainable read them; the running statistics are torch buffers,
which Keras does not track, read through :class:`Buffer` (``moving_mean``, ``moving_variance``).  And
``compute_output_shape`` returns the input's shape (a BatchNorm keeps it), which the wrapper does not
know without ``output_shape=``.  Everything the wrapper does with ``training`` and ``trainable`` is
Keras': its ``call(training=None)`` puts the module in train mode unless ``training`` is False.

PyTorch updates ``running_var`` with the unbiased batch variance ("the running variance is updated with
the unbiased estimator", https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm1d.html), where
Keras 3 uses the biased one: the client declares it (``--bn-variance bessel``), so a row reads ``updated``
when the module takes one PyTorch momentum step, and a formula is never taken for a broken statement.
"""

from __future__ import annotations

import keras
import numpy as np
import torch

from ..cases import inputs

#: Keras' name for each BatchNorm1d parameter (``weight`` scales, ``bias`` shifts).
NAMES = {"weight": "gamma", "bias": "beta"}


class Buffer:
    """A torch buffer of the module read like a Keras variable (``numpy()``, ``name``, ``dtype``)."""

    def __init__(self, module: torch.nn.Module, buffer: str, name: str):
        self.module, self.buffer, self.name = module, buffer, name

    def numpy(self) -> np.ndarray:
        return getattr(self.module, self.buffer).detach().cpu().numpy()

    @property
    def dtype(self) -> str:
        return str(getattr(self.module, self.buffer).dtype).replace("torch.", "")


class TorchBatchNorm(keras.layers.TorchModuleWrapper):
    """``TorchModuleWrapper(BatchNorm1d)`` with its parameters named and its buffers readable."""

    def _track_module_parameters(self):
        for name, param in self.module.named_parameters():
            self._track_variable(keras.Variable(initializer=param, trainable=param.requires_grad,
                                                name=NAMES.get(name, name)))
        self.built = True

    gamma = property(lambda self: next(v for v in self.weights if v.name == "gamma"))
    beta = property(lambda self: next(v for v in self.weights if v.name == "beta"))
    moving_mean = property(lambda self: Buffer(self.module, "running_mean", "moving_mean"))
    moving_variance = property(lambda self: Buffer(self.module, "running_var", "moving_variance"))

    def call(self, inputs, training=None):
        # One named input (the wrapper's is *args, which Keras' shape inference cannot map); the mode is Keras'.
        return super().call(inputs, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape


def _start(initializer, channels: int) -> torch.Tensor:
    return torch.as_tensor(np.asarray(keras.ops.convert_to_numpy(initializer((channels,), "float32"))))


def batch_norm_1d(momentum: float = 0.99, epsilon: float = 1e-3, gamma_initializer="ones", beta_initializer="zeros",
                  moving_mean_initializer="zeros", moving_variance_initializer="ones", channels: int = inputs.CHANNELS,
                  **kwargs) -> TorchBatchNorm:
    """``torch.nn.BatchNorm1d(channels)`` with Keras' arguments translated, wrapped for Keras (``kwargs``:
    the Keras layer's own, e.g. ``trainable``, ``name``)."""
    module = torch.nn.BatchNorm1d(channels, eps=epsilon, momentum=1.0 - momentum)
    with torch.no_grad():
        for target, init in ((module.weight, gamma_initializer), (module.bias, beta_initializer),
                             (module.running_mean, moving_mean_initializer),
                             (module.running_var, moving_variance_initializer)):
            target.copy_(_start(keras.initializers.get(init), channels))
    return TorchBatchNorm(module, **kwargs)
