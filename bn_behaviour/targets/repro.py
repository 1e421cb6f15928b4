"""Reproducers: the command line and a standalone snippet for one scenario.

The snippet uses only the framework and NumPy, so a maintainer can paste it
into an upstream bug report.  ``tests/test_repro.py`` runs generated
snippets and checks they agree with the driver.

>>> s = Scenario("functional", "layer", "after_fit", "fit", "none")
>>> print(command("keras-tensorflow", s))  # doctest: +NORMALIZE_WHITESPACE
bn-behaviour observe --target keras-tensorflow --model functional --frozen layer --when after_fit
    --path fit --training none
"""

from __future__ import annotations

from typing import Callable

from ..cases import inputs
from ..cases.scenario import COMPILED_PATHS, Scenario


def command(target: str, s: Scenario, layer: str = "genuine") -> str:
    """The ``bn-behaviour observe`` line for ``s`` (with ``--layer`` for a class under test)."""
    axes = " ".join(f"--{k} {v}" for k, v in s.axes().items())
    extra = "" if layer == "genuine" else f" --layer {layer}"
    return f"bn-behaviour observe --target {target} {axes}{extra}"


_BUILD = {
    "layer": "model = bn",
    "sequential": "model = keras.Sequential([keras.Input((C,)), bn])",
    "functional": "inp = keras.Input((C,))\nmodel = keras.Model(inp, bn(inp))",
    "subclassed": (
        "class Holder(keras.Model):\n"
        "    def __init__(self, bn):\n        super().__init__()\n        self.bn = bn\n"
        "    def call(self, x, training=None):\n        return self.bn(x, training=training)\n"
        "model = Holder(bn)\nmodel.build((None, C))"
    ),
    "nested": (
        "xi = keras.Input((C,))\ninner = keras.Model(xi, bn(xi))\n"
        "inp = keras.Input((C,))\nmodel = keras.Model(inp, inner(inp))"
    ),
    "base_training_false": (
        "xi = keras.Input((C,))\ninner = keras.Model(xi, bn(xi))\n"
        "inp = keras.Input((C,))\nmodel = keras.Model(inp, inner(inp, training=False))"
    ),
    "node_training_false": "inp = keras.Input((C,))\nmodel = keras.Model(inp, bn(inp, training=False))",
    "node_training_true": "inp = keras.Input((C,))\nmodel = keras.Model(inp, bn(inp, training=True))",
    "subclassed_training_false": (
        "class Holder(keras.Model):\n"
        "    def __init__(self, bn):\n        super().__init__()\n        self.bn = bn\n"
        "    def call(self, x, training=None):\n        return self.bn(x, training=False)\n"
        "model = Holder(bn)\nmodel.build((None, C))"
    ),
    "wrapped": (
        "class Wrapper(keras.layers.Layer):\n"
        "    def __init__(self, bn):\n        super().__init__()\n        self.bn = bn\n"
        "    def call(self, x):\n        return self.bn(x)\n"
        "inner = Wrapper(bn)\ninp = keras.Input((C,))\nmodel = keras.Model(inp, inner(inp))"
    ),
    "after_default_training_true": (
        "class PassThrough(keras.layers.Layer):\n"
        "    def call(self, x, training=True):\n        return x\n"
        "inp = keras.Input((C,))\nmodel = keras.Model(inp, bn(PassThrough()(inp)))"
    ),
    "time_distributed": (
        "x, x_warm, y = x[:, None], x_warm[:, None], y[:, None]  # (batch, time=1, features)\n"
        "inner = keras.layers.TimeDistributed(bn)\ninp = keras.Input((1, C))\nmodel = keras.Model(inp, inner(inp))"
    ),
}

_CHANGE = {
    "layer": "bn.trainable = False",
    "inner_model": "inner.trainable = False",
    "outer_model": "model.trainable = False",
    "outer_then_layer": "bn.trainable = True",
    "unfrozen": "model.trainable = True",
}

_RUN = {
    "fit": "model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)",
    "train_on_batch": "model.train_on_batch(x, y)",
    "evaluate": "model.evaluate(x, y, batch_size=len(x), verbose=0)",
    "test_on_batch": "model.test_on_batch(x, y)",
    "predict": "out = model.predict(x, batch_size=len(x), verbose=0)",
    "predict_on_batch": "out = model.predict_on_batch(x)",
}


