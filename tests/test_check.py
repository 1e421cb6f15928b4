"""``bn-behaviour check MODEL``: a user's own model, every BatchNormalization in it, against the rule.

Each check runs ``bn-behaviour check`` in a fresh process (as a user runs it) from a directory holding
the user's module, on keras-tensorflow.  The expectations are the documented rule's and the guide's:
a base frozen as the transfer-learning guide says moves nothing; an unfrozen base called with
``training=False`` stays in inference mode (the guide) where Keras 3 up to 3.15 trains it (keras#20285,
a known deviation of keras-tensorflow, named on every such layer); bad input is one line, exit 2.
"""

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bn_behaviour.targets import TARGETS
from bn_behaviour.usermodel.show import SCHEMA

jsonschema = pytest.importorskip("jsonschema")

#: Starts other Python processes (a framework import each): run with `pytest -m harness`.
pytestmark = pytest.mark.harness
TARGET = "keras-tensorflow"

MODELS = textwrap.dedent('''
    import keras

    def base():
        inputs = keras.Input((6, 6, 3))
        x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
        x = keras.layers.BatchNormalization(name="conv_bn")(x)
        return keras.Model(inputs, keras.layers.ReLU()(x), name="base")

    def guide(unfreeze=False):
        b = base()
        b.trainable = False
        inputs = keras.Input((6, 6, 3))
        x = keras.layers.GlobalAveragePooling2D()(b(inputs, training=False))
        model = keras.Model(inputs, keras.layers.Dense(1, name="head")(x))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        if unfreeze:
            b.trainable = True
            model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        return model

    def fine_tune():
        return guide(unfreeze=True)

    class Block(keras.layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.dense = keras.layers.Dense(6)
            self.bn = keras.layers.BatchNormalization()
        def call(self, x, training=None):
            return self.bn(self.dense(x), training=training)

    def mixed():
        inputs = keras.Input((5, 4))
        x = keras.layers.TimeDistributed(keras.layers.BatchNormalization(name="td_bn"), name="td")(inputs)
        x = Block(name="block")(keras.layers.Flatten()(x))
        frozen = keras.layers.BatchNormalization(name="frozen_bn")
        frozen.trainable = False
        return keras.Model(inputs, keras.layers.Dense(1)(frozen(x)))

    class Refuses(keras.layers.Layer):
        def call(self, x, training=None):
            if training:
                raise RuntimeError("this layer cannot train")
            return x

    def raising():
        inputs = keras.Input((3,))
        x = Refuses()(keras.layers.BatchNormalization(name="bn")(inputs))
        return keras.Model(inputs, keras.layers.Dense(1)(x))

    def no_bn():
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Dense(1)(inputs))

    def broken():
        raise RuntimeError("the weights server is down\\nretry later")

    def not_a_model():
        return 42

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.bn = keras.layers.BatchNormalization()
        def call(self, x):
            return self.bn(x)

    def subclassed():
        return Sub()

    def with_lambda():
        inputs = keras.Input((3,))
        x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
        return keras.Model(inputs, keras.layers.BatchNormalization()(x))
''')


@pytest.fixture
def user(tmp_path):
    if TARGETS[TARGET].missing():
        pytest.skip(f"{TARGET} is not installed")
    (tmp_path / "my_models.py").write_text(MODELS)

    def check(*args):
        proc = subprocess.run([sys.executable, "-m", "bn_behaviour.cli", "check", *args, "--target", TARGET],
                              capture_output=True, text=True, cwd=tmp_path)
        return proc.returncode, proc.stdout, proc.stderr

    check.folder = tmp_path
    return check


def _layers(stdout: str) -> dict:
    return {r["path"]: r for p in json.loads(stdout)["paths"] for r in p["layers"]}


def test_a_base_frozen_as_the_guide_says_moves_nothing(user):
    """The guide's frozen base (trainable = False, called with training=False): every BatchNormalization in
    inference mode, nothing moved; ``--expect frozen`` exits 0 and the summary says so."""
    code, out, err = user("my_models:guide", "--expect", "frozen")
    assert code == 0, err[-2000:]
    assert out.startswith("fit: 1 BatchNormalization layer: 1 in inference mode, 0 moved their moving statistics, "
                          "0 moved gamma/beta; all frozen")
    line = out.rstrip().splitlines()[-1]  # the table's one row
    assert line.startswith("base/conv_bn ") and line.endswith("as documented (base-training-false-stays-inference)")


