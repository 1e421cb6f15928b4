"""bn-behaviour: what keras.layers.BatchNormalization really does with
``training``, ``trainable``, nested models and ``compile()`` ordering.

Importing the package imports no framework.
"""

__version__ = "0.1.0"
