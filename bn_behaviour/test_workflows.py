"""The workflow matrix (``bn_behaviour.workflows``): whole training setups around BatchNormalization.

Each case runs one variant of one workflow (export for serving, a layer shared
by two models, the fine-tuning guide end to end, a replicated step) on the
real framework and judges the facts by the workflow's documented rule (its
module's ``CHECKS``), with the target's known-deviation file (entries that
name ``workflow``).  IDs: ``test_workflow[workflow=<name>-<variant>]``.
"""


def test_workflow(bn_workflow, bn_check):
    """The workflow keeps its documented rule (each check of its module), or shows its known deviation exactly."""
    __tracebackhide__ = True  # a failure shows the broken rule and the repro, not this frame
    bn_check(bn_workflow)
