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
from ..cases.scenario import COMPILED_PATHS, MODELS_WITH_INNER, SEQUENCE_MODELS, Scenario


def command(target: str, s: Scenario, layer: str = "genuine") -> str:
    """The ``bn-behaviour observe`` line for ``s`` (with ``--layer`` for a class under test)."""
    axes = " ".join(f"--{k} {v}" for k, v in s.axes().items())
    extra = "" if layer == "genuine" else f" --layer {layer}"
    return f"bn-behaviour observe --target {target} {axes}{extra}"


def variance_option(target) -> str:
    """What an ``observe`` line adds when the class under test declared its moving-variance update
    (``--bn-variance``): the same declaration.

    >>> from bn_behaviour.targets import TARGETS
    >>> variance_option(TARGETS["keras-torch"]), variance_option(TARGETS["keras-torch"].with_variance("bessel"))
    ('', ' --variance bessel')
    """
    return f" --variance {target.variance}" if target.variance else ""


#: The network around ``bn`` per model, as the driver builds it (``targets.network.build``): the BN, the
#: probe that keeps its output, the trainable head; ``base`` is the object holding the BN where there is one.
_PARTS = ("    def __init__(self):\n        super().__init__()\n"
          "        self.bn, self.probe, self.head = bn, probe, head\n")
_HOLDER = (
    "class Holder(keras.Model):\n" + _PARTS +
    "    def call(self, x, training=None):\n        return self.head(self.probe(self.bn(x, training={})))\n"
    "model = Holder()\nmodel.build((None, *x.shape[1:]))"
)
#: A functional model: the input, the features (the BN's output, made by ``{}``), the head on them.
_FUNCTIONAL = ("inputs = keras.Input(x.shape[1:])\nfeatures = {}\n"
               "model = keras.Model(inputs, head(probe(features)))")
#: The inner model of ``nested`` and ``base_training_false``: the fine-tuning guide's base.
_BASE = "xi = keras.Input(x.shape[1:])\nbase = keras.Model(xi, bn(xi))\n"
_BUILD = {
    "layer": (
        "class Chain(keras.layers.Layer):  # the bare layer and its trainable neighbour, chained by hand\n" + _PARTS +
        "    def call(self, x, training=None):\n        return self.head(self.probe(self.bn(x, training=training)))\n"
        "model = Chain()\nmodel.build((None, *x.shape[1:]))"
    ),
    "sequential": "model = keras.Sequential([keras.Input(x.shape[1:]), bn, probe, head])",
    "functional": _FUNCTIONAL.format("bn(inputs)"),
    "subclassed": _HOLDER.format("training"),
    "nested": _BASE + _FUNCTIONAL.format("base(inputs)"),
    "base_training_false": _BASE + _FUNCTIONAL.format("base(inputs, training=False)"),
    "node_training_false": _FUNCTIONAL.format("bn(inputs, training=False)"),
    "node_training_true": _FUNCTIONAL.format("bn(inputs, training=True)"),
    "subclassed_training_false": _HOLDER.format("False"),
    "wrapped": (
        "class Wrapper(keras.layers.Layer):\n"
        "    def __init__(self, bn):\n        super().__init__()\n        self.bn = bn\n"
        "    def call(self, x):\n        return self.bn(x)\n"
        "base = Wrapper(bn)\n" + _FUNCTIONAL.format("base(inputs)")
    ),
    "after_default_training_true": (
        "class PassThrough(keras.layers.Layer):\n"
        "    def call(self, x, training=True):\n        return x\n" + _FUNCTIONAL.format("bn(PassThrough()(inputs))")
    ),
    "time_distributed": "base = keras.layers.TimeDistributed(bn)\n" + _FUNCTIONAL.format("base(inputs)"),
}

#: The probe: an identity layer that keeps the output of what precedes it (the BN) in a variable,
#: so every path, a compiled one included, shows the BN's own output (the model's is the head's).
_PROBE = (
    "class Probe(keras.layers.Layer):\n"
    "    def __init__(self, shape):\n        super().__init__()\n"
    "        self.value = self.add_weight(shape=shape, initializer='zeros', trainable=False, dtype='float32')\n"
    "    def call(self, x):\n"
    "        if x.shape[0] in (None, self.value.shape[0]):\n"
    "            self.value.assign(keras.ops.cast(x, 'float32'))\n        return x\n"
    "    def compute_output_shape(self, shape):\n        return shape\n"
    "probe = Probe(x.shape)\n"
    "head = keras.layers.Dense(C, kernel_initializer="
    f"keras.initializers.GlorotUniform(seed={inputs.SEED}), dtype='float32')\n"
    "head.build((None, *x.shape[1:]))"
)


