"""The third-party classes registry (bn_behaviour.clients), --bn-layer factories and --bn-layer-kwargs."""

import json
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.clients import CLIENTS, subset
from bn_behaviour.clients.runner import render, summarise
from bn_behaviour.rules.rulebook import STATEMENTS
from bn_behaviour.targets import TARGETS
from bn_behaviour.targets.layer import Bound, LayerSpecError, check_kwargs, load, parse_kwargs

TARGET = "keras-tensorflow"
CASE = Scenario("layer", "none", "before_compile", "call", "true")
FROZEN = Scenario("layer", "layer", "before_compile", "call", "true")


@pytest.mark.parametrize("client", CLIENTS, ids=[c.name for c in CLIENTS])
def test_every_client_is_well_formed(client):
    assert urlparse(client.source).scheme == "https" and urlparse(client.source).netloc
    module, _, attr = client.layer.partition(":")
    assert module and attr
    assert client.targets and set(client.targets) <= set(TARGETS)
    assert all(TARGETS[t].layer_class for t in client.targets), "only targets with a class to replace"
    assert client.what
    if client.package:
        deps = "" if client.deps else "--no-deps "
        assert "==" in client.package and client.install == f"pip install {deps}{client.package}"
    json.loads(json.dumps(client.kwargs))  # what --bn-layer-kwargs carries
    parse_kwargs(json.dumps(client.kwargs))  # never a reserved argument


def test_client_names_are_unique():
    names = [c.name for c in CLIENTS]
    assert len(names) == len(set(names))


def test_the_subset_gives_every_statement_each_axis_value_it_is_about():
    from bn_behaviour import api

    everything = api.scenarios(TARGET)
    rows = subset(everything, "tf2")
    for st in STATEMENTS:
        if not st.applies_to("tf2"):
            continue
        about = [s for s in everything if st.about(s)]
        covered = {kv for s in rows if st.about(s) for kv in s.axes().items()}
        assert covered == {kv for s in about for kv in s.axes().items()}, st.id


def test_a_factory_is_accepted_and_a_class_stays_a_class():
    with pytest.raises(LayerSpecError, match="not a Keras layer"):
        load("bn_behaviour.targets.layer:Bound")
    bound = load("bn_behaviour.cases.inputs:batch")
    assert isinstance(bound, Bound) and bound.describe() == "bn_behaviour.cases.inputs:batch"
    with pytest.raises(TypeError, match="not a Keras layer"):
        bound.make = lambda **kw: object()  # a factory returning something else: an error the case records
        bound()


@pytest.mark.parametrize("text, message", [
    ("{", "is not valid JSON"),
    ("[1, 2]", "is not a JSON object"),
    ('{"epsilon": 0.1, "freeze": true}', "may not set epsilon"),
])
def test_bad_layer_kwargs_are_one_line_errors(text, message):
    with pytest.raises(LayerSpecError, match=message) as e:
        parse_kwargs(text)
    assert "\n" not in str(e.value)


class Closed:
    """A constructor that takes exactly these arguments."""

    def __init__(self, freeze=False, axis=-1):
        self.freeze = freeze


class PassesOn(Closed):
    def __init__(self, renorm=False, **kwargs):
        super().__init__(**kwargs)


class Pops:
    def __init__(self, **kwargs):
        self.freeze = kwargs.pop("freeze", False)
        if kwargs:
            raise TypeError(f"unexpected keyword argument {next(iter(kwargs))!r}")


def forwards(**kwargs):
    return Closed(**kwargs)


def needs_a_file(**kwargs):
    raise OSError("no config file")


def checks_a_value(**kwargs):
    raise ValueError(f"'freeze' must be a bool, got {kwargs['freeze']!r}")


