"""When the plugin acts: it is a guest in every pytest run of the environment.

The ``pytest11`` entry point loads :mod:`bn_behaviour.plugin` into every pytest
run where bn-behaviour is installed.  It acts only in a run with bn cases:

* a run that **asks** for them (:func:`asked`: a ``--bn-*`` option, or its
  ``BN_BEHAVIOUR_*`` variable, given another value than its default) starts in
  ``pytest_configure``, before any conftest or test module of the host is
  collected, in xdist's workers too;
* any other run starts when it **collects** its first bn case (a test using
  one of :data:`FIXTURES`: the tests of ``bn_behaviour/test_*.py``, which import
  no framework), so the target's environment is in place before a case or a
  module collected after it imports a framework;
* a run that does neither is left as it was: no environment variable, no
  folder or file, no signal handler or faulthandler, no terminal line.

Starting puts the target's environment in place without overwriting a
variable the user set (``bn_behaviour.targets.environment``).
"""

from __future__ import annotations

import os

from .isolation.guard import DEFAULT_TIMEOUT
from .matrices import MATRICES

#: The value of each ``--bn-*`` option (by ``dest``) that neither it nor its variable gave; others: None.
UNSET = {"bn_xfail": "strict", "bn_deviations": [], "bn_case_timeout": DEFAULT_TIMEOUT, "bn_isolate": "auto"}
#: The plugin's fixtures: a test that uses one (directly or through another fixture) is a bn case.
FIXTURES = frozenset({"bn_check", "bn_target", "bn_layer", "bn_deviations", "bn_cases", "bn_deviation",
                      *(m.argname for m in MATRICES.values())})


def asked(config) -> bool:
    """Whether the run asks for bn cases up front: a ``--bn-*`` option or its variable given.

    ``BN_BEHAVIOUR_TARGET`` is read where the target is resolved, so it is checked here by name."""
    given = {k: v for k, v in vars(config.option).items() if k.startswith("bn_") and v != UNSET.get(k)}
    return bool(given or os.environ.get("BN_BEHAVIOUR_TARGET"))