def test_an_unfrozen_base_called_with_training_false_names_the_deviation(user):
    """The guide's fine-tuning step: the guide says the base's BatchNormalization stays in inference mode;
    Keras 3 up to 3.15 trains it (keras#20285): the layer breaks the statement and names the deviation;
    ``--expect rule`` exits 1, ``--expect training`` exits 0."""
    code, out, err = user("my_models:fine_tune", "--json")
    assert code == 1, err[-2000:]
    bn = _layers(out)["base/conv_bn"]
    assert bn["expected"]["mode"] == "inference" and bn["mode"] == "training"
    assert "base-training-false-stays-inference" in bn["broken"]
    assert bn["row"] == "base_training_false-frozen=none-when=before_compile-path=fit-training=none"
    if bn["deviation"]:  # the installed Keras is in the deviation's range
        assert bn["deviation_source"] == "https://github.com/keras-team/keras/issues/20285"
    assert user("my_models:fine_tune", "--expect", "training")[0] == 0


def test_every_batch_normalization_is_found_and_judged_where_it_is(user):
    """A TimeDistributed BatchNormalization, one held by a custom layer, one frozen: each at its path, in
    the row of its shape, each as the rule says on fit and on predict."""
    code, out, err = user("my_models:mixed", "--json", "--path", "fit", "--path", "predict")
    assert code == 0, err[-2000:]
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert doc["format"] == 1 and [p["path"] for p in doc["paths"]] == ["fit", "predict"]
    fit, predict = ({r["path"]: r for r in p["layers"]} for p in doc["paths"])
    assert set(fit) == {"td/td_bn", "block/batch_normalization", "frozen_bn"}
    assert fit["td/td_bn"]["row"].startswith("time_distributed-frozen=none-")
    assert fit["block/batch_normalization"]["row"].startswith("wrapped-frozen=none-")
    assert fit["frozen_bn"]["row"].startswith("functional-frozen=layer-")
    assert [fit[k]["mode"] for k in sorted(fit)] == ["training", "inference", "training"]
    assert {r["mode"] for r in predict.values()} == {"inference"} and all(r["ok"] for r in predict.values())


def test_a_path_that_raises_is_a_result_not_bad_input(user):
    """A model whose fit() raises: every layer's line says so and breaks documented-usage-does-not-raise
    (exit 1, the JSON valid); the same model's predict() is as documented (exit 0)."""
    code, out, err = user("my_models:raising", "--json")
    assert code == 1, err[-2000:]
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    (bn,) = doc["paths"][0]["layers"]
    assert bn["error"] == "RuntimeError: this layer cannot train" and bn["mode"] == "n/a"
    assert bn["broken"] == ["documented-usage-does-not-raise"]
    assert bn["note"] == "fit raised RuntimeError: this layer cannot train"
    assert user("my_models:raising", "--path", "predict")[0] == 0


def test_a_model_without_batch_normalization_says_so(user):
    code, out, _ = user("my_models:no_bn")
    assert code == 0 and out.strip() == "my_models:no_bn: no BatchNormalization layer; nothing to check"


def test_a_file_is_never_written_and_code_in_it_needs_unsafe(user):
    """A .keras file is read only (its bytes are the same after); one whose config would run code (a
    Lambda's bytecode) is refused in one line naming --unsafe, and checked with it."""
    folder = user.folder
    subprocess.run([sys.executable, "-c", "import my_models; my_models.guide().save('g.keras'); "
                    "my_models.with_lambda().save('l.keras')"], cwd=folder, check=True, capture_output=True,
                   env={**__import__("os").environ, "KERAS_BACKEND": "tensorflow"})
    digest = hashlib.sha256((folder / "g.keras").read_bytes()).hexdigest()
    assert user("g.keras", "--expect", "frozen")[0] == 0
    assert hashlib.sha256((folder / "g.keras").read_bytes()).hexdigest() == digest
    code, _, err = user("l.keras")
    assert code == 2 and "pass --unsafe" in err and len(err.strip().splitlines()[-1:]) == 1
    assert user("l.keras", "--unsafe", "--path", "predict")[0] == 0


