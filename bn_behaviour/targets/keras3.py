"""Driver for Keras 3: performs a scenario on the real layer and records raw facts.

The driver does what a user does (build, freeze, compile, fit, call) and
reads the variables back; it predicts nothing.  KERAS_BACKEND must be set
before this module is imported (the target registry does it).
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Callable, Optional

import keras
import numpy as np

from .. import inputs
from ..observation import STATE_NAMES, Raw
from ..scenario import COMPILED_PATHS, TRAINING_PATHS, Scenario

BACKEND = keras.backend.backend()


class CaptureOutput(keras.metrics.Metric):
    """A metric that keeps the last ``y_pred`` so compiled paths reveal the layer's output."""

    def __init__(self, shape):
        super().__init__(name="capture_output")
        self.value = self.add_variable(shape=shape, initializer="zeros", name="value")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.value.assign(keras.ops.cast(y_pred, self.value.dtype))
        self.count.assign(self.count + 1.0)

    def result(self):
        return self.count


class Holder(keras.Model):
    """The ``subclassed`` model: a keras.Model subclass holding the layer."""

    def __init__(self, bn, **kwargs):
        super().__init__(**kwargs)
        self.bn = bn

    def call(self, x, training=None):
        return self.bn(x, training=training)


def _initializers() -> dict[str, Any]:
    c = keras.initializers.Constant
    return dict(
        gamma_initializer=c(inputs.GAMMA),
        beta_initializer=c(inputs.BETA),
        moving_mean_initializer=c(inputs.MOVING_MEAN),
        moving_variance_initializer=c(inputs.MOVING_VARIANCE),
    )


def build(s: Scenario, layer_cls) -> dict[str, Any]:
    """The layer and the objects around it: ``layer``, ``inner``, ``outer``."""
    kwargs = _initializers()
    if s.frozen == "layer_ctor":
        kwargs["trainable"] = False
    bn = layer_cls(**kwargs)
    bn.build((None, inputs.CHANNELS))
    objs: dict[str, Any] = {"layer": bn}
    shape = (inputs.CHANNELS,)
    if s.model == "sequential":
        objs["outer"] = keras.Sequential([keras.Input(shape), bn])
    elif s.model == "functional":
        x = keras.Input(shape)
        objs["outer"] = keras.Model(x, bn(x))
    elif s.model == "subclassed":
        objs["outer"] = Holder(bn)
        objs["outer"].build((None, inputs.CHANNELS))
    elif s.model in ("nested", "base_training_false"):
        xi = keras.Input(shape)
        inner = keras.Model(xi, bn(xi), name="inner")
        x = keras.Input(shape)
        kw = {"training": False} if s.model == "base_training_false" else {}
        objs["inner"], objs["outer"] = inner, keras.Model(x, inner(x, **kw))
    return objs


def outermost(objs):
    return objs.get("outer", objs["layer"])


def freeze_at_build(s: Scenario, objs) -> None:
    if s.frozen in ("outer_then_layer", "unfrozen"):
        outermost(objs).trainable = False


def change(s: Scenario, objs) -> None:
    """The scenario's ``trainable`` change, made at its ``when``."""
    if s.frozen == "layer":
        objs["layer"].trainable = False
    elif s.frozen == "inner_model":
        objs["inner"].trainable = False
    elif s.frozen == "outer_model":
        objs["outer"].trainable = False
    elif s.frozen == "outer_then_layer":
        objs["layer"].trainable = True
    elif s.frozen == "unfrozen":
        outermost(objs).trainable = True


def _training_kwargs(s: Scenario) -> dict[str, bool]:
    return {} if s.training == "none" else {"training": s.training == "true"}


# --- backend-specific traced functions ---------------------------------------


def _tf_trace(fn: Callable) -> Callable:
    import tensorflow as tf

    return tf.function(fn)


def _tf_train_step(container, kw) -> Callable:
    """One GradientTape step with ``optimizer.apply``, as the Keras guide writes it."""
    import tensorflow as tf

    opt = keras.optimizers.SGD(inputs.LEARNING_RATE)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            out = container(x, **kw)
            loss = keras.ops.mean(keras.ops.square(out - y))
        variables = container.trainable_weights
        grads = tape.gradient(loss, variables)
        opt.apply(grads, variables)
        return out

    return step


TRACERS = {"tensorflow": (_tf_trace, _tf_train_step)}


# --- running a path -----------------------------------------------------------


