"""Deliberately broken BatchNormalization layers: the suite must catch every one.

Each mutant breaks one documented behaviour of ``keras.layers.BatchNormalization``
(Keras 3) and names, in ``BREAKS``, the check of ``bn_behaviour.rules.CHECKS``
that must then fail; its docstring says how it breaks it.  ``CONTROLS`` are
layers that follow the rule and must pass: the genuine layer, :class:`Split`
unchanged (so a mutant's failure comes from its own change, not from the
split) and :class:`Faithful`, a from-scratch re-implementation.

This module imports Keras, so it is imported only in a process whose
``KERAS_BACKEND`` is already set (``tests/test_mutation.py`` runs it in a
fresh TensorFlow process; ``tests/conftest.py`` keeps doctest collection out).
"""

from __future__ import annotations

import keras
from keras import ops

BN = keras.layers.BatchNormalization


def _bessel(inputs, variance, axes):
    """``variance * n / (n - 1)``, n the number of values per channel."""
    n = ops.sum(ops.ones_like(inputs), axis=axes)
    return variance * n / (n - 1.0)


class Split(BN):
    """The installed ``BatchNormalization.call`` for the matrix's inputs (no mask, no renorm), cut into hooks.

    The same operations as keras/src/layers/normalization/batch_normalization.py,
    split where the mutants below differ, so each mutant overrides one hook.
    """

    BREAKS = None

    def in_training_mode(self, training) -> bool:
        """Batch statistics normalise only with ``training`` and a trainable layer."""
        return bool(training and self.trainable)

    def updates(self, training, mode: bool) -> bool:
        """Whether this call moves the moving statistics: exactly in training mode."""
        return mode

    def moving_step(self, moving, batch):
        return moving * self.momentum + batch * (1.0 - self.momentum)

    def update_moving(self, inputs, moving, batch):
        (moving_mean, moving_variance), (mean, variance) = moving, batch
        self.moving_mean.assign(self.moving_step(moving_mean, mean))
        self.moving_variance.assign(self.moving_step(moving_variance, variance))

    def normalising_stats(self, inputs, batch, moving, mode: bool):
        return batch if mode else moving

    def normalise(self, x, mean, variance, gamma, beta):
        return ops.batch_normalization(
            x, mean, variance, axis=self.axis, offset=beta, scale=gamma, epsilon=self.epsilon
        )

    def call(self, inputs, training=None, mask=None):
        x = ops.cast(inputs, "float32")
        moving = (ops.cast(self.moving_mean, x.dtype), ops.cast(self.moving_variance, x.dtype))
        batch = self._moments(x, mask)
        mode = self.in_training_mode(training)
        if self.updates(training, mode):
            self.update_moving(x, moving, batch)
        mean, variance = self.normalising_stats(x, batch, moving, mode)
        gamma, beta = ops.cast(self.gamma, x.dtype), ops.cast(self.beta, x.dtype)
        return ops.cast(self.normalise(x, mean, variance, gamma, beta), self.compute_dtype)


# --- mode: which statistics normalise the batch ----------------------------------


class IgnoresTrainableForMode(Split):
    """mode: ``training=True`` means training mode even when ``trainable`` is False.

    The TF1 / Keras 2.0 behaviour; the TF2 docstring says a frozen BN runs in inference mode.
    """

    BREAKS = "mode"

    def in_training_mode(self, training):
        return bool(training)


class MovingStatsInTraining(Split):
    """mode: training mode normalises with the moving statistics (it still updates them).

    The seed answer's prose; the docstring says training mode uses the batch's own statistics.
    """

    BREAKS = "mode"

    def normalising_stats(self, inputs, batch, moving, mode):
        return moving


class NoneMeansTraining(BN):
    """mode: a call without ``training`` runs in training mode (the FAQ: no argument means inference)."""

    BREAKS = "mode"

    def call(self, inputs, training=None, mask=None):
        return super().call(inputs, training=True if training is None else training, mask=mask)


class BesselNormalise(Split):
    """mode: training mode divides by the Bessel-corrected batch variance, not the biased one."""

    BREAKS = "mode"

    def normalising_stats(self, inputs, batch, moving, mode):
        if not mode:
            return moving
        mean, variance = batch
        return mean, _bessel(inputs, variance, self._reduction_axes)


class EpsilonOutsideSqrt(Split):
    """mode: normalises by ``sqrt(var) + epsilon`` instead of ``sqrt(var + epsilon)``."""

    BREAKS = "mode"

    def normalise(self, x, mean, variance, gamma, beta):
        return gamma * (x - mean) / (ops.sqrt(variance) + self.epsilon) + beta


class StaleTrainable(Split):
    """mode: decides the mode from ``trainable`` as read once at build, so a later freeze is ignored."""

    BREAKS = "mode"

    def build(self, input_shape):
        super().build(input_shape)
        self.trainable_at_build = self.trainable

    def in_training_mode(self, training):
        return bool(training and self.trainable_at_build)


# --- moving_stats: when and how the moving statistics move -----------------------


