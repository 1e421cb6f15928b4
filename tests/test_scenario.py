"""The scenario generator: IDs, exclusions, counts."""

import pytest

from bn_behaviour.cases.scenario import AXES, Scenario, all_combinations, excluded, exclusion_reason, generate


def test_several_hundred_scenarios():
    """The issue's floor: fewer than 400 would mean an axis is missing."""
    assert len(generate()) >= 400


def test_ids_are_unique_and_round_trip():
    scenarios = generate()
    ids = [s.id for s in scenarios]
    assert len(set(ids)) == len(ids)
    assert all(Scenario.from_id(i) == s for i, s in zip(ids, scenarios))


def test_id_is_built_from_axis_values():
    s = Scenario("functional", "layer", "after_fit", "fit", "none")
    assert s.id == "functional-frozen=layer-when=after_fit-path=fit-training=none"


def test_every_combination_is_generated_or_excluded_with_a_reason():
    total = len(list(all_combinations()))
    n_excluded = sum(len(v) for v in excluded().values())
    assert len(generate()) + n_excluded == total
    assert all(reason for reason in excluded())


def test_every_axis_value_appears_in_the_matrix():
    scenarios = generate()
    for axis, values in AXES.items():
        seen = {getattr(s, axis) for s in scenarios}
        assert seen == set(values), axis


@pytest.mark.parametrize(
    "scenario, fragment",
    [
        (Scenario("functional", "inner_model", "before_compile", "fit", "none"), "needs an inner model"),
        (Scenario("layer", "none", "before_compile", "fit", "none"), "needs compile()"),
        (Scenario("functional", "layer", "before_compile", "fit", "true"), "takes no training argument"),
        (Scenario("functional", "layer_ctor", "after_fit", "fit", "none"), "changes nothing later"),
        (Scenario("functional", "layer", "after_fit", "call", "true"), "eager call"),
        (Scenario("functional", "layer", "after_compile", "custom_loop", "true"), "does not use compile()"),
    ],
    ids=["inner-model-without-inner", "compile-on-bare-layer", "training-arg-on-fit", "ctor-later",
         "eager-call-later", "traced-path-compile"],
)
def test_exclusion_reasons(scenario, fragment):
    assert fragment in exclusion_reason(scenario)


def test_unknown_axis_value_is_a_one_line_error():
    with pytest.raises(ValueError, match=r"unknown path 'fitt'; valid values: call, call_graph"):
        Scenario("functional", "layer", "after_fit", "fitt", "none")


def test_published_ids_still_exist():
    """IDs once published never change: every ID in the committed list is still generated."""
    from pathlib import Path

    published = Path(__file__).with_name("published_ids.txt").read_text().split()
    current = {s.id for s in generate()}
    missing = [i for i in published if i not in current]
    assert not missing, f"{len(missing)} published IDs vanished, e.g. {missing[:3]}"


def test_every_row_has_its_own_one_sentence_description():
    """Documents print the sentence next to the ID; two rows must never read the same."""
    sentences = [s.describe() for s in generate()]
    assert len(set(sentences)) == len(sentences)
    for text in sentences:
        assert text[0].isupper() and text.endswith(".") and text.count(". ") == 0, text


def test_propagation_models_cross_every_path_and_training_value_before_compile_only():
    """Each propagation model: every path x training value, frozen none/layer/outer_model (and inner_model
    where it has an inner object), when=before_compile; everything else excluded with a reason."""
    from bn_behaviour.cases.scenario import MODELS_WITH_INNER, PROPAGATION_MODELS

    paths = {(s.path, s.training) for s in generate() if s.model == "functional" and s.frozen == "none"
             and s.when == "before_compile"}
    for model in PROPAGATION_MODELS:
        rows = [s for s in generate() if s.model == model]
        frozen = {"none", "layer", "outer_model"} | ({"inner_model"} if model in MODELS_WITH_INNER else set())
        assert {s.when for s in rows} == {"before_compile"}
        assert {s.frozen for s in rows} == frozen
        assert len(rows) == len(paths) * len(frozen)
        assert {(s.path, s.training) for s in rows} == paths