class Runner:
    """Runs one path on the built objects, with the warm-up and change at ``when``."""

    def __init__(self, s: Scenario, objs):
        self.s, self.objs = s, objs
        self.container = outermost(objs)
        self.kw = _training_kwargs(s)
        self.capture: Optional[CaptureOutput] = None
        self.fn: Optional[Callable] = None

    # compiled paths
    def compile(self):
        self.capture = CaptureOutput((inputs.BATCH_SIZE, inputs.CHANNELS))
        self.container.compile(
            optimizer=keras.optimizers.SGD(inputs.LEARNING_RATE), loss="mse", metrics=[self.capture]
        )

    def warm_up(self):
        if self.s.path in COMPILED_PATHS:
            self.container.fit(
                inputs.warmup_batch(), inputs.target(), batch_size=inputs.BATCH_SIZE, verbose=0
            )
        else:
            self.call_traced(inputs.warmup_batch())

    # traced paths
    def make_function(self):
        trace, train_step = TRACERS[BACKEND]
        if self.s.path == "custom_loop":
            self.fn = train_step(self.container, self.kw)
        else:
            self.fn = trace(lambda x: self.container(x, **self.kw))

    def call_traced(self, x):
        if self.s.path == "custom_loop":
            return self.fn(x, inputs.target())
        return self.fn(x)

    def prepare(self) -> None:
        """Everything up to (not including) the observed path, per ``when``."""
        s, compiled = self.s, self.s.path in COMPILED_PATHS
        setup = self.compile if compiled else self.make_function
        if s.path == "call":
            change(s, self.objs)
            return
        if s.when == "before_compile":
            change(s, self.objs)
            setup()
            return
        setup()
        if s.when.startswith("after_fit"):
            self.warm_up()
        change(s, self.objs)
        if s.when.endswith("_recompile"):
            setup()

    def run(self, x) -> Optional[np.ndarray]:
        """The observed path; returns the layer's output when the path reveals it."""
        p, c, y, b = self.s.path, self.container, inputs.target(), inputs.BATCH_SIZE
        if p == "call":
            return np.asarray(c(x, **self.kw))
        if p in ("call_graph", "custom_loop"):
            return np.asarray(self.call_traced(x))
        if p == "predict":
            return np.asarray(c.predict(x, batch_size=b, verbose=0))
        if p == "predict_on_batch":
            return np.asarray(c.predict_on_batch(x))
        self.capture.reset_state()
        if p == "fit":
            c.fit(x, y, batch_size=b, epochs=1, shuffle=False, verbose=0)
        elif p == "train_on_batch":
            c.train_on_batch(x, y)
        elif p == "evaluate":
            c.evaluate(x, y, batch_size=b, verbose=0)
        elif p == "test_on_batch":
            c.test_on_batch(x, y)
        if float(np.asarray(self.capture.count)) < 1:
            return None
        return np.asarray(self.capture.value)


def state(bn) -> dict[str, np.ndarray]:
    return {k: np.array(getattr(bn, k).numpy(), dtype=np.float64) for k in STATE_NAMES}


def _names(variables) -> list[str]:
    return [v.name.split("/")[-1].split(":")[0] for v in variables]


def format_error(e: BaseException) -> str:
    """``Class: first line`` with addresses masked, so reports are deterministic."""
    first = (str(e).strip().splitlines() or [""])[0]
    first = re.sub(r"0x[0-9a-fA-F]+", "0x...", first)[:300]
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def run(s: Scenario, layer_cls=None) -> Raw:
    """Perform ``s`` on the real layer and return what happened."""
    layer_cls = layer_cls or keras.layers.BatchNormalization
    keras.utils.clear_session()
    keras.utils.set_random_seed(inputs.SEED)
    objs = build(s, layer_cls)
    bn, x = objs["layer"], inputs.batch()
    freeze_at_build(s, objs)
    before, output, error = state(bn), None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            runner = Runner(s, objs)
            runner.prepare()
            before = state(bn)
            output = runner.run(x)
        except Exception as e:  # an error is a behaviour to record
            error = format_error(e)
    bn_vars = [id(v) for v in bn.weights]
    model_trainable = [v for v in outermost(objs).trainable_weights if id(v) in bn_vars]
    return Raw(
        x=x,
        output=output,
        before=before,
        after=state(bn),
        trainable_weights=_names(bn.trainable_weights),
        non_trainable_weights=_names(bn.non_trainable_weights),
        model_trainable_weights=_names(model_trainable),
        trains=s.path in TRAINING_PATHS,
        error=error,
        epsilon=float(bn.epsilon),
        momentum=float(bn.momentum),
    )
