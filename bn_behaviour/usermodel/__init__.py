"""``bn-behaviour check MODEL``: what every BatchNormalization of a user's own model does.

The matrices answer "what does the layer do in shape X"; this package answers it for one model as
its user built and froze it, through the stages of the rest of the suite:

* :mod:`.source`: what the user gives (``module:attr``, a ``.keras`` / ``.h5`` file, a SavedModel
  directory on tf_keras), loaded safely, a fresh model for each path;
* :mod:`.layers`: every BatchNormalization in it (nested models, wrappers, ``TimeDistributed``,
  subclassed attributes, third-party classes), its path in the model and its variables;
* :mod:`.paths`: seeded data matching the model's inputs, and the path run as the user runs it
  (the model's own ``compile()`` configuration, or a documented default);
* :mod:`.judge`: each layer's situation as the main-matrix row it is (its shape, how it is frozen,
  the path), the documented rule of that row (``rules``), the statement it keeps or breaks, the
  known deviation its observation is;
* :mod:`.show`: the summary line, a table (rich on a terminal, plain text otherwise) or JSON;
* :mod:`.command`: the command line, ``--expect`` and the exit code.
"""