def _base(s: Scenario) -> str:
    """The name of what ``frozen=unfrozen`` freezes and unfreezes (``targets.network.base``)."""
    return "base" if s.model in MODELS_WITH_INNER else _outermost(s)


def _outermost(s: Scenario) -> str:
    return "bn" if s.model == "layer" else "model"


def _change(s: Scenario) -> str:
    return {
        "layer": "bn.trainable = False",
        "inner_model": "base.trainable = False",
        "outer_model": "model.trainable = False",
        "outer_then_layer": "bn.trainable = True",
        "unfrozen": f"{_base(s)}.trainable = True",
    }.get(s.frozen, "")


def _start(s: Scenario) -> str:
    """The freeze made when the network is built (``targets.network.freeze_at_build``)."""
    if s.frozen == "outer_then_layer":
        return f"{_outermost(s)}.trainable = False\n"
    return f"{_base(s)}.trainable = False\n" if s.frozen == "unfrozen" else ""


_RUN = {
    "fit": "model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)",
    "train_on_batch": "model.train_on_batch(x, y)",
    "evaluate": "model.evaluate(x, y, batch_size=len(x), verbose=0)",
    "test_on_batch": "model.test_on_batch(x, y)",
    "predict": "model.predict(x, batch_size=len(x), verbose=0)",
    "predict_on_batch": "model.predict_on_batch(x)",
}


def _kw(s: Scenario) -> str:
    return "" if s.training == "none" else f", training={s.training == 'true'}"


#: The JAX backend's traced paths as the Keras JAX guides write them (``keras3_backends``): ``jax.jit`` over
#: ``stateless_call``, the new non-trainable values (moving statistics, the probe's value) written back.
_JAX_READ = "values = lambda variables: [v.value for v in variables]\n"
_JAX_CALL = (
    _JAX_READ + "@jax.jit\ndef jitted(trainable, non_trainable, x):\n"
    "    return model.stateless_call(trainable, non_trainable, x{kw})\n"
    "def fn(x):\n    out, new = jitted(values(model.trainable_variables), values(model.non_trainable_variables), x)\n"
    "    for v, value in zip(model.non_trainable_variables, new):\n        v.assign(value)\n    return out"
)
#: The guide's training step: ``value_and_grad`` over ``stateless_call`` and ``optimizer.stateless_apply``.
_JAX_STEP = (
    _JAX_READ + "opt = keras.optimizers.SGD(LR)\nopt.build(model.trainable_variables)\n"
    "def loss_and_updates(trainable, non_trainable, x, y):\n"
    "    out, non_trainable = model.stateless_call(trainable, non_trainable, x{kw})\n"
    "    return keras.ops.mean((out - y) ** 2), (out, non_trainable)  # the head's output\n"
    "grad_fn = jax.value_and_grad(loss_and_updates, has_aux=True)\n"
    "@jax.jit\ndef step(trainable, non_trainable, opt_vars, x, y):\n"
    "    (_, (out, non_trainable)), grads = grad_fn(trainable, non_trainable, x, y)\n"
    "    trainable, opt_vars = opt.stateless_apply(opt_vars, grads, trainable)\n"
    "    return out, trainable, non_trainable, opt_vars\n"
    "def fn(x, y=y):\n"
    "    lists = (model.trainable_variables, model.non_trainable_variables, opt.variables)\n"
    "    out, *new = step(*(values(v) for v in lists), x, y)\n"
    "    for variables, new_values in zip(lists, new):\n"
    "        for v, value in zip(variables, new_values):\n            v.assign(value)\n    return out"
)


def _traced(s: Scenario, backend: str = "tensorflow", jit_compile: bool = False) -> str:
    if backend == "jax":
        return (_JAX_CALL if s.path == "call_graph" else _JAX_STEP).replace("{kw}", _kw(s))
    jit = ", jit_compile=True" if jit_compile else ""
    if s.path == "call_graph":
        return f"fn = tf.function(lambda x: model(x{_kw(s)}){jit})"
    return (
        f"opt = keras.optimizers.SGD(LR)\n@tf.function{'(jit_compile=True)' if jit_compile else ''}\ndef fn(x, y=y):\n"
        f"    with tf.GradientTape() as tape:\n        out = model(x{_kw(s)})\n"
        "        loss = keras.ops.mean((out - y) ** 2)  # the head's output\n"
        "    grads = tape.gradient(loss, model.trainable_weights)\n"
        "    opt.apply(grads, model.trainable_weights)\n    return out"
    )


