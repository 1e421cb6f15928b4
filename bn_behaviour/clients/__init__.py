"""Real third-party BatchNormalization classes, run through the matrix as a vendoring project runs it.

``CLIENTS`` names each class once per constructor choice: where it comes from
(module, pip package and the command that installs it), the constructor
arguments it needs (``--bn-layer-kwargs``), the targets it is written for, and
its source.  ``bn-behaviour clients`` (``bn_behaviour.clients.runner``) runs
each on each of its targets in its own pytest process, from an empty
directory, with the installed plugin (``pytest --pyargs ... --bn-layer ...``),
over :func:`subset` of the main matrix, next to the genuine layer on the same
rows, and writes ``clients.json`` and ``clients.md``.

>>> sorted({t for c in CLIENTS for t in c.targets})
['keras-jax', 'keras-tensorflow', 'keras-torch', 'tf1-keras', 'tf_keras']
>>> by_name("keras-resnet-freeze-true").args()
['--bn-layer', 'keras_resnet.layers:BatchNormalization', '--bn-layer-kwargs', '{"freeze": true}']
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from ..cases.scenario import Scenario
from ..rules.rulebook import STATEMENTS

#: Packages pinned to the version this project observed (``--no-deps``: they would pull in other
#: TensorFlow / Keras versions than the targets' own).
OD = "tf-models-research-object-detection==2.8.0.post1"
RESNET = "keras-resnet==0.2.0"
OFFICIAL = "tf-models-official==2.20.0"
#: Flax asks for ``jax>=0.10.0``, optax, orbax-checkpoint, tensorstore, msgpack, treescope: none moves a target's own.
FLAX = "flax==0.12.8"
PATTERNS = "bn_behaviour.client_patterns"
KERAS2_AND_3 = ("keras-tensorflow", "tf_keras")
#: keras-resnet subclasses ``keras.layers.BatchNormalization`` with nothing TensorFlow-specific: every Keras 3 backend.
KERAS3 = ("keras-tensorflow", "keras-jax", "keras-torch")


@dataclass(frozen=True)
class Client:
    name: str  #: permanent ID (clients.md anchor, --client)
    layer: str  #: the --bn-layer value (module:attr, a class or a factory)
    targets: tuple[str, ...]  #: the targets it is written for
    source: str  #: where the class is defined (a link to its file)
    what: str  #: one sentence: what the class does differently
    kwargs: dict[str, Any] = field(default_factory=dict)  #: --bn-layer-kwargs
    package: Optional[str] = None  #: the pip requirement that ships it (None: the targets' own packages, or this one)
    deps: bool = False  #: install ``package`` with its dependencies (they leave the targets' own versions alone)
    #: The class's moving-variance update (``--bn-variance``: ``bessel`` for PyTorch's ``running_var``); None:
    #: the target's, as for a subclass of the genuine layer.
    variance: Optional[str] = None

    @property
    def install(self) -> Optional[str]:
        if not self.package:
            return None
        return f"pip install {'' if self.deps else '--no-deps '}{self.package}"

    def args(self) -> list[str]:
        """The plugin options that put this class under test."""
        extra = ["--bn-layer-kwargs", json.dumps(self.kwargs, sort_keys=True)] if self.kwargs else []
        return ["--bn-layer", self.layer, *extra, *(["--bn-variance", self.variance] if self.variance else [])]


_FBN = "object_detection.core.freezable_batch_norm:FreezableBatchNorm"
#: FreezableBatchNorm subclasses tf.compat.v1.keras.layers.BatchNormalization: under tf_keras that is the TF1
#: class, so it is also judged as one (tf1-keras), next to tf.compat.v1.keras' own.
FBN_TARGETS = ("keras-tensorflow", "tf_keras", "tf1-keras")
_FBN_SRC = "https://github.com/tensorflow/models/blob/master/research/object_detection/core/freezable_batch_norm.py"
_FBN_WHAT = ("TF Object Detection API: a tf.compat.v1.keras BatchNormalization whose constructor's training=False"
             " overrides every call's training")
_RESNET = "keras_resnet.layers:BatchNormalization"
_RESNET_SRC = "https://github.com/fizyr/keras-resnet/blob/master/keras_resnet/layers/_batch_normalization.py"
_RESNET_WHAT = ("keras-resnet (keras-retinanet's backbones): freeze=True sets trainable=False and forces"
                " training=False; call(*args, **kwargs)")

CLIENTS: tuple[Client, ...] = (
    Client("object-detection-freezable-bn", _FBN, FBN_TARGETS, _FBN_SRC, _FBN_WHAT, {"training": None}, OD),
    Client("object-detection-freezable-bn-training-false", _FBN, FBN_TARGETS, _FBN_SRC, _FBN_WHAT,
           {"training": False}, OD),
    Client("keras-resnet-freeze-false", _RESNET, KERAS3, _RESNET_SRC, _RESNET_WHAT, {"freeze": False}, RESNET),
    Client("keras-resnet-freeze-true", _RESNET, KERAS3, _RESNET_SRC, _RESNET_WHAT, {"freeze": True}, RESNET),
    Client("tf-models-tpu-batch-norm",
           "official.legacy.image_classification.efficientnet.common_modules:TpuBatchNormalization", ("tf_keras",),
           "https://github.com/tensorflow/models/blob/master/official/legacy/image_classification/efficientnet/"
           "common_modules.py",
           "TF Model Garden (EfficientNet): tf_keras BatchNormalization averaging the moments across TPU replicas,"
           " fused=False", package=OFFICIAL),
    Client("tf-keras-sync-batch-norm", "tf_keras.layers.experimental:SyncBatchNormalization", ("tf_keras",),
           "https://github.com/keras-team/tf-keras/blob/master/tf_keras/layers/normalization/batch_normalization.py",
           "tf_keras' SyncBatchNormalization: statistics all-reduced across the replicas of a distribution strategy"),
    Client("keras-synchronized-batch-norm", "keras.layers:BatchNormalization", ("keras-tensorflow",),
           "https://github.com/keras-team/keras/blob/master/keras/src/layers/normalization/batch_normalization.py",
           "Keras 3's own layer with synchronized=True (its replacement for SyncBatchNormalization)",
           {"synchronized": True}),
    Client("pattern-logical-and", f"{PATTERNS}:LogicalAndBatchNorm", KERAS2_AND_3,
           "https://github.com/zzh8829/yolov3-tf2/blob/master/yolov3_tf2/batch_norm.py",
           "copied pattern: call(x, training=False) passes tf.logical_and(training, self.trainable)"),
    Client("pattern-always-inference", f"{PATTERNS}:AlwaysInferenceBatchNorm", KERAS2_AND_3,
           "https://github.com/keras-team/keras/pull/9965#issuecomment-501933060",
           "copied pattern (FrozenBatchNormalization): every call runs with training=False"),
    Client("pattern-args-kwargs", f"{PATTERNS}:ArgsKwargsBatchNorm", KERAS2_AND_3, _RESNET_SRC,
           "copied pattern: call(*args, **kwargs) forwards everything, training is not in its signature"),
    Client("torch-module-wrapper-batch-norm-1d", "bn_behaviour.clients.torch_native:batch_norm_1d", ("keras-torch",),
           "https://github.com/keras-team/keras/blob/v3.15.1/keras/src/utils/torch_utils.py",
           "PyTorch's own torch.nn.BatchNorm1d inside keras.layers.TorchModuleWrapper, as a ported PyTorch model"
           " holds it (momentum translated to PyTorch's 1 - momentum; its running_var takes the unbiased batch"
           " variance; bn_behaviour/clients/torch_native.py)", variance="bessel"),
    Client("flax-layer-linen-batch-norm", "bn_behaviour.clients.flax_native:batch_norm", ("keras-jax",),
           "https://github.com/keras-team/keras/blob/v3.15.1/keras/src/utils/jax_layer.py",
           "Flax's own flax.linen.BatchNorm inside keras.layers.FlaxLayer, as a ported Flax model holds it"
           " (training passed as use_running_average=not training; bn_behaviour/clients/flax_native.py)",
           package=FLAX, deps=True),
)


def by_name(name: str) -> Client:
    for c in CLIENTS:
        if c.name == name:
            return c
    raise KeyError(f"unknown client {name!r}; known: {', '.join(c.name for c in CLIENTS)}")


def subset(scenarios: list[Scenario], rule: str) -> list[Scenario]:
    """The main-matrix rows a client runs: for every statement of ``rule``, its rows chosen greedily
    (in ID order) until each value of each axis among the statement's rows is in at least one.

    A class is compatible when it behaves as the genuine layer wherever a documented statement
    speaks; what it may do differently is react to one value (a ``training``, a path, a way
    of freezing, a model, a moment) differently.  Every statement then sees every value it is
    about at least once, at about a tenth of the matrix.

    >>> from bn_behaviour import api
    >>> rows = subset(api.scenarios("keras-tensorflow"), "tf2")
    >>> 100 < len(rows) < 250, len({s.path for s in rows}), len({s.model for s in rows})
    (True, 9, 12)
    """
    chosen: dict[str, Scenario] = {}
    for statement in STATEMENTS:
        if not statement.applies_to(rule):
            continue
        seen: set[tuple[str, str]] = set()
        rows = sorted((s for s in scenarios if statement.about(s)), key=lambda s: s.id)
        for s in rows:  # rows already chosen for another statement count first
            if s.id in chosen:
                seen.update(s.axes().items())
        for s in rows:
            new = set(s.axes().items()) - seen
            if new:
                seen |= new
                chosen[s.id] = s
    return sorted(chosen.values(), key=lambda s: s.id)

