"""What people write when they fine-tune with a frozen BatchNormalization, as data.

Each recipe is one row of the matrix (its permanent ID) and the outcome a
fine-tuning user wants from it; ``docs/fine-tuning.md`` shows, per target,
whether the observed row gives that outcome.  Nothing here states what a
target does: that is read from the report.

A recipe's row is a main-matrix row, or a compiled-matrix row (its ID ends ``-jit_compile=true``)
whose rule is its core's.

>>> from bn_behaviour.cases.scenario import generate
>>> ids = {s.id for s in generate()}
>>> all(r.core.id in ids for r in RECIPES)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..cases.compiled import SUFFIX, CompiledCase
from ..cases.scenario import Scenario
from .rulebook import INHERITED

#: The outcome of a frozen BatchNormalization: inference mode, nothing moves.
FROZEN = {"mode": "inference", "moving_stats": "unchanged", "affine": "unchanged"}


@dataclass(frozen=True)
class Recipe:
    id: str  #: permanent anchor in docs/fine-tuning.md
    rule: str  #: the documented rule of the targets it is for (``Target.rule``)
    title: str
    code: str
    row: str  #: the scenario ID that shows what happens
    wanted: dict = field(default_factory=lambda: dict(FROZEN))
    note: str = ""  #: what about the row's model a reader needs to know

    @property
    def core(self) -> Scenario:
        """The main-matrix scenario of the row (the row itself, or the compiled row's core): its rule.

        >>> Recipe("r", "tf2", "t", "c", "layer-frozen=none-when=before_compile-path=fit-training=none"
        ...        "-jit_compile=true").core.id
        'layer-frozen=none-when=before_compile-path=fit-training=none'
        """
        return CompiledCase.from_id(self.row).core if self.row.endswith(SUFFIX) else Scenario.from_id(self.row)

    def applies_to(self, rule: str) -> bool:
        """Whether the recipe is shown for targets judged by ``rule`` (its own, or one inheriting it).

        >>> RECIPES[0].applies_to("tf1-keras"), RECIPES[0].applies_to("tf1")
        (True, False)
        """
        return rule == self.rule or INHERITED.get(rule, (None,))[0] == self.rule

    def outcome(self, observed: dict) -> bool:
        """Whether an observation is what the recipe's user wants.

        >>> RECIPES[0].outcome({"mode": "inference", "moving_stats": "unchanged", "affine": "unchanged",
        ...                     "error": None})
        True
        >>> RECIPES[0].outcome({"mode": "training", "moving_stats": "updated", "affine": "unchanged",
        ...                     "error": None})
        False
        """
        return not observed.get("error") and all(observed[k] == v for k, v in self.wanted.items())


RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "guide-recipe", "tf2",
        "The guide's recipe: freeze the base, call it with training=False, compile, fit",
        "features = base(inputs, training=False)\nmodel = keras.Model(inputs, head(features))\n"
        "base.trainable = False\nmodel.compile(...)\nmodel.fit(...)",
        "base_training_false-frozen=inner_model-when=before_compile-path=fit-training=none",
    ),
    Recipe(
        "freeze-base-only", "tf2",
        "Freeze the base before compile() without training=False",
        "features = base(inputs)\nmodel = keras.Model(inputs, head(features))\n"
        "base.trainable = False\nmodel.compile(...)\nmodel.fit(...)",
        "nested-frozen=inner_model-when=before_compile-path=fit-training=none",
    ),
    Recipe(
        "freeze-bn-layer", "tf2",
        "Freeze only the BatchNormalization layer before compile()",
        "features = bn(inputs)\nmodel = keras.Model(inputs, head(features))\n"
        "bn.trainable = False\nmodel.compile(...)\nmodel.fit(...)",
        "functional-frozen=layer-when=before_compile-path=fit-training=none",
    ),
    Recipe(
        "freeze-after-compile", "tf2",
        "Freeze the base after compile() and fit without compiling again",
        "model.compile(...)\nbase.trainable = False\nmodel.fit(...)",
        "nested-frozen=inner_model-when=after_compile-path=fit-training=none",
    ),
    Recipe(
        "freeze-after-compile-recompile", "tf2",
        "Freeze the base after compile(), then compile again",
        "model.compile(...)\nbase.trainable = False\nmodel.compile(...)\nmodel.fit(...)",
        "nested-frozen=inner_model-when=after_compile_recompile-path=fit-training=none",
    ),
    Recipe(
        "freeze-after-fit", "tf2",
        "Freeze the base after a first fit() without compiling again",
        "model.fit(...)\nbase.trainable = False\nmodel.fit(...)",
        "nested-frozen=inner_model-when=after_fit-path=fit-training=none",
    ),
    Recipe(
        "freeze-after-fit-recompile", "tf2",
        "Freeze the base after a first fit(), then compile again",
        "model.fit(...)\nbase.trainable = False\nmodel.compile(...)\nmodel.fit(...)",
        "nested-frozen=inner_model-when=after_fit_recompile-path=fit-training=none",
    ),
    Recipe(
        "custom-loop", "tf2",
        "A custom training loop over a frozen base, calling the model with training=True",
        "base.trainable = False\n@tf.function\ndef fn(x, y=y):\n    with tf.GradientTape() as tape:\n"
        "        out = model(x, training=True)\n        loss = keras.ops.mean((out - y) ** 2)\n"
        "    grads = tape.gradient(loss, model.trainable_weights)\n    opt.apply(grads, model.trainable_weights)\n"
        "fn(x)",
        "nested-frozen=inner_model-when=before_compile-path=custom_loop-training=true",
        note="The row's model is the frozen base and a trainable head after it: the step trains the head. On the"
        " PyTorch backend the step is the PyTorch guide's eager one (loss.backward(), then optimizer.apply).",
    ),
    Recipe(
        "custom-loop-no-training-arg", "tf2",
        "A custom training loop over a frozen base that calls the model without training=",
        "base.trainable = False\n@tf.function\ndef fn(x, y=y):\n    with tf.GradientTape() as tape:\n"
        "        out = model(x)  # no training argument\n        loss = keras.ops.mean((out - y) ** 2)\n"
        "    grads = tape.gradient(loss, model.trainable_weights)\n    opt.apply(grads, model.trainable_weights)\n"
        "fn(x)",
        "nested-frozen=inner_model-when=before_compile-path=custom_loop-training=none",
        note="The Keras JAX guide's loop as first published (`model.stateless_call(trainable, non_trainable, x)`"
        " inside `jax.jit`, no `training=True`: keras#20378, https://github.com/keras-team/keras/issues/20378) is"
        " this row on keras-jax; a frozen base must stay frozen either way. On the PyTorch backend the step is"
        " the PyTorch guide's eager one.",
    ),
    Recipe(
        "custom-loop-reused-step", "tf2",
        "Freeze the base after a traced training step has run, and keep using that step",
        "fn(x_warm)  # fn: the tf.function training step of the recipe above, traced here\n"
        "base.trainable = False\nfn(x)",
        "nested-frozen=inner_model-when=after_fit-path=custom_loop-training=true",
    ),
    Recipe(
        "guide-recipe-xla", "tf2",
        "The guide's recipe compiled with XLA (what compile() gives on a GPU)",
        "features = base(inputs, training=False)\nmodel = keras.Model(inputs, head(features))\n"
        "base.trainable = False\nmodel.compile(..., jit_compile=True)\nmodel.fit(...)",
        "base_training_false-frozen=inner_model-when=before_compile-path=fit-training=none-jit_compile=true",
        note="`jit_compile=\"auto\"` is XLA on a GPU and on JAX, plain on a CPU-only TensorFlow and on PyTorch;"
        " this row asks for it (`torch.compile` on PyTorch, where the compiled matrix runs three rows only;"
        " keras-jax's rows are XLA already: see the guide's recipe above).",
    ),
    Recipe(
        "freeze-after-fit-xla", "tf2",
        "Freeze the base after a first XLA-compiled fit() without compiling again",
        "model.compile(..., jit_compile=True)\nmodel.fit(...)\nbase.trainable = False\nmodel.fit(...)",
        "nested-frozen=inner_model-when=after_fit-path=fit-training=none-jit_compile=true",
        note="As the recipe without XLA: the compiled step is the one traced before the freeze.",
    ),
    Recipe(
        "fine-tune-unfrozen-base", "tf2",
        "Fine-tune: unfreeze the base (still called with training=False) and compile again",
        "features = base(inputs, training=False)\nmodel = keras.Model(inputs, head(features))\n"
        "base.trainable = False\nmodel.compile(...)\nmodel.fit(...)  # the head only\nbase.trainable = True\n"
        "model.compile(...)\nmodel.fit(...)",
        "base_training_false-frozen=unfrozen-when=after_fit_recompile-path=fit-training=none",
        wanted={"mode": "inference", "moving_stats": "unchanged", "affine": "updated"},
        note="The base's weights train; its BatchNormalization must stay in inference mode (the guide's advice).",
    ),
    Recipe(
        "bn-node-training-false", "tf2",
        "Keep one BatchNormalization in inference mode by building its node with training=False",
        "features = bn(inputs, training=False)  # bn = keras.layers.BatchNormalization()\n"
        "model = keras.Model(inputs, head(features))\nmodel.compile(...)\nmodel.fit(...)",
        "node_training_false-frozen=none-when=before_compile-path=fit-training=none",
        wanted={"mode": "inference", "moving_stats": "unchanged"},
        note="The oldest advice in the Keras tracker for one BatchNormalization: nothing is frozen, so gamma/beta"
        " may train; the moving statistics must not move.",
    ),
    Recipe(
        "bn-subclass-training-false", "tf2",
        "Keep the BatchNormalization of a subclassed model in inference mode by calling it with training=False",
        "class Holder(keras.Model):\n    def call(self, x, training=None):\n"
        "        return self.head(self.bn(x, training=False))\nmodel.compile(...)\nmodel.fit(...)",
        "subclassed_training_false-frozen=none-when=before_compile-path=fit-training=none",
        wanted={"mode": "inference", "moving_stats": "unchanged"},
    ),
    Recipe(
        "augmentation-before-bn-inference", "tf2",
        "Run a model with a preprocessing or augmentation layer before the BatchNormalization for inference,"
        " calling it as model(x)",
        "class PassThrough(keras.layers.Layer):  # as RandomFlip's, Resizing's, CenterCrop's call()\n"
        "    def call(self, x, training=True):\n        return x\n"
        "features = bn(PassThrough()(inputs))\nmodel = keras.Model(inputs, head(features))\nmodel(x)",
        "after_default_training_true-frozen=none-when=before_compile-path=call-training=none",
        wanted={"mode": "inference", "moving_stats": "unchanged"},
        note="The row's first layer is a pass-through whose call() defaults training=True, as RandomFlip's,"
        " Resizing's and CenterCrop's do in Keras 3 (the workflow `preprocessing` runs the real layers).",
    ),
    Recipe(
        "tf1-trainable-false", "tf1",
        "Build the layer with trainable=False and train with training=True",
        "out = v1.layers.batch_normalization(images, training=True, trainable=False, ...)\n"
        "head = v1.layers.dense(...)\n"
        "update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)\nloss = tf.reduce_mean(tf.square(head - y))\n"
        "with tf.control_dependencies(update_ops):\n"
        "    train_op = v1.train.GradientDescentOptimizer(LR).minimize(loss)\n"
        "value, _ = sess.run([out, train_op], ...)",
        "layer-frozen=layer_ctor-when=before_compile-path=custom_loop-training=true",
        note="The row's graph is the layer and a trainable dense head after it: the train op trains the head.",
    ),
    Recipe(
        "tf1-training-false", "tf1",
        "Build the layer with trainable=False and training=False",
        "out = v1.layers.batch_normalization(images, training=False, trainable=False, ...)\n"
        "head = v1.layers.dense(...)\n"
        "update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)\nloss = tf.reduce_mean(tf.square(head - y))\n"
        "with tf.control_dependencies(update_ops):\n"
        "    train_op = v1.train.GradientDescentOptimizer(LR).minimize(loss)\n"
        "value, _ = sess.run([out, train_op], ...)",
        "layer-frozen=layer_ctor-when=before_compile-path=custom_loop-training=false",
        note="The row's graph is the layer and a trainable dense head after it: the train op trains the head.",
    ),
)