def _steps(s: Scenario, backend: str = "tensorflow", jit_compile: bool = False) -> list[str]:
    compiled = s.path in COMPILED_PATHS
    jit = ", jit_compile=True" if jit_compile else ""
    setup = (
        f"model.compile(optimizer=keras.optimizers.SGD(LR), loss='mse'{jit})" if compiled
        else _traced(s, backend, jit_compile)
    )
    warm = "model.fit(x_warm, y, batch_size=len(x), verbose=0)" if compiled else "fn(x_warm)"
    chg = _change(s)
    if s.path == "call":
        return [chg, f"model(x{_kw(s)})"]
    run = _RUN.get(s.path, "fn(x)")
    if s.when == "before_compile":
        return [chg, setup, run]
    steps = [setup]
    if s.when.startswith("after_fit"):
        steps.append(warm)
    steps.append(chg)
    if s.when.endswith("_recompile"):
        steps.append(setup)
    return steps + [run]


def _timesteps(s: Scenario) -> str:
    """``time_distributed``: the (batch, time, features) sequences of ``inputs.sequence_data``."""
    if s.model not in SEQUENCE_MODELS:
        return ""
    later = ["[" + ", ".join(f"draw({inputs.SEED + 10 * t + k}, {m if k < 2 else 0.0}, {d if k < 2 else 1.0})"
                             for k in range(3)) + "]"
             for t, (m, d) in enumerate(zip(inputs.TIMESTEP_MEANS, inputs.TIMESTEP_STDS), start=1)]
    return ("steps = [[x, x_warm, y], " + ", ".join(later) + "]  # one batch per timestep: x, x_warm, y\n"
            "x, x_warm, y = (np.stack([step[i] for step in steps], axis=1) for i in range(3))\n")


def without_probe(code: str) -> str:
    """``code`` with every call of the probe taken out (what the network is without the instrument).

    >>> without_probe("model = keras.Model(inputs, head(probe(bn(inputs))))")
    'model = keras.Model(inputs, head(bn(inputs)))'
    >>> without_probe("return self.head(self.probe(self.bn(x, training=False)))")
    'return self.head(self.bn(x, training=False))'
    """
    for call in ("self.probe(", "probe("):
        while (start := code.find(call)) >= 0:
            depth, end = 1, start + len(call)
            while depth:
                depth += {"(": 1, ")": -1}.get(code[end], 0)
                end += 1
            code = code[:start] + code[start + len(call):end - 1] + code[end:]
    return code


def snippet(target: str, s: Scenario, jit_compile: bool = False):
    """A standalone program that performs main-matrix scenario ``s`` on ``target`` (None where none is written);
    ``jit_compile``: its compiled-matrix row (Keras 3 on TensorFlow only)."""
    write = (COMPILED_SNIPPETS if jit_compile else SNIPPETS).get(target)
    return write(s) if write else None


def keras3_snippet(s: Scenario, backend: str = "tensorflow", jit_compile: bool = False) -> str:
    """A standalone Keras 3 program that performs ``s`` (with ``jit_compile=True``: compiled) and prints what
    happened."""
    ctor = "trainable=False, " if s.frozen == "layer_ctor" else ""
    body = "\n".join(x for x in _steps(s, backend, jit_compile) if x)
    framework = "jax" if backend == "jax" else "tensorflow as tf"
    return (
        f"# bn-behaviour scenario {s.id}\nimport os\nos.environ['KERAS_BACKEND'] = '{backend}'\n"
        f"import numpy as np, keras, {framework}\n"
        f"C, LR = {inputs.CHANNELS}, {inputs.LEARNING_RATE}\n"
        "draw = lambda seed, mean, std: np.random.default_rng(seed)"
        f".normal(mean, std, ({inputs.BATCH_SIZE}, C)).astype('float32')\n"
        f"x = draw({inputs.SEED}, {inputs.CHANNEL_MEANS}, {inputs.CHANNEL_STDS})\n"
        f"x_warm = draw({inputs.SEED + 1}, {inputs.CHANNEL_MEANS}, {inputs.CHANNEL_STDS})\n"
        f"y = draw({inputs.SEED + 2}, 0.0, 1.0)\n{_timesteps(s)}"
        "k = keras.initializers.Constant\n"
        f"bn = keras.layers.BatchNormalization({ctor}gamma_initializer=k({inputs.GAMMA}), "
        f"beta_initializer=k({inputs.BETA}))\nbn.build((None, C))\n"
        f"{_PROBE}\n{_BUILD[s.model]}\n{_start(s)}{body}\n"
        "print('output[0]', probe.value.numpy()[0].tolist())  # the BN's output on the observed batch\n"
        "print('batch mean', x.mean(0).tolist(), 'batch var', x.var(0).tolist())\n"
        "for w in bn.weights:\n    print(w.name, w.numpy().tolist())\n"
        "print('trainable_weights', [w.name for w in bn.trainable_weights])\n"
    )


