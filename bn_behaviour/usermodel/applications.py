"""``bn-behaviour applications``: the transfer-learning guide on ``keras.applications``, checked layer by layer.

Every architecture of :data:`ARCHITECTURES` (``weights=None``, ``include_top=False``, the smallest square
input it accepts) is fine-tuned as https://keras.io/guides/transfer_learning/ says: the base frozen and
called with ``training=False`` under a new head, compiled, one ``fit()`` step (the frozen step); then the
base unfrozen, compiled again with a low learning rate, one more step (the fine-tuning step).  Each step
is ``bn-behaviour check``'s ``fit`` path on the model as it stands, so every BatchNormalization is
counted, judged by the documented rule of its row (``base_training_false``: the guide says the base
stays in inference mode in both steps) and, where it deviates, named with its known deviation.

Results accumulate in ``applications.json`` (one run per target, ``--arch`` for a part); ``render``
writes ``applications.md`` from it (``bn-behaviour docs`` does, and ``--check`` says when it is stale).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..report.reading import read_checked
from ..targets import TARGETS, require
from . import command

#: Architecture -> the smallest square input side ``keras.applications`` accepts for it without weights:
#: every architecture of ``keras.applications`` that holds a BatchNormalization, family by family.
ARCHITECTURES = {
    **dict.fromkeys(("ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2"), 32),
    **dict.fromkeys(("MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large"), 32),
    **dict.fromkeys(("DenseNet121", "DenseNet169", "DenseNet201"), 32),
    **dict.fromkeys([f"EfficientNetB{i}" for i in range(8)], 32),
    **dict.fromkeys(("EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
                     "EfficientNetV2S", "EfficientNetV2M", "EfficientNetV2L"), 32),
    "NASNetMobile": 32, "NASNetLarge": 32, "InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71,
}
#: The architectures with no BatchNormalization (LayerNormalization in ConvNeXt; none in VGG): not run.
WITHOUT = ("ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge", "VGG16", "VGG19")
DOCUMENT, REPORT, FORMAT = "applications.md", "applications.json", 1
_STEP = {"type": "object", "required": ["moved", "trained"], "additionalProperties": False,
         "properties": {"moved": {"type": "integer"}, "trained": {"type": "integer"}}}
_RESULT = {"type": "object", "required": ["architecture", "target"], "additionalProperties": False, "properties": {
    "architecture": {"type": "string"}, "target": {"type": "string"}, "versions": {"type": "object"},
    "layers": {"type": "integer"}, "frozen": _STEP, "unfrozen": _STEP, "broken": {"type": "array"},
    "deviations": {"type": "array"}, "seconds": {"type": "integer"}, "error": {"type": ["string", "null"]}}}
SCHEMA = {"type": "object", "required": ["format", "results"], "additionalProperties": False,
          "properties": {"format": {"const": FORMAT}, "results": {"type": "array", "items": _RESULT}}}


class ApplicationsFileError(ValueError):
    """An ``applications.json`` this module did not write: one line."""


def _guide(api, name: str, side: int):
    """The guide's model on architecture ``name``: (model, base), the base frozen, compiled."""
    base = getattr(api.applications, name)(weights=None, include_top=False, input_shape=(side, side, 3))
    base.trainable = False
    inputs = api.Input((side, side, 3))
    x = api.layers.GlobalAveragePooling2D()(base(inputs, training=False))
    model = api.Model(inputs, api.layers.Dense(1)(x))
    model.compile(optimizer=api.optimizers.Adam(1e-3), loss="mse")
    return model, base


def _counts(records: list[dict]) -> dict:
    return {"moved": sum(r["moving_stats"] == "updated" for r in records),
            "trained": sum(r["affine"] == "updated" for r in records)}


def one(name: str, target, driver) -> dict:
    """The two steps on ``name``: how many layers, how many moved and trained in each, what broke."""
    start = time.monotonic()
    out = {"architecture": name, "target": target.name, "versions": target.versions(), "error": None}
    api = driver.API
    if not hasattr(api.applications, name):
        return {**out, "error": f"{api.__name__}.applications has no {name}"}
    try:
        model, base = _guide(api, name, ARCHITECTURES[name])
        frozen = command.check_path(lambda: model, "fit", None, target, driver, start)
        base.trainable = True
        model.compile(optimizer=api.optimizers.Adam(1e-5), loss="mse")
        unfrozen = command.check_path(lambda: model, "fit", None, target, driver, start)
    except Exception as e:  # noqa: BLE001  (an architecture that fails is a result)
        return {**out, "error": command.source.last_line(e), "seconds": round(time.monotonic() - start)}
    records = frozen["layers"] + unfrozen["layers"]
    return {**out, "layers": len(frozen["layers"]), "frozen": _counts(frozen["layers"]),
            "unfrozen": _counts(unfrozen["layers"]), "broken": sorted({b for r in records for b in r["broken"]}),
            "deviations": sorted({f"{r['deviation']} ({r['deviation_source']})" for r in records if r["deviation"]}),
            "seconds": round(time.monotonic() - start)}


