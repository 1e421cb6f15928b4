"""Seeded data for a model's inputs, and each path run on the model as its user runs it.

Inputs come from the model's declared ``inputs`` (a functional or Sequential model, or any model
built on ``keras.Input``): a free batch dimension takes :data:`BATCH`, a free image side
:data:`SIDE`, any other free dimension :data:`LENGTH`; floats are seeded normal draws, integers and
booleans 0 or 1 (a valid index for any embedding or label).  Targets follow the model's loss: class
indices for a ``sparse`` loss, one-hot rows for another categorical one, 0/1 for a binary one, normal
draws otherwise.  ``--data FILE.npz`` (``x``, or one array per input name, and optionally ``y``)
replaces both.

A model compiled by its user runs with its own ``compile()`` configuration (optimizer, loss,
``jit_compile``), exactly as it stands; one that is not is compiled with :data:`DEFAULT_COMPILE`
(the transfer-learning guide's optimizer, a loss every output takes).  Every path runs once on one
batch: ``fit`` one epoch of one step, ``custom_loop`` one step of the target's own custom-loop
shape (``train_step``: a GradientTape step on TensorFlow, the stateless step on JAX, an eager step
on PyTorch) with ``training=True``, ``call`` is ``model(x)``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..cases import inputs

#: What the synthetic batch fills a free dimension with.
BATCH, SIDE, LENGTH = 8, 32, 8
#: ``compile()`` for a model its user did not compile: what the check says it assumed.
DEFAULT_COMPILE = "compile(optimizer=Adam(learning_rate=1e-3), loss='mse')"


class DataError(Exception):
    """Inputs or targets that cannot be had: one line saying which and how to pass them."""


def free(shape: tuple, rank: int) -> tuple:
    """``shape`` with its free dimensions filled (the first is the batch).

    >>> free((None, None, None, 3), 4), free((None, None, 16), 3)
    ((8, 32, 32, 3), (8, 8, 16))
    """
    side = SIDE if rank == 4 else LENGTH
    return tuple(BATCH if i == 0 else (side if d is None else int(d)) for i, d in enumerate(shape))


def draw(shape: tuple, dtype: str, rng: np.random.Generator) -> np.ndarray:
    """Seeded values of ``dtype``: normal floats, or 0/1 for integers and booleans.

    >>> draw((2, 3), "int32", np.random.default_rng(0)).dtype, draw((2,), "float32", np.random.default_rng(0)).shape
    (dtype('int32'), (2,))
    """
    if "float" in dtype:
        return rng.normal(0.0, 1.0, size=shape).astype(dtype)
    return rng.integers(0, 2, size=shape).astype("bool" if dtype == "bool" else dtype)


def synthetic_inputs(model) -> list[np.ndarray]:
    """One seeded batch per declared input of ``model``."""
    declared = getattr(model, "inputs", None)
    if not declared:
        raise DataError(f"model {model.name!r} declares no inputs (a subclassed or unbuilt model): pass --data "
                        "FILE.npz holding x (and y)")
    rng = np.random.default_rng(inputs.SEED)
    out = []
    for tensor in declared:
        shape = tuple(tensor.shape)
        dtype = str(getattr(tensor.dtype, "name", tensor.dtype))
        if shape and shape[0] is not None and shape[0] < 2:
            raise DataError(f"input {tensor.name!r} has a fixed batch size {shape[0]}: a BatchNormalization needs "
                            "two samples or more; pass --data FILE.npz")
        out.append(draw(free(shape, len(shape)), dtype, rng))
    return out


def _loss_name(loss) -> str:
    return str(getattr(loss, "__name__", None) or getattr(loss, "name", None) or loss).lower()


def targets_for(loss, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """Targets a loss accepts for outputs of ``shape``.

    >>> rng = np.random.default_rng(0)
    >>> targets_for("sparse_categorical_crossentropy", (8, 5), rng).shape, targets_for("mse", (8, 1), rng).dtype
    ((8,), dtype('float32'))
    >>> targets_for("categorical_crossentropy", (8, 3), rng).sum(axis=1).tolist() == [1.0] * 8
    True
    """
    name = _loss_name(loss)
    if "sparse" in name:
        return rng.integers(0, shape[-1], size=shape[:-1]).astype("int32")
    if "binary" in name or "hinge" in name:
        return rng.integers(0, 2, size=shape).astype("float32")
    if "categorical" in name or "crossentropy" in name or "kl" in name:
        return np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], size=shape[:-1])]
    return rng.normal(0.0, 1.0, size=shape).astype("float32")


def output_shapes(model, x: list[np.ndarray]) -> list[tuple]:
    """The shape of each output on the batch ``x`` (declared, or from an inference call)."""
    declared = getattr(model, "outputs", None)
    if declared:
        return [(BATCH if not len(x) else len(x[0]), *tuple(t.shape)[1:]) for t in declared]
    out = model(x[0] if len(x) == 1 else x, training=False)
    return [tuple(o.shape) for o in (out if isinstance(out, (list, tuple)) else [out])]


def batch(model, data: Optional[dict]) -> tuple[list, list]:
    """``(x, y)``: the ``--data`` arrays, or synthetic ones; each a list, one array per input / output."""
    if data and "x" in data:
        x = [data["x"]]
    elif data:
        names = [t.name for t in getattr(model, "inputs", None) or ()]
        missing = [n for n in names if n not in data]
        if not names or missing:
            raise DataError(f"--data holds {sorted(data)}: it needs x, or one array per input named "
                            f"{names or '(the model declares none)'}")
        x = [data[n] for n in names]
    else:
        x = synthetic_inputs(model)
    if data and "y" in data:
        return x, [data["y"]]
    loss = getattr(model, "loss", None)
    losses = loss if isinstance(loss, (list, tuple)) else None
    rng = np.random.default_rng(inputs.SEED + 1)
    shapes = output_shapes(model, x)
    return x, [targets_for(losses[i] if losses else loss or "mse", s, rng) for i, s in enumerate(shapes)]


def compiled(model) -> bool:
    """Whether the user compiled ``model`` (Keras 3's ``compiled``; tf_keras' ``optimizer``)."""
    flag = getattr(model, "compiled", None)
    return bool(flag) if flag is not None else getattr(model, "optimizer", None) is not None


def _custom_loop(model, xs, ys, size: int, driver) -> None:
    driver.train_step(model, {"training": True}, 1e-3, "Adam")(xs, ys)


#: How each path runs on one batch of ``size`` samples (``xs`` / ``ys``: an array, or one per input / output).
RUNS = {
    "fit": lambda model, xs, ys, size, driver: model.fit(xs, ys, batch_size=size, epochs=1, shuffle=False,
                                                         verbose=0),
    "train_on_batch": lambda model, xs, ys, size, driver: model.train_on_batch(xs, ys),
    "custom_loop": _custom_loop,
    "evaluate": lambda model, xs, ys, size, driver: model.evaluate(xs, ys, batch_size=size, verbose=0),
    "predict": lambda model, xs, ys, size, driver: model.predict(xs, batch_size=size, verbose=0),
    "call": lambda model, xs, ys, size, driver: model(xs),
}
#: The paths that go through ``compile()``.
COMPILED = ("fit", "train_on_batch", "evaluate")


def run(path: str, model, x: list, y: list, api, driver) -> None:
    """Run ``path`` once on the batch, compiling with :data:`DEFAULT_COMPILE` where the path needs a
    compiled model the user did not compile."""
    if path == "custom_loop" and len(y) != 1:
        raise DataError(f"--path custom_loop runs the guide's one-output step: this model has {len(y)} outputs")
    if path in COMPILED and not compiled(model):
        model.compile(optimizer=api.optimizers.Adam(learning_rate=1e-3), loss="mse")
    RUNS[path](model, x[0] if len(x) == 1 else x, y[0] if len(y) == 1 else y, len(x[0]), driver)
