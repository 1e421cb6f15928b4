"""The traced paths of the Keras 3 driver, one pair per backend.

Everything else a Keras 3 scenario does (build, freeze, compile, fit, call)
is backend-neutral; only ``call_graph`` (the call inside a traced function)
and ``custom_loop`` (one hand-written training step) are written the way a
user of each backend writes them.  :data:`TRACERS` maps a backend to
``(trace, train_step)``:

* ``trace(container, kw)`` returns ``fn(x) -> output``;
* ``train_step(container, kw, learning_rate, optimizer)`` returns ``fn(x, y) -> output``, one step of the
  named ``keras.optimizers`` class (SGD unless a workflow names the guide's Adam).

The TensorFlow pair also takes ``jit_compile=True`` (``tf.function(jit_compile=True)``: XLA, the compiled
matrix); JAX's are XLA already (``jax.jit``), and the compiled matrix runs no traced path on PyTorch.

Both are built once (at "compile" time of the scenario) and may be called
several times, so a function traced before a ``trainable`` change is reused
after it, as a user's would be.  Framework imports happen inside the
functions: only the active backend is ever imported.
"""

from __future__ import annotations

from typing import Callable

import keras

from ..cases import inputs


def _mse(out, y):
    """Mean squared error in float32 (under a mixed policy the output is float16 / bfloat16)."""
    return keras.ops.mean(keras.ops.square(keras.ops.cast(out, "float32") - y))


# --- TensorFlow: tf.function and a GradientTape step ---------------------------


def _tf_trace(container, kw, jit_compile: bool = False) -> Callable:
    import tensorflow as tf

    return tf.function(lambda x: container(x, **kw), jit_compile=jit_compile or None)


def _tf_train_step(container, kw, learning_rate: float = inputs.LEARNING_RATE, optimizer: str = "SGD",
                   jit_compile: bool = False) -> Callable:
    """One GradientTape step with ``optimizer.apply``, as the Keras guide writes it."""
    import tensorflow as tf

    opt = getattr(keras.optimizers, optimizer)(learning_rate)

    @tf.function(jit_compile=jit_compile or None)
    def step(x, y):
        with tf.GradientTape() as tape:
            out = container(x, **kw)
            loss = _mse(out, y)
        variables = container.trainable_weights
        grads = tape.gradient(loss, variables)
        opt.apply(grads, variables)
        return out

    return step


# --- JAX: jax.jit over the stateless API ----------------------------------------


def _values(variables) -> list:
    """The current values of Keras variables (what the stateless API takes)."""
    return [v.value for v in variables]


def _write_back(variables, values) -> None:
    """Attach new values to the model, as the stateless_call docstring shows."""
    for v, value in zip(variables, values):
        v.assign(value)


def _jax_trace(container, kw) -> Callable:
    """``jax.jit`` over ``stateless_call``; the new non-trainable values are written back.

    The variable lists are read at every call, so a ``trainable`` change that
    alters their lengths changes the argument structure and JAX retraces; one
    that leaves them alone reuses the old trace.
    """
    import jax

    @jax.jit
    def call(trainable, non_trainable, x):
        return container.stateless_call(trainable, non_trainable, x, **kw)

    def run(x):
        non_trainable = container.non_trainable_variables
        out, new = call(_values(container.trainable_variables), _values(non_trainable), x)
        _write_back(non_trainable, new)
        return out

    return run


def _jax_train_step(container, kw, learning_rate: float = inputs.LEARNING_RATE, optimizer: str = "SGD") -> Callable:
    """A jitted ``value_and_grad`` + ``optimizer.stateless_apply`` step (the Keras JAX guide's shape).

    The optimizer is built on the trainable variables of the moment, as the
    guide does before its loop; the new values are written back after each step.
    """
    import jax

    opt = getattr(keras.optimizers, optimizer)(learning_rate)
    opt.build(container.trainable_variables)

    def loss_and_updates(trainable, non_trainable, x, y):
        out, non_trainable = container.stateless_call(trainable, non_trainable, x, **kw)
        return _mse(out, y), (out, non_trainable)

    grad_fn = jax.value_and_grad(loss_and_updates, has_aux=True)

    @jax.jit
    def step(trainable, non_trainable, opt_vars, x, y):
        (_, (out, non_trainable)), grads = grad_fn(trainable, non_trainable, x, y)
        trainable, opt_vars = opt.stateless_apply(opt_vars, grads, trainable)
        return out, trainable, non_trainable, opt_vars

    def run(x, y):
        lists = (container.trainable_variables, container.non_trainable_variables, opt.variables)
        out, *new = step(*(_values(v) for v in lists), x, y)
        for variables, values in zip(lists, new):
            _write_back(variables, values)
        return out

    return run


# --- PyTorch: no traced call (torch.compile is not driven yet); the guide's eager loop ----


def _torch_trace(container, kw) -> Callable:
    raise NotImplementedError("call_graph is not run on the torch backend (see the target's `unsupported`)")


def _torch_train_step(container, kw, learning_rate: float = inputs.LEARNING_RATE, optimizer: str = "SGD") -> Callable:
    """The Keras PyTorch guide's eager step: zero grads, backward, ``optimizer.apply`` under no_grad."""
    import torch

    opt = getattr(keras.optimizers, optimizer)(learning_rate)

    def step(x, y):
        # Tensors, as a DataLoader yields them (torch - ndarray would go through NumPy).
        x, y = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
        out = container(x, **kw)
        loss = _mse(out, y)
        container.zero_grad()
        loss.backward()
        variables = container.trainable_weights
        grads = [v.value.grad for v in variables]
        with torch.no_grad():
            opt.apply(grads, variables)
        return keras.ops.convert_to_numpy(out)

    return step


TRACERS: dict[str, tuple[Callable, Callable]] = {
    "tensorflow": (_tf_trace, _tf_train_step),
    "jax": (_jax_trace, _jax_train_step),
    "torch": (_torch_trace, _torch_train_step),
}