def read(path: Path) -> dict:
    """An ``applications.json``, refused in one line where it holds what :func:`main` does not write."""
    return read_checked(path, SCHEMA, ApplicationsFileError)


def _cell(r: dict) -> str:
    """One architecture on one target: its BNs, how many moved their statistics in each step, the verdict.

    >>> _cell({"layers": 52, "frozen": {"moved": 0, "trained": 0}, "unfrozen": {"moved": 52, "trained": 52},
    ...        "broken": ["base-training-false-stays-inference"]})
    '52 BN, moved 0 / 52: breaks [base-training-false-stays-inference](rules.md#base-training-false-stays-inference)'
    """
    if r.get("error"):
        return f"error: `{r['error']}`"
    verdict = ", ".join(f"[{b}](rules.md#{b})" for b in r["broken"])
    return (f"{r['layers']} BN, moved {r['frozen']['moved']} / {r['unfrozen']['moved']}: "
            + (f"breaks {verdict}" if verdict else "as documented"))


def render(data: dict) -> str:
    targets = [t for t in TARGETS if any(r["target"] == t for r in data["results"])]
    by = {(r["architecture"], r["target"]): r for r in data["results"]}
    names = sorted({r["architecture"] for r in data["results"]}, key=lambda n: list(ARCHITECTURES).index(n)
                   if n in ARCHITECTURES else len(ARCHITECTURES))
    out = ["# keras.applications fine-tuned as the guide says", "",
           "Each architecture (`weights=None`, `include_top=False`, the smallest input it accepts) under a new head,"
           " as https://keras.io/guides/transfer_learning/ fine-tunes it: the base frozen and called with"
           " `training=False`, one `fit()` step; then unfrozen, compiled again, one more step. Every"
           " BatchNormalization is checked as `bn-behaviour check` checks a model ([using.md](using.md#check-your-"
           "own-model)): the guide says the base's stay in inference mode and keep their moving statistics in both"
           " steps. A cell reads: how many BatchNormalization layers the base holds, how many moved their moving"
           " statistics in the frozen step / in the fine-tuning step, and the verdict (the statement of"
           " [rules.md](rules.md) broken; gamma/beta train in the fine-tuning step wherever the base's do).", "",
           "Generated by `bn-behaviour applications --target T --out docs` (one run per target), rendered by"
           " `bn-behaviour docs`; do not edit.", "",
           "Not run (no BatchNormalization): " + ", ".join(WITHOUT) + ".", "",
           "| architecture | " + " | ".join(targets) + " |", "|---|" + "---|" * len(targets)]
    out += [f"| {n} | " + " | ".join(_cell(by[n, t]) if (n, t) in by else "not run yet" for t in targets) + " |"
            for n in names]
    deviations = sorted({d for r in data["results"] for d in r.get("deviations", ())})
    if deviations:
        out += ["", "Known deviations seen: " + "; ".join(deviations) + "."]
    cost = {t: (sum(r.get("seconds", 0) for r in data["results"] if r["target"] == t),
                sum(r["target"] == t for r in data["results"])) for t in targets}
    out += ["", "Time (both steps, the framework's import excepted, as each run measured it on its machine): "
            + "; ".join(f"{t}: {s // 60} min {s % 60} s for {n} architectures" for t, (s, n) in cost.items()) + "."]
    versions = {r["target"]: r.get("versions") for r in data["results"]}
    out += ["", "Versions: " + "; ".join(f"{t}: " + ", ".join(f"{k} {v}" for k, v in sorted((versions[t] or {})
                                                                                          .items()))
                                         for t in targets) + "."]
    return "\n".join(out) + "\n"


def stale(folder: Path) -> list[str]:
    """``applications.md`` in ``folder`` when it differs from what its ``applications.json`` renders."""
    if not (folder / REPORT).exists():
        return []
    path = folder / DOCUMENT
    return [] if path.exists() and path.read_text() == render(read(folder / REPORT)) else [str(path)]


def write(folder: Path) -> list[Path]:
    if not (folder / REPORT).exists():
        return []
    (folder / DOCUMENT).write_text(render(read(folder / REPORT)))
    return [folder / DOCUMENT]


def main(args) -> int:
    """Run the architectures on one target; merge into ``OUT/applications.json``; write the document."""
    target = require(args.target)
    unknown = [a for a in args.arch or () if a not in ARCHITECTURES]
    if unknown:
        raise ApplicationsFileError(f"unknown architecture(s) {unknown}; known: {', '.join(ARCHITECTURES)}")
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    data = read(folder / REPORT) if (folder / REPORT).exists() else {"format": FORMAT, "results": []}
    with command.stdout_to_stderr():
        target.activate()
        driver = target.load_driver()
        for name in args.arch or ARCHITECTURES:
            r = one(name, target, driver)
            print(f"{name} on {target.name}: {_cell(r)} ({r.get('seconds', 0)} s)", file=sys.stderr)
            # written after each architecture: an interrupted run keeps what it measured
            data["results"] = [x for x in data["results"] if (x["architecture"], x["target"]) != (name, target.name)]
            data["results"].append(r)
            (folder / REPORT).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    for path in write(folder):
        print(f"wrote {path}")
    return 0