def _kw(s: Scenario) -> str:
    return "" if s.training == "none" else f", training={s.training == 'true'}"


def _traced(s: Scenario) -> str:
    if s.path == "call_graph":
        return f"fn = tf.function(lambda x: model(x{_kw(s)}))"
    return (
        "opt = keras.optimizers.SGD(LR)\n@tf.function\ndef fn(x, y=y):\n"
        f"    with tf.GradientTape() as tape:\n        out = model(x{_kw(s)})\n"
        "        loss = keras.ops.mean((out - y) ** 2)\n"
        "    grads = tape.gradient(loss, model.trainable_weights)\n"
        "    opt.apply(grads, model.trainable_weights)\n    return out"
    )


def _steps(s: Scenario) -> list[str]:
    compiled = s.path in COMPILED_PATHS
    setup = (
        "model.compile(optimizer=keras.optimizers.SGD(LR), loss='mse')" if compiled else _traced(s)
    )
    warm = "model.fit(x_warm, y, batch_size=len(x), verbose=0)" if compiled else "fn(x_warm)"
    chg = _CHANGE.get(s.frozen, "")
    if s.path == "call":
        return [chg, f"out = model(x{_kw(s)})"]
    run = _RUN.get(s.path, "out = fn(x)")
    if s.when == "before_compile":
        return [chg, setup, run]
    steps = [setup]
    if s.when.startswith("after_fit"):
        steps.append(warm)
    steps.append(chg)
    if s.when.endswith("_recompile"):
        steps.append(setup)
    return steps + [run]


def snippet(target: str, s: Scenario):
    """A standalone program that performs main-matrix scenario ``s`` on ``target`` (None where none is written)."""
    write = SNIPPETS.get(target)
    return write(s) if write else None


def keras3_snippet(s: Scenario, backend: str = "tensorflow") -> str:
    """A standalone Keras 3 program that performs ``s`` and prints what happened."""
    ctor = "trainable=False, " if s.frozen == "layer_ctor" else ""
    start = "model.trainable = False\n" if s.frozen in ("outer_then_layer", "unfrozen") else ""
    body = "\n".join(x for x in _steps(s) if x)
    if s.path not in COMPILED_PATHS or s.path.startswith("predict"):
        show = "print('output[0]', keras.ops.convert_to_numpy(out)[0].tolist())\n"
    else:
        show = ""
    return (
        f"# bn-behaviour scenario {s.id}\nimport os\nos.environ['KERAS_BACKEND'] = '{backend}'\n"
        "import numpy as np, keras, tensorflow as tf\n"
        f"C, LR = {inputs.CHANNELS}, {inputs.LEARNING_RATE}\n"
        "draw = lambda seed, mean, std: np.random.default_rng(seed)"
        f".normal(mean, std, ({inputs.BATCH_SIZE}, C)).astype('float32')\n"
        f"x = draw({inputs.SEED}, {inputs.CHANNEL_MEANS}, {inputs.CHANNEL_STDS})\n"
        f"x_warm = draw({inputs.SEED + 1}, {inputs.CHANNEL_MEANS}, {inputs.CHANNEL_STDS})\n"
        f"y = draw({inputs.SEED + 2}, 0.0, 1.0)\n"
        "k = keras.initializers.Constant\n"
        f"bn = keras.layers.BatchNormalization({ctor}gamma_initializer=k({inputs.GAMMA}), "
        f"beta_initializer=k({inputs.BETA}))\nbn.build((None, C))\n"
        f"{_BUILD[s.model]}\n{start}{body}\n{show}"
        "print('batch mean', x.mean(0).tolist(), 'batch var', x.var(0).tolist())\n"
        "for w in bn.weights:\n    print(w.name, w.numpy().tolist())\n"
        "print('trainable_weights', [w.name for w in bn.trainable_weights])\n"
    )


#: The targets with a standalone snippet writer (tested against the driver by tests/test_repro.py):
#: target -> function(scenario) -> code.
SNIPPETS: dict[str, Callable[[Scenario], str]] = {"keras-tensorflow": keras3_snippet}