class UpdatesWhileFrozen(Split):
    """moving_stats: a frozen layer called with ``training=True`` normalises in inference mode
    but still updates its moving statistics (the docstring: "state updates will not be run")."""

    BREAKS = "moving_stats"

    def updates(self, training, mode):
        return bool(training)


class UpdatesInInference(Split):
    """moving_stats: a call without ``training=True`` (inference mode) updates the moving statistics."""

    BREAKS = "moving_stats"

    def updates(self, training, mode):
        return mode or not training


class NeverUpdates(Split):
    """moving_stats: the moving statistics never move, not even in training mode."""

    BREAKS = "moving_stats"

    def updates(self, training, mode):
        return False


class TorchMomentum(Split):
    """moving_stats: PyTorch's momentum convention, ``(1 - m) * moving + m * batch``, with Keras' m = 0.99."""

    BREAKS = "moving_stats"

    def moving_step(self, moving, batch):
        return moving * (1.0 - self.momentum) + batch * self.momentum


class BesselMovingUpdate(Split):
    """moving_stats: the moving variance takes the Bessel-corrected batch variance; Keras 3 uses the biased one."""

    BREAKS = "moving_stats"

    def update_moving(self, inputs, moving, batch):
        mean, variance = batch
        super().update_moving(inputs, moving, (mean, _bessel(inputs, variance, self._reduction_axes)))


class IgnoresMomentumArgument(Split):
    """moving_stats: ignores the ``momentum`` it is given and uses (and reports) its own 0.9.

    Caught only because the reference uses the documented momentum the driver
    passed to the constructor, never what the layer reports about itself.
    """

    BREAKS = "moving_stats"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.momentum = 0.9


# --- affine: whether gamma and beta are trained ----------------------------------


class FrozenAffineStillTrained(BN):
    """affine: ``trainable = False`` sets only the flag and leaves gamma/beta trainable variables,
    so a model around the frozen layer still trains them (its weight lists show them too)."""

    BREAKS = "affine"

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)


class AffineNeverTrained(BN):
    """affine: gamma and beta are made non-trainable variables at build, so fit() never trains
    them although the layer is trainable (its weight lists show it too)."""

    BREAKS = "affine"

    def build(self, input_shape):
        super().build(input_shape)
        self.gamma.trainable = self.beta.trainable = False


# --- weight_lists and no_error ---------------------------------------------------


class FrozenGammaBetaListed(BN):
    """weight_lists: the layer lists gamma/beta as trainable weights whatever its ``trainable``."""

    BREAKS = "weight_lists"

    @property
    def trainable_weights(self):
        return [self.gamma, self.beta]

    @property
    def non_trainable_weights(self):
        return [self.moving_mean, self.moving_variance]


class RaisesWhenFrozenTraining(BN):
    """no_error: refuses ``training=True`` on a frozen layer instead of running it in inference mode."""

    BREAKS = "no_error"

    def call(self, inputs, training=None, mask=None):
        if training and not self.trainable:
            raise ValueError("cannot run a frozen BatchNormalization in training mode")
        return super().call(inputs, training=training, mask=mask)


# --- a faithful re-implementation --------------------------------------------------


class Faithful(keras.layers.Layer):
    """BatchNormalization from scratch on the documented formulas (last axis), which must pass.

    Training mode (``training`` and ``trainable``): normalise with the batch's mean
    and biased variance and move ``moving = moving * momentum + batch * (1 - momentum)``;
    otherwise normalise with the moving statistics.  The weight lists come from
    ``keras.layers.Layer``.  Takes the constructor arguments the driver passes.
    """

    BREAKS = None

    def __init__(
        self,
        momentum=0.99,
        epsilon=1e-3,
        gamma_initializer="ones",
        beta_initializer="zeros",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self._initializers = {
            "gamma": gamma_initializer,
            "beta": beta_initializer,
            "moving_mean": moving_mean_initializer,
            "moving_variance": moving_variance_initializer,
        }

    def build(self, input_shape):
        for name, init in self._initializers.items():
            trainable = name in ("gamma", "beta")
            var = self.add_weight(shape=(input_shape[-1],), name=name, initializer=init, trainable=trainable)
            setattr(self, name, var)

    def call(self, inputs, training=None):
        if training and self.trainable:
            axes = tuple(range(len(inputs.shape) - 1))
            mean = ops.mean(inputs, axis=axes)
            variance = ops.mean(ops.square(inputs - mean), axis=axes)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
            self.moving_variance.assign(self.moving_variance * m + variance * (1.0 - m))
        else:
            mean, variance = self.moving_mean, self.moving_variance
        return self.gamma * (inputs - mean) / ops.sqrt(variance + self.epsilon) + self.beta


CONTROLS = [BN, Split, Faithful]
MUTANTS = [
    IgnoresTrainableForMode,
    MovingStatsInTraining,
    NoneMeansTraining,
    BesselNormalise,
    EpsilonOutsideSqrt,
    StaleTrainable,
    UpdatesWhileFrozen,
    UpdatesInInference,
    NeverUpdates,
    TorchMomentum,
    BesselMovingUpdate,
    IgnoresMomentumArgument,
    FrozenAffineStillTrained,
    AffineNeverTrained,
    FrozenGammaBetaListed,
    RaisesWhenFrozenTraining,
]
