"""bn-behaviour: what keras.layers.BatchNormalization really does with
``training``, ``trainable``, nested models and ``compile()`` ordering.

Importing the package imports no framework.  The public API
(:func:`scenarios`, :func:`cases`, :func:`observe`, :func:`parametrize`) lives
in :mod:`bn_behaviour.api`; ``docs/architecture.md`` maps the package's stages.
"""

from .api import Case, cases, observe, parametrize, scenarios
from .rules.result import DeviationObserved

__version__ = "0.1.0"
__all__ = ["Case", "DeviationObserved", "cases", "observe", "parametrize", "scenarios"]
