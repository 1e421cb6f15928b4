"""The third-party classes registry (bn_behaviour.clients), --bn-layer factories and --bn-layer-kwargs."""

import json
from pathlib import Path
from urllib.parse import urlparse

import pytest

from bn_behaviour.cases.scenario import Scenario
from bn_behaviour.clients import CLIENTS, subset
from bn_behaviour.report.clients import render, summarise
from bn_behaviour.rules.rulebook import STATEMENTS
from bn_behaviour.targets import TARGETS
from bn_behaviour.targets.layer import Bound, LayerSpecError, load, parse_kwargs

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
        assert "==" in client.package and client.install == f"pip install --no-deps {client.package}"
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

    from bn_behaviour.report import clients as runner

    seen = []
    monkeypatch.chdir(tmp_path)
    def fake_run(cmd, **kw):
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 4, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    runner.run_one(None, "keras-tensorflow", Path("reports/clients"))
    report = Path(seen[0][seen[0].index("--bn-report") + 1])
    assert report.is_absolute() and report.parent == tmp_path / "reports" / "clients" / "runs"
