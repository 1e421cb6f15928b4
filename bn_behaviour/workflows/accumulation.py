"""Gradient accumulation and several batches per compiled call: how often a BatchNormalization moves in fit().

Two ``fit()`` options change what one "step" is, and the documentation of each speaks of the model's variables:

* ``gradient_accumulation_steps=N`` (Keras 3 optimizers): "If an int, model & optimizer variables will not
  be updated at every step; instead they will be updated every ``gradient_accumulation_steps`` steps, using
  the average value of the gradients since the last update" (``keras.optimizers.Optimizer``,
  https://keras.io/api/optimizers/).  So gamma, beta and the head's kernel move every N-th batch.  The
  BatchNormalization documentation says the layer in training mode normalises with "the mean and standard
  deviation of the current batch of inputs" and updates its moving statistics as
  ``moving_mean = moving_mean * momentum + mean(batch) * (1 - momentum)``
  (https://keras.io/api/layers/normalization_layers/batch_normalization/), a forward-pass update no optimizer
  makes, while the optimizer's sentence names every model variable.  The two pages disagree on the moving
  statistics, so how often they move is **observed and published, never checked** (a documented ambiguity).
  tf_keras' optimizers have no such argument.
* ``compile(steps_per_execution=N)``: "The number of batches to run during each a single compiled function
  call ... if ``steps_per_execution`` is set to ``N``, ``Callback.on_batch_begin`` and
  ``Callback.on_batch_end`` methods will only be called every ``N`` batches" (``Model.compile``, Keras 3 and
  tf_keras alike, https://keras.io/api/models/model_training_apis/).  Every batch is still a training step,
  so the run ends where the same run with one batch per call ends.  Keras 3 adds "Not supported with the
  PyTorch backend" (its trainer raises ``ValueError``): not run there.

The network is the suite's (a trainable ``Dense(8)``, the BatchNormalization, ReLU, in a ``base`` model;
a ``Dense(1)`` head; Adam as the guide trains), ``frozen=base`` freezes the base as the transfer-learning
guide does (``base.trainable = False``, ``base(x, training=False)``).  ``fit()`` runs one epoch of
:data:`BATCHES` batches, unshuffled; a callback reads the variables at every ``on_train_batch_end``
(``Callback.model`` syncs the JAX state first) and the facts count, over those calls, how many saw the
moving statistics, gamma/beta and the head's kernel changed since the one before (or since the start).

>>> sorted(VARIANTS)[:2]
['accumulate=2-frozen=base', 'accumulate=2-frozen=none']
>>> changes([[0.0], [0.0], [1.0], [1.0], [2.0]])
'2'
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from ..cases import inputs
from ..rules.observation import ATOL, RTOL
from .base import Workflow, mismatch, raised
from .frameworks import bn, format_error, keras_api, values

WORKFLOW = Workflow(
    name="accumulation",
    title="Gradient accumulation and several batches per compiled call in fit()",
    rule="with gradient_accumulation_steps=N the model's trainable variables move every N-th batch; with "
    "steps_per_execution=N the batch callbacks run every N-th batch and the run ends where one batch per call "
    "ends; a frozen base moves nothing either way",
    source="https://keras.io/api/optimizers/",
)

#: How many batches the epoch has, and N for both options.
BATCHES, N = 4, 2
VARIANTS = {
    "accumulate=2-frozen=none": f"fit() over {BATCHES} batches with Adam(gradient_accumulation_steps={N}).",
    "accumulate=2-frozen=base": f"fit() over {BATCHES} batches with Adam(gradient_accumulation_steps={N}) on a base "
    "frozen as the transfer-learning guide says.",
    "steps_per_execution=2-frozen=none": f"fit() over {BATCHES} batches compiled with steps_per_execution={N}.",
    "steps_per_execution=2-frozen=base": f"fit() over {BATCHES} batches compiled with steps_per_execution={N} on a "
    "base frozen as the transfer-learning guide says.",
}
FIELDS = ("batch_callbacks", "moving_changes", "affine_changes", "head_changes", "as_one_batch_per_call", "error")
#: The guide's optimiser and its default learning rate (every update moves a float32 weight).
OPTIMIZER, LEARNING_RATE = "Adam", 1e-3
SAMPLES = BATCHES * inputs.BATCH_SIZE


def exclusion(target, variant: str) -> Optional[str]:
    if variant.startswith("accumulate") and target.implementation != "keras":
        return "tf_keras' optimizers have no gradient_accumulation_steps argument (a Keras 3 optimizer feature)"
    if variant.startswith("steps_per_execution") and target.backend == "torch":
        return ("steps_per_execution is 'Not supported with the PyTorch backend' (Model.compile's docstring; the "
                "torch trainer raises ValueError: steps_per_execution must be 1)")
    return None


def expected(target, variant: str) -> dict:
    frozen = variant.endswith("frozen=base")
    accumulate = variant.startswith("accumulate")
    calls = BATCHES if accumulate else BATCHES // N
    trained = "0" if frozen else str(BATCHES // N)
    # Not documented: the BN's moving statistics under accumulation (the two pages disagree); a frozen base's
    # never move; with steps_per_execution every callback follows two training batches.
    moving = "0" if frozen else (None if accumulate else str(calls))
    return {"batch_callbacks": str(calls), "moving_changes": moving, "affine_changes": trained,
            "head_changes": str(BATCHES // N), "as_one_batch_per_call": "n/a" if accumulate else "same",
            "error": None}


def check_no_error(variant, observed, exp) -> Optional[str]:
    """The option runs on this target."""
    return raised(observed)


def check_batch_callbacks(variant, observed, exp) -> Optional[str]:
    """on_train_batch_end runs after every batch, or every N-th with steps_per_execution=N (compile's
    docstring): the option is really in effect."""
    return mismatch(observed, exp, "batch_callbacks", "batch callbacks")


def check_moving_statistics(variant, observed, exp) -> Optional[str]:
    """A frozen base's moving statistics never move; with steps_per_execution they move between every two
    callbacks.  Under gradient accumulation the documentation is ambiguous: observed, not checked."""
    return None if exp["moving_changes"] is None else mismatch(observed, exp, "moving_changes",
                                                               "moving-statistics changes")


def check_gamma_beta(variant, observed, exp) -> Optional[str]:
    """gamma/beta move every N-th batch under gradient_accumulation_steps=N (the optimizer's docstring), at
    every callback with steps_per_execution, never while the base is frozen."""
    return mismatch(observed, exp, "affine_changes", "gamma/beta changes")


def check_head_learns(variant, observed, exp) -> Optional[str]:
    """The head's kernel moves as often as the option says: the run really trained (otherwise the other checks
    prove nothing)."""
    return mismatch(observed, exp, "head_changes", "head kernel changes")


def check_every_batch_trains(variant, observed, exp) -> Optional[str]:
    """With steps_per_execution=N every batch is still a training step: the run ends where the same run with
    one batch per call ends (every variable of the model, to float32 tolerance)."""
    return mismatch(observed, exp, "as_one_batch_per_call", "the variables, against one batch per call,")


CHECKS = {"no_error": check_no_error, "batch_callbacks": check_batch_callbacks,
          "moving_statistics": check_moving_statistics, "gamma_beta": check_gamma_beta,
          "head_learns": check_head_learns, "every_batch_trains": check_every_batch_trains}


def data() -> tuple[np.ndarray, np.ndarray]:
    """Seeded (SAMPLES, C) inputs whose batches differ (the k-th batch shifted by k) and a linear target."""
    rng = np.random.default_rng(inputs.SEED + 23)
    x = rng.normal(1.0, 2.0, size=(SAMPLES, inputs.CHANNELS)).astype(np.float32)
    x += np.repeat(np.arange(BATCHES, dtype=np.float32), inputs.BATCH_SIZE)[:, None]
    y = x @ np.array([[1.0], [-0.5], [0.25]], np.float32)
    return x, y.astype(np.float32)


def changes(snapshots: list) -> str:
    """How many snapshots differ from the one before them (the first is the state before fit)."""
    return str(sum(not all(np.array_equal(a, b) for a, b in zip(before, after))
                   for before, after in zip(snapshots, snapshots[1:])))


def _run(api, variant: str, options: bool):
    """Build the network, train one epoch with the variant's option (or without: ``options=False``); the
    snapshots (moving statistics, gamma/beta, head kernel) before fit and at every batch callback, and
    every variable of the model at the end."""
    api.utils.set_random_seed(inputs.SEED)
    x, y = data()
    inp = api.Input((inputs.CHANNELS,))
    norm = bn(api)
    base = api.Model(inp, api.layers.ReLU()(norm(api.layers.Dense(8)(inp))), name="base")
    frozen = variant.endswith("frozen=base")
    if frozen:
        base.trainable = False
    new_in = api.Input((inputs.CHANNELS,))
    head = api.layers.Dense(1)
    model = api.Model(new_in, head(base(new_in, training=False) if frozen else base(new_in)))
    accumulate = options and variant.startswith("accumulate")
    opt_kwargs = {"gradient_accumulation_steps": N} if accumulate else {}
    spe = N if options and variant.startswith("steps_per_execution") else 1
    model.compile(optimizer=getattr(api.optimizers, OPTIMIZER)(LEARNING_RATE, **opt_kwargs), loss="mse",
                  steps_per_execution=spe)

    def snapshot():
        return [values(vs) for vs in ([norm.moving_mean, norm.moving_variance], [norm.gamma, norm.beta], [head.kernel])]

    seen = [snapshot()]

    class Record(api.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model  # noqa: B018  (on JAX, reading Callback.model puts the training state back on the variables)
            seen.append(snapshot())

    model.fit(x, y, batch_size=inputs.BATCH_SIZE, epochs=1, shuffle=False, verbose=0, callbacks=[Record()])
    return seen, values(model.weights)


def observe(target, variant: str):
    api = keras_api(target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            seen, final = _run(api, variant, options=True)
            same = "n/a"
            if variant.startswith("steps_per_execution"):
                _, plain = _run(api, variant, options=False)
                same = "same" if all(np.allclose(a, b, RTOL, ATOL) for a, b in zip(final, plain)) else "differs"
        except Exception as e:  # noqa: BLE001  (an error is a behaviour to record)
            error = format_error(e)
            return {**dict.fromkeys(FIELDS, "n/a"), "error": error}, error
    observed = {"batch_callbacks": str(len(seen) - 1), "moving_changes": changes([s[0] for s in seen]),
                "affine_changes": changes([s[1] for s in seen]), "head_changes": changes([s[2] for s in seen]),
                "as_one_batch_per_call": same, "error": None}
    means = [np.round(s[0][0], 4).tolist() for s in seen]
    return observed, f"moving mean at each callback: {means}"