@pytest.mark.parametrize("spec, extra, message", [
    ("my_models", [], "MODEL 'my_models' is not of the form module:attr"),
    ("no_such_module:build", [], "MODEL: cannot import module 'no_such_module'"),
    ("my_models:nothing", [], "MODEL: module 'my_models' has no attribute 'nothing'"),
    ("my_models:broken", [], "my_models:broken() raised RuntimeError: retry later"),
    ("my_models:not_a_model", [], "my_models:not_a_model() returned a value of type int, not a keras model"),
    ("missing.keras", [], "missing.keras: no such file"),
    ("my_models.py:x", [], "cannot import module"),
    ("my_models:subclassed", [], "declares no inputs (a subclassed or unbuilt model): pass --data FILE.npz"),
    ("my_models:guide", ["--data", "nothing.npz"], "--data nothing.npz: not an .npz file"),
], ids=["no-attr", "no-module", "no-such-attr", "raises", "not-a-model", "no-file", "file-as-module",
        "no-inputs", "bad-data"])
def test_bad_input_is_one_line(user, spec, extra, message):
    code, out, err = user(spec, *extra)
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("bn-behaviour: error: ") and message in last, err[-1500:]
    assert "Traceback" not in err and not out


def test_a_file_that_is_not_a_model_is_one_line(user):
    (user.folder / "notes.keras").write_text("not a zip")
    code, _, err = user("notes.keras")
    assert code == 2 and "notes.keras: not a model keras can load" in err.strip().splitlines()[-1]


def test_the_documented_example_says_what_the_command_prints(tmp_path):
    """docs/using.md's worked example: its module, its command, its first two lines of output and the exit
    code --expect frozen gives (the guide's frozen base: every BatchNormalization in inference mode)."""
    if TARGETS[TARGET].missing():
        pytest.skip(f"{TARGET} is not installed")
    text = (Path(__file__).parents[1] / "docs" / "using.md").read_text()
    section = text.split("## Check your own model", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    console = section.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    (tmp_path / "my_models.py").write_text(code)
    command = console[0].removeprefix("$ bn-behaviour ").split()
    proc = subprocess.run([sys.executable, "-m", "bn_behaviour.cli", *command, "--target", TARGET],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = proc.stdout.splitlines()
    assert printed[:3] == console[1:4] and printed[3].split() == console[4].split()


FLAX_MODELS = textwrap.dedent('''
    import flax.linen as nn
    import keras

    class Net(nn.Module):  # a Flax block as people port it: two BatchNorms, one named
        @nn.compact
        def __call__(self, x, training=False):
            x = nn.BatchNorm(use_running_average=not training)(nn.Dense(4)(x))
            return nn.BatchNorm(use_running_average=not training, name="bn2")(x)

    def ported(frozen=False):
        inputs = keras.Input((3,))
        block = keras.layers.FlaxLayer(Net(), name="flax")
        block.trainable = not frozen
        model = keras.Model(inputs, keras.layers.Dense(1)(block(inputs)))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        return model

    def ported_frozen():
        return ported(frozen=True)
''')


def test_flax_batch_norms_inside_a_flax_layer_are_each_found(tmp_path):
    """Each Flax BatchNorm of a ``FlaxLayer`` (its ``batch_stats`` entries) is a BatchNormalization of the check, at its
    path in the Flax module; unfrozen, fit trains both; frozen, ``FlaxLayer`` still passes fit's
    ``training=True`` to the module, so both move (what ``docs/clients.md``'s Flax client breaks:
    frozen-bn-runs-in-inference), and ``--expect frozen`` exits 1."""
    pytest.importorskip("flax")
    if TARGETS["keras-jax"].missing():
        pytest.skip("keras-jax is not installed")
    (tmp_path / "flax_models.py").write_text(FLAX_MODELS)

    def check(*args):
        proc = subprocess.run([sys.executable, "-m", "bn_behaviour.cli", "check", *args, "--target", "keras-jax",
                               "--json"], capture_output=True, text=True, cwd=tmp_path)
        return proc.returncode, proc.stdout, proc.stderr

    code, out, err = check("flax_models:ported")
    assert code == 0, err[-2000:]
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    bns = _layers(out)
    assert set(bns) == {"flax/BatchNorm_0", "flax/bn2"}
    assert {(r["mode"], r["moving_stats"], r["affine"]) for r in bns.values()} == {("training", "updated", "updated")}
    code, out, err = check("flax_models:ported_frozen", "--expect", "frozen")
    assert code == 1, err[-2000:]
    frozen = _layers(out)
    assert {(r["trainable"], r["mode"], r["affine"]) for r in frozen.values()} == {(False, "training", "unchanged")}
    assert all("frozen-bn-runs-in-inference" in r["broken"] for r in frozen.values())
    # one layer, two BatchNorms: each saw every training value the layer's call received (fit's True among them)
    assert frozen["flax/BatchNorm_0"]["training"] == frozen["flax/bn2"]["training"]
    assert "true" in frozen["flax/bn2"]["training"].split(",")
