"""The documented rule for the settings matrix: the core's rule, adjusted by what the setting documents.

Sources:

* BN -- the ``keras.layers.BatchNormalization`` docstring (Keras 3), and
  tf_keras' (``tf_keras.layers.BatchNormalization``): ``axis`` is "the axis
  that should be normalized (typically the features axis)"; ``center``: "If
  False, beta is ignored"; ``scale``: "If False, gamma is not used";
  ``momentum`` / ``epsilon`` enter the documented formulas; ``mask``: "Binary
  tensor of shape broadcastable to inputs tensor, with True values indicating
  the positions for which mean and variance should be computed" (Keras 3);
  the training/trainable rule is the same whatever the settings.
* MIXED -- the Keras mixed precision guide,
  https://keras.io/api/mixed_precision/policy/ : under a mixed policy "the
  variables are float32" while computations run in the compute dtype.
* MASK -- the ``mask`` call argument: Keras 3, "Masked elements of the current
  inputs are not taken into account for mean and variance computation during
  training. Any prior unmasked element values will be taken into account until
  their momentum expires"; tf_keras, "indicating the positions for which the
  mean and variance should be computed".  A fully masked batch (setting
  ``masked_all``) leaves no position to compute them from, so the batch has no
  statistics: nothing of it may enter the moving statistics (they stay
  unchanged, not stepped towards a value no unmasked element has), and the
  only statistics to normalise it with are the moving ones (the inference
  output).  Neither docstring says more; both libraries' ``test_input_fully_masked``
  (FULLY_MASKED_TESTS) call such a batch with ``training=True`` and assert only
  a finite output (zeros in, zeros out with ``center=scale=False``), which the
  inference output meets.

So the expectation is the core scenario's (``bn_behaviour.rules``), with the
weight lists holding only the gamma/beta the setting creates, a fully masked
batch normalised with the moving statistics and leaving them unchanged, and every
variable float32 under every policy (``check_variables_float32``).

>>> from bn_behaviour.cases.setting import CORES, SettingCase
>>> e = expected(SettingCase(CORES[0], "no_center", "float32"))
>>> e["trainable_weights"], e["variable_dtypes"]
(['gamma'], 'float32')
>>> e = expected(SettingCase(CORES[0], "masked_all", "float32"))  # training=True, nothing frozen
>>> e["mode"], e["moving_stats"]
('inference', 'unchanged')
"""

from __future__ import annotations

from typing import Optional

from ..cases.setting import SETTINGS, SettingCase
from . import tf2

MIXED_DOC = "https://keras.io/api/mixed_precision/policy/"
#: The mask argument's documentation (MASK): Keras 3's and tf_keras' BatchNormalization docstrings.
MASK_DOC = ("https://github.com/keras-team/keras/blob/v3.15.1/keras/src/layers/normalization/"
            "batch_normalization.py#L122-L127",
            "https://github.com/keras-team/tf-keras/blob/v2.21.0/tf_keras/layers/normalization/"
            "batch_normalization.py#L152-L153")
#: The libraries' own tests of a fully masked batch (they assert a finite output only).
FULLY_MASKED_TESTS = ("https://github.com/keras-team/keras/blob/v3.15.1/keras/src/layers/normalization/"
                      "batch_normalization_test.py#L142-L152",
                      "https://github.com/keras-team/tf-keras/blob/v2.21.0/tf_keras/layers/normalization/"
                      "batch_normalization_test.py#L368-L376")


def expected(case: SettingCase) -> dict:
    """What the documented rule predicts for ``case``."""
    exp = dict(tf2.expected(case.core))
    present = set(SETTINGS[case.setting].affine)
    for key in ("trainable_weights", "non_trainable_weights", "model_trainable_weights"):
        exp[key] = [w for w in exp[key] if w not in ("beta", "gamma") or w in present]
    exp["non_trainable_weights"] = sorted([*exp["non_trainable_weights"], *SETTINGS[case.setting].extra_variables])
    if SETTINGS[case.setting].mask == "all" and exp["mode"] == "training":  # MASK: no batch statistics
        exp["mode"], exp["moving_stats"] = "inference", "unchanged"
    exp["variable_dtypes"] = "float32"
    return exp


def check_variables_float32(s, observed: dict, exp: dict) -> Optional[str]:
    """Every variable of the layer is float32, under every precision policy.

    MIXED: under ``mixed_float16`` / ``mixed_bfloat16`` "the variables are
    float32"; the moving statistics in particular must not lose precision.
    """
    if observed.get("variable_dtypes") != exp["variable_dtypes"]:
        return f"expected every variable float32, observed {observed.get('variable_dtypes')}"
    return None


#: The main checks, then the settings matrix's own.
CHECKS = {**tf2.CHECKS, "variables_float32": check_variables_float32}

