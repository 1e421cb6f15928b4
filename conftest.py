"""Root conftest.

The matrix plugin itself is loaded through its pytest11 entry point (see
pyproject.toml), so a checkout and an installed copy behave alike.

``--doctest-modules`` would import every module; the target drivers import
their framework at import time (each target's driver must be imported only
after that target's environment is set, in that target's process), and they
hold no doctests, so collection skips them.
"""

collect_ignore = [
    "bn_behaviour/targets/keras3.py",
    "bn_behaviour/targets/keras3_backends.py",
    "bn_behaviour/targets/tf_keras.py",
    "bn_behaviour/targets/tf1.py",
    "bn_behaviour/client_patterns.py",  # --bn-layer classes: imports TensorFlow (bn_behaviour.clients)
    "bn_behaviour/clients/torch_native.py",  # a --bn-layer factory: imports Keras and PyTorch
    "bn_behaviour/clients/flax_native.py",  # a --bn-layer factory: imports Keras and Flax
]