#: TF1's freeze at ``when``: the scope it takes out of TRAINABLE_VARIABLES (``targets.tf1``), per frozen value.
_TF1_FROZEN = {"layer": "{layer}", "inner_model": "outer/inner/", "outer_model": "outer/"}
_TF1_TRAIN_OP = ("with tf.control_dependencies(update_ops):\n"
                 "    train_op = v1.train.GradientDescentOptimizer(LR).minimize(loss)")


def tf1_snippet(s: Scenario) -> str:
    """A standalone TF1 graph program that performs ``s`` as ``targets.tf1`` does and prints what happened."""
    nested = s.model == "nested"
    layer = ("outer/inner/" if nested else "") + "batch_normalization/"
    args = [f"training={s.training == 'true'}"] if s.training != "none" else []
    args += ["trainable=False"] if s.frozen == "layer_ctor" else []
    bn = (f"out = v1.layers.batch_normalization(images, {', '.join([*args, ''])}"
          f"gamma_initializer=k({inputs.GAMMA}), beta_initializer=k({inputs.BETA}))")
    head = ("head = v1.layers.dense(out, C, kernel_initializer="
            f"v1.glorot_uniform_initializer(seed={inputs.SEED}), name='head')")
    graph = (f"with v1.variable_scope('outer'):\n    with v1.variable_scope('inner'):\n        {bn}\n    {head}"
             if nested else f"{bn}\n{head}")
    if s.frozen in _TF1_FROZEN:
        change = f"freeze('{_TF1_FROZEN[s.frozen].format(layer=layer)}')"
    else:
        change = "trainable.extend(base)" if s.frozen == "unfrozen" else ""
    start = f"base = freeze('{'outer/inner/' if nested else layer}')" if s.frozen == "unfrozen" else ""
    loop = s.path == "custom_loop"
    first = s.when.startswith("after_fit")
    steps = [start, "" if first else change, *([_TF1_TRAIN_OP] if loop else []),
             "sess = v1.Session()\nsess.run(v1.global_variables_initializer())"]
    if first:
        steps += ["sess.run(train_op, {images: x_warm})  # the first training step", change,
                  _TF1_TRAIN_OP if s.when.endswith("_recompile") else ""]
    steps.append(f"value, _ = sess.run([out, {'train_op' if loop else 'update_ops'}], {{images: x}})")
    draw = (f"draw = lambda seed, mean, std: np.random.default_rng(seed).normal(mean, std, ({inputs.BATCH_SIZE}, C))"
            f".astype('float32').reshape({inputs.IMAGE_SHAPE})\n")
    return (
        f"# bn-behaviour scenario {s.id}\nimport os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\n"
        "import numpy as np, tensorflow as tf\nv1 = tf.compat.v1\n"
        "v1.disable_eager_execution()\nv1.reset_default_graph()\n"
        f"C, LR = {inputs.CHANNELS}, {inputs.LEARNING_RATE}\n{draw}"
        f"x = draw({inputs.SEED}, {inputs.CHANNEL_MEANS}, {inputs.CHANNEL_STDS})\n"
        f"x_warm = draw({inputs.SEED + 1}, {inputs.CHANNEL_MEANS}, {inputs.CHANNEL_STDS})\n"
        f"y = draw({inputs.SEED + 2}, 0.0, 1.0)\n"
        "images = v1.placeholder(tf.float32, x.shape)\nk = v1.constant_initializer\n"
        f"{graph}\nupdate_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)\n"
        "trainable = v1.get_collection_ref(v1.GraphKeys.TRAINABLE_VARIABLES)\n"
        "def freeze(prefix):  # take a scope's variables out of TRAINABLE_VARIABLES; returns them\n"
        "    removed = [v for v in trainable if v.name.startswith(prefix)]\n"
        "    trainable[:] = [v for v in trainable if v not in removed]\n    return removed\n"
        "loss = tf.reduce_mean(tf.square(head - y))  # the head's output\n"
        + "\n".join(x for x in steps if x) + "\n"
        "print('output[0]', value.reshape(-1, C)[0].tolist())  # the layer's output on the observed batch\n"
        f"for v in v1.global_variables():\n    if v.name.startswith('{layer}'):\n"
        "        print(v.name.split('/')[-1].split(':')[0], sess.run(v).reshape(-1).tolist())\n"
    )


#: The targets with a standalone snippet writer (tested against the driver by tests/test_repro.py):
#: target -> function(scenario) -> code.
SNIPPETS: dict[str, Callable[[Scenario], str]] = {"keras-tensorflow": keras3_snippet,
                                                  "keras-jax": lambda s: keras3_snippet(s, "jax"), "tf1": tf1_snippet}
#: The compiled matrix's snippets (``jit_compile=True``), by target: where one is written.
COMPILED_SNIPPETS: dict[str, Callable[[Scenario], str]] = {
    "keras-tensorflow": lambda s: keras3_snippet(s, jit_compile=True)}
