"""What people write when they fine-tune with a frozen BatchNormalization, as data.

Each recipe is one row of the matrix (its permanent ID) and the outcome a
fine-tuning user wants from it; ``docs/fine-tuning.md`` shows, per target,
whether the observed row gives that outcome.  Nothing here states what a
target does: that is read from the report.

>>> from bn_behaviour.cases.scenario import generate
>>> ids = {s.id for s in generate()}
>>> all(r.row in ids for r in RECIPES)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .rulebook import INHERITED

#: The outcome of a frozen BatchNormalization: inference mode, nothing moves.
FROZEN = {"mode": "inference", "moving_stats": "unchanged", "affine": "unchanged"}


@dataclass(frozen=True)
class Recipe:
    id: str  #: permanent anchor in docs/fine-tuning.md
    family: str  #: the documented rule of the targets it is for (``Target.rule``)
    title: str
    code: str
    row: str  #: the scenario ID that shows what happens
    wanted: dict = field(default_factory=lambda: dict(FROZEN))
    note: str = ""  #: what about the row's model a reader needs to know

    def applies_to(self, rule: str) -> bool:
        """Whether the recipe is shown for targets judged by ``rule`` (its family, or one inheriting it).

        >>> RECIPES[0].applies_to("tf1-keras"), RECIPES[0].applies_to("tf1")
        (True, False)
        """
        return rule == self.family or INHERITED.get(rule, (None,))[0] == self.family

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
        "base.trainable = False\nx = base(inputs, training=False)\nmodel.compile(...)\nmodel.fit(...)",
        "base_training_false-frozen=inner_model-when=before_compile-path=fit-training=none",
    ),
    Recipe(
        "freeze-base-only", "tf2",
        "Freeze the base before compile() without training=False",
        "base.trainable = False\nx = base(inputs)\nmodel.compile(...)\nmodel.fit(...)",
        "nested-frozen=inner_model-when=before_compile-path=fit-training=none",
    ),
    Recipe(
        "freeze-bn-layer", "tf2",
        "Freeze only the BatchNormalization layer before compile()",
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
        "base.trainable = False\nwith tf.GradientTape() as tape:\n    loss = loss_fn(y, model(x, training=True))\n"
        "optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)",
        "nested-frozen=inner_model-when=before_compile-path=custom_loop-training=true",
        note="The row's model is the frozen base alone, so nothing is left to train: a loop that calls"
        " loss.backward() (the PyTorch backend's guide) has no gradient to compute.",
    ),
    Recipe(
        "custom-loop-reused-step", "tf2",
        "Freeze the base after a traced training step has run, and keep using that step",
        "train_step(x, y)  # a tf.function, traced\nbase.trainable = False\ntrain_step(x, y)",
        "nested-frozen=inner_model-when=after_fit-path=custom_loop-training=true",
    ),
    Recipe(
        "fine-tune-unfrozen-base", "tf2",
        "Fine-tune: unfreeze the base (still called with training=False) and compile again",
        "x = base(inputs, training=False)\n... model.fit(...)  # head only\nbase.trainable = True\n"
        "model.compile(...)\nmodel.fit(...)",
        "base_training_false-frozen=unfrozen-when=after_fit_recompile-path=fit-training=none",
        wanted={"mode": "inference", "moving_stats": "unchanged", "affine": "updated"},
        note="The base's weights train; its BatchNormalization must stay in inference mode (the guide's advice).",
    ),
    Recipe(
        "bn-node-training-false", "tf2",
        "Keep one BatchNormalization in inference mode by building its node with training=False",
        "x = layers.BatchNormalization()(x, training=False)\nmodel = keras.Model(inputs, x)\n"
        "model.compile(...)\nmodel.fit(...)",
        "node_training_false-frozen=none-when=before_compile-path=fit-training=none",
        wanted={"mode": "inference", "moving_stats": "unchanged"},
        note="The oldest advice in the Keras tracker for one BatchNormalization: nothing is frozen, so gamma/beta"
        " may train; the moving statistics must not move.",
    ),
    Recipe(
        "bn-subclass-training-false", "tf2",
        "Keep the BatchNormalization of a subclassed model in inference mode by calling it with training=False",
        "class Net(keras.Model):\n    def call(self, x, training=None):\n        return self.bn(x, training=False)\n"
        "model.compile(...)\nmodel.fit(...)",
        "subclassed_training_false-frozen=none-when=before_compile-path=fit-training=none",
        wanted={"mode": "inference", "moving_stats": "unchanged"},
    ),
    Recipe(
        "augmentation-before-bn-inference", "tf2",
        "Run a model with a preprocessing or augmentation layer before the BatchNormalization for inference,"
        " calling it as model(x)",
        "x = layers.RandomFlip()(inputs)  # call(self, x, training=True)\nx = layers.BatchNormalization()(x)\n"
        "model = keras.Model(inputs, x)\ny = model(images)",
        "after_default_training_true-frozen=none-when=before_compile-path=call-training=none",
        wanted={"mode": "inference", "moving_stats": "unchanged"},
        note="The row's first layer is a pass-through whose call() defaults training=True, as RandomFlip's,"
        " Resizing's and CenterCrop's do in Keras 3 (the workflow `preprocessing` runs the real layers).",
    ),
    Recipe(
        "tf1-trainable-false", "tf1",
        "Build the layer with trainable=False and train with training=True",
        "y = tf.compat.v1.layers.batch_normalization(x, training=True, trainable=False)\n"
        "train_op = optimizer.minimize(loss)  # with the UPDATE_OPS",
        "layer-frozen=layer_ctor-when=before_compile-path=custom_loop-training=true",
    ),
    Recipe(
        "tf1-training-false", "tf1",
        "Build the layer with trainable=False and training=False",
        "y = tf.compat.v1.layers.batch_normalization(x, training=False, trainable=False)\n"
        "train_op = optimizer.minimize(loss)  # with the UPDATE_OPS",
        "layer-frozen=layer_ctor-when=before_compile-path=custom_loop-training=false",
    ),
)
