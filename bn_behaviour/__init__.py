"""bn-behaviour: what keras.layers.BatchNormalization really does with
``training``, ``trainable``, nested models and ``compile()`` ordering.

Importing the package imports no framework.  The public API
(:func:`scenarios`, :func:`observe`, :func:`parametrize`) lives in
:mod:`bn_behaviour.api`.
"""

__version__ = "0.1.0"

from .api import Case, observe, parametrize, scenarios  # noqa: E402,F401
