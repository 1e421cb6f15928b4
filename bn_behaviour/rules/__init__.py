"""Stage 3, what an observation means and whether it follows the rule.

* :mod:`.reference`: the NumPy reference (it never touches the code under test);
* :mod:`.observation`: facts read from the framework, judged into categorical observations;
* :mod:`.tf2`, :mod:`.tf1`, :mod:`.tf1_keras`, :mod:`.setting`: the documented rules
  and their ``check_<behaviour>`` tables;
* :mod:`.deviations`: known deviations (data under ``bn_behaviour/deviations/``);
* :mod:`.result`: one judged case (pass, known deviation, or a failure that explains itself);
* :mod:`.rulebook`, :mod:`.recipes`: the citable statements and fine-tuning recipes the documents verdict.

:data:`RULES` maps a rule's name (``Target.rule``) to the function predicting a main-matrix observation.
"""

from __future__ import annotations

from typing import Callable

from ..cases.scenario import Scenario
from . import tf1, tf1_keras, tf2

RULES: dict[str, Callable[[Scenario], dict]] = {"tf2": tf2.expected, "tf1": tf1.expected,
                                                 "tf1-keras": tf1_keras.expected}