@pytest.mark.parametrize("make, kwargs, message", [
    (Closed, {"freez": True}, "--bn-layer-kwargs: m:C takes no argument 'freez' (did you mean 'freeze'?); "
                              "it takes freeze, axis"),
    (PassesOn, {"renrom": True}, "--bn-layer-kwargs: m:C takes no argument 'renrom' (did you mean 'renorm'?); "
                                 "it takes renorm, freeze, axis"),
    (Pops, {"frezee": True}, "--bn-layer-kwargs: m:C takes no argument 'frezee' (TypeError: unexpected keyword "
                             "argument 'frezee')"),
    (forwards, {"axes": 1}, "--bn-layer-kwargs: m:C takes no argument 'axes' (TypeError: Closed.__init__() got "
                            "an unexpected keyword argument 'axes')"),
], ids=["closed-class", "passed-up-the-mro", "kwargs-refused-by-the-class", "factory-forwarding"])
def test_a_constructor_argument_the_class_does_not_take_is_one_line(make, kwargs, message):
    """An unknown --bn-layer-kwargs key is refused before any case runs, naming the key and the nearest
    parameter of the constructor (its MRO followed through **kwargs); where the signature is open, the
    constructor's own refusal of that key decides."""
    with pytest.raises(LayerSpecError) as info:
        check_kwargs("m:C", make, kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("make, kwargs", [(Closed, {"freeze": True}), (PassesOn, {"axis": 1, "renorm": True}),
                                          (Pops, {"freeze": True}), (needs_a_file, {"freeze": True}),
                                          (checks_a_value, {"freeze": 1})],
                         ids=["named", "named-up-the-mro", "taken-through-kwargs", "fails-otherwise",
                              "refuses-the-value-not-the-key"])
def test_arguments_the_class_takes_are_accepted(make, kwargs):
    """A key the constructor names, or takes through **kwargs, passes; a constructor failing for another
    reason is left to each case to record (``targets.layer.unbuilt``), as without kwargs."""
    check_kwargs("m:C", make, kwargs)


def test_describe_names_the_kwargs_for_the_repro_command():
    from bn_behaviour.targets.layer import describe

    bound = Bound("m:C", dict, {"training": False})
    assert describe(bound) == "m:C --layer-kwargs '{\"training\": false}'"


def _case(id_, violated=(), observed=None, error=None):
    return {"id": id_, "scenario": dict(zip(("model", "frozen", "when", "path", "training"),
                                            id_.replace("frozen=", "").replace("when=", "").replace("path=", "")
                                            .replace("training=", "").split("-"))),
            "violated": list(violated), "observed": observed or {"mode": "training", "error": error}}


def test_a_class_that_cannot_be_built_is_one_line():
    client = CLIENTS[0]
    err = "ValueError: boom (constructing the layer)"
    report = {"layer": client.layer, "cases": [_case(CASE.id, ["no_error"], error=err)],
              "target": {"versions": {}}}
    r = summarise(client, TARGET, report, {"cases": []})
    assert r["verdict"] == "error" and r["error"] == f"cannot be built: {err}"
    usage = summarise(client, TARGET, {"error": "--bn-layer: cannot import module 'x'"}, {"cases": []})
    assert usage["verdict"] == "error"


def test_summary_separates_what_the_genuine_layer_also_breaks():
    client = CLIENTS[0]
    layer = f"{client.layer} --layer-kwargs '{json.dumps(client.kwargs)}'"  # as the plugin reports it
    mine = {"layer": layer, "target": {"versions": {}},
            "cases": [_case(CASE.id), _case(FROZEN.id, ["mode"], {"mode": "training", "error": None})]}
    genuine = {"cases": [_case(CASE.id), _case(FROZEN.id, observed={"mode": "inference", "error": None})]}
    r = summarise(client, TARGET, mine, genuine)
    assert r["verdict"] == "incompatible" and r["differs"] == [FROZEN.id]
    assert r["statements"]["frozen-bn-runs-in-inference"]["new"] == [FROZEN.id]
    assert "--layer-kwargs" in r["statements"]["frozen-bn-runs-in-inference"]["repro"][0]
    data = {"rows": {TARGET: 2}, "clients": [{"name": client.name, "layer": client.layer, "kwargs": client.kwargs,
                                              "install": client.install, "targets": [TARGET],
                                              "source": client.source, "what": client.what}], "results": [r]}
    text = render(data)
    assert f"| [{client.name}](#{client.name}) | **incompatible** (breaks 1) |" in text
    assert f"behaviour/{FROZEN.model}.md#{FROZEN.id}" in text


# -- the plugin options, in fresh pytest processes ------------------------------------------------

PATTERNS = '''
import keras


class RaisesInInit(keras.layers.BatchNormalization):
    def __init__(self, **kwargs):
        raise ValueError("this class needs a config file")


class NeedsFreeze(keras.layers.BatchNormalization):
    def __init__(self, freeze, **kwargs):
        super().__init__(**kwargs)
        self.freeze = freeze


def make_bn(**kwargs):
    return NeedsFreeze(**kwargs)
'''


@pytest.fixture
def run(pytester, clean_env):
    if TARGETS[TARGET].missing():
        pytest.skip(f"{TARGET} is not installed")
    pytester.makepyfile(test_matrix="from bn_behaviour.test_behaviour import test_behaviour\n",
                        client_layers=PATTERNS)

    def go(*args, cases=(CASE,)):
        ids = [f"test_matrix.py::test_behaviour[{s.id}]" for s in cases]
        return pytester.runpytest_subprocess(*ids, "-p", "no:cacheprovider", "-p", "no:xdist",
                                             "--bn-target", TARGET, *args)

    return go


@pytest.mark.harness
def test_kwargs_and_a_factory_construct_the_class(run, tmp_path, monkeypatch):
    out = tmp_path / "r.json"
    run("--bn-layer", "client_layers:NeedsFreeze", "--bn-layer-kwargs", '{"freeze": true}',
        "--bn-report", str(out)).assert_outcomes(passed=1)
    assert json.loads(out.read_text())["layer"] == "client_layers:NeedsFreeze --layer-kwargs '{\"freeze\": true}'"
    monkeypatch.setenv("BN_BEHAVIOUR_LAYER_KWARGS", '{"freeze": false}')
    run("--bn-layer", "client_layers:make_bn").assert_outcomes(passed=1)


@pytest.mark.harness
def test_bad_kwargs_are_a_usage_error(run):
    result = run("--bn-layer", "client_layers:NeedsFreeze", "--bn-layer-kwargs", "{freeze}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--bn-layer-kwargs '{freeze}' is not valid JSON" in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


@pytest.mark.harness
def test_a_keras_argument_typo_is_a_usage_error_in_the_plugin_and_the_cli(run, pytester):
    """Keras' BatchNormalization takes **kwargs and refuses an unknown one itself: the plugin stops with
    one line naming the key and the nearest real parameter, and so does `bn-behaviour observe`."""
    expected = ("--bn-layer-kwargs: keras.layers:BatchNormalization takes no argument 'synchronised' (did you "
                "mean 'synchronized'?) (ValueError: Unrecognized keyword arguments passed to BatchNormalization: "
                "{'synchronised': True})")
    result = run("--bn-layer", "keras.layers:BatchNormalization", "--bn-layer-kwargs", '{"synchronised": true}')
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {expected}"])
    cli = pytester.run(sys.executable, "-m", "bn_behaviour.cli", "observe", "--target", TARGET, "--layer",
                       "keras.layers:BatchNormalization", "--layer-kwargs", '{"synchronised": true}')
    assert cli.ret == 2 and cli.stderr.lines[-1] == f"bn-behaviour: error: {expected}"
    assert "Traceback" not in cli.stderr.str()


@pytest.mark.harness
def test_a_class_raising_in_init_is_an_observed_error(run, tmp_path):
    out = tmp_path / "r.json"
    result = run("--bn-layer", "client_layers:RaisesInInit", "--bn-report", str(out), cases=(CASE, FROZEN))
    result.assert_outcomes(failed=2)  # the rule (no error) is broken: a result, not a harness crash
    cases = json.loads(out.read_text())["cases"]
    assert [c["observed"]["error"] for c in cases] == [
        "ValueError: this class needs a config file (constructing the layer)"] * 2
    assert all("no_error" in c["violated"] for c in cases)
    # a missing required argument is the same kind of result
    run("--bn-layer", "client_layers:NeedsFreeze", cases=(CASE,)).assert_outcomes(failed=1)


def test_a_relative_out_folder_still_receives_each_run_report(tmp_path, monkeypatch):
    """Each run's pytest starts in an empty directory, so the report path it is given must be absolute
    (CI passes ``--out reports/clients``)."""
    import subprocess

    from bn_behaviour.clients import runner

    seen = []
    monkeypatch.chdir(tmp_path)
    def fake_run(cmd, **kw):
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 4, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    runner.run_one(None, "keras-tensorflow", Path("reports/clients"))
    report = Path(seen[0][seen[0].index("--bn-report") + 1])
    assert report.is_absolute() and report.parent == tmp_path / "reports" / "clients" / "runs"


@pytest.mark.parametrize("change, said", [({"complete": False}, "is incomplete (its run stopped"),
                                          ({}, "does not say whether it is complete"),
                                          ({"complete": True, "layr": "x"}, "unknown key 'layr'")])
def test_a_run_report_that_is_not_whole_or_not_known_is_an_error_not_a_verdict(tmp_path, monkeypatch, change, said):
    """A client is judged on every row of its subset: a run report that stopped short, says nothing, or holds
    what the schema does not know gives the client an error (one line), never a verdict on part of its rows."""
    import subprocess

    from test_report_format import _per_target

    from bn_behaviour.clients import runner

    def fake_run(cmd, **kw):
        report = {k: v for k, v in _per_target("keras-tensorflow").items() if k != "complete"}
        Path(cmd[cmd.index("--bn-report") + 1]).write_text(json.dumps({**report, **change}))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    found = runner.run_one(None, "keras-tensorflow", tmp_path)
    assert said in found["error"] and "\n" not in found["error"] and "cases" not in found, found
