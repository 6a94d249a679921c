"""A whole search through `densenas.search`: progress reports arrive, a truthy return
stops the search, an exception raised by the callback comes back out, a run folder is
written with the best network, and a malformed configuration raises."""
import json
import math

import numpy as np
import pytest

import densenas
from densenas import ProgressKind

SMALL = {"space": {"layers": 3, "width": 16, "blocks": 3}, "phases": 3, "epochs": 2, "retrain": {"epochs": 2}}


def test_a_truthy_progress_return_stops_the_search():
    reports = []

    def progress(p):
        reports.append(p)
        return p.kind == ProgressKind.PHASE

    summary = densenas.search(SMALL, progress=progress)
    assert summary["interrupted"] is True
    assert len(summary["phases"]) == 1
    kinds = [p.kind for p in reports]
    assert kinds == [ProgressKind.EPOCH, ProgressKind.EPOCH, ProgressKind.PHASE]
    first, second, phase = reports
    assert (first.phase, first.epoch, first.epochs, second.epoch) == (0, 0, 2, 1)
    assert math.isfinite(first.loss) and math.isfinite(first.arch_loss)
    assert math.isnan(phase.loss) and 0.0 < phase.best_val_accuracy <= 1.0


def test_an_exception_in_the_callback_stops_the_search_and_comes_back():
    calls = []

    def progress(p):
        calls.append(p)
        raise RuntimeError("stop right there")

    with pytest.raises(RuntimeError, match="stop right there"):
        densenas.search(SMALL, progress=progress)
    assert len(calls) == 1, "the search went on after the callback raised"


def test_a_whole_search_writes_its_run_folder(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    config = {**SMALL, "phases": 2}
    summary = densenas.search(config, out_dir=tmp_path / "run")
    assert summary["interrupted"] is False
    assert summary["densenas_version"] == densenas.library_version()
    assert summary["space"]["layers"] == 3 and summary["dataset"]["classes"] == 10
    assert len(summary["phases"]) == 2
    assert summary["onnx"]["max_abs_diff"] < 1e-4
    for name in ("summary.json", "config.json", "best.onnx", "best.json"):
        assert (tmp_path / "run" / name).exists(), name
    # The exported best network scores in ONNX Runtime what the summary says.
    with densenas.Dataset("digits") as data:
        xt, yt = data.split("test")
    model = ort.InferenceSession(str(tmp_path / "run" / "best.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = model.run(["logits"], {model.get_inputs()[0].name: xt})
    accuracy = float((np.argmax(logits, axis=1) == yt).mean())
    assert accuracy == pytest.approx(summary["onnx"]["test_accuracy"], abs=1e-6)


def test_a_finished_run_folder_is_replaced_only_with_overwrite(tmp_path):
    run = tmp_path / "run"
    tiny = {"space": {"layers": 2, "width": 8, "blocks": 2}, "phases": 1, "epochs": 1, "retrain": {"epochs": 0}}
    # Refused input leaves no folder.
    with pytest.raises(densenas.InvalidConfigError, match="width"):
        densenas.search({**tiny, "space": {"width": 0}}, out_dir=run)
    assert not run.exists()
    densenas.search(tiny, out_dir=run)
    assert not (run / ".densenas.lock").exists()
    before = (run / "summary.json").read_bytes()
    with pytest.raises(densenas.InvalidStateError, match="holds a finished run") as info:
        densenas.search({**tiny, "session": {"seed": 5}}, out_dir=run)
    assert "overwrite" in info.value.message
    assert (run / "summary.json").read_bytes() == before
    summary = densenas.search({**tiny, "session": {"seed": 5}}, out_dir=run, overwrite=True)
    assert summary["seed"] == 5
    assert json.loads((run / "summary.json").read_text())["seed"] == 5


def test_a_configuration_error_names_its_key_path():
    with pytest.raises(densenas.InvalidConfigError) as info:
        densenas.search({"retrain": {"epochs": "two"}})
    assert 'retrain.epochs: invalid type: string "two", expected usize' in info.value.message
    assert info.value.message.count("invalid configuration") == 1


@pytest.mark.parametrize(
    "config, needle",
    [({"phases": 0}, "phases"), ({"space": {"depth": 3}}, "unknown field `depth`"), ("{", "invalid")],
)
def test_malformed_search_configurations(config, needle):
    with pytest.raises(densenas.InvalidConfigError) as info:
        densenas.search(config, progress=lambda p: pytest.fail("a refused search reported progress"))
    assert info.value.status == densenas.Status.INVALID_CONFIG
    assert needle in info.value.message


def test_a_typed_space_search_finds_ops_and_retrains_the_plain_cnn(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    ops = ["dense", "conv3x3", "avgpool3x3", "maxpool3x3", "identity"]
    space = {"layers": 3, "width": 32, "blocks": 3, "shape": [2, 4, 4], "stem": "conv", "ops": ops}
    summary = densenas.search({**SMALL, "space": space, "phases": 2}, out_dir=tmp_path / "run")
    assert summary["space"]["ops"] == ops and summary["space"]["stem"] == "conv"
    # The digits' loader knows their shape: the conv stem's input is 1 x 8 x 8.
    assert summary["best"]["input_shape"] == [1, 8, 8]
    assert all(o in ops for o in summary["best"].get("ops", []))
    assert summary["baseline_cnn"]["ops"] == ["conv3x3", "conv3x3"]
    assert 0.5 < summary["baseline_cnn"]["test_accuracy"] <= 1.0
    with densenas.Dataset("digits") as data:
        xt, yt = data.split("test")
    model = ort.InferenceSession(str(tmp_path / "run" / "best.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = model.run(["logits"], {model.get_inputs()[0].name: xt})
    accuracy = float((logits.argmax(axis=1) == yt).mean())
    assert abs(accuracy - summary["onnx"]["test_accuracy"]) < 1e-9


def test_darts_plus_beta_regularisation_and_the_hessian_monitor_through_the_c_abi():
    config = {
        **SMALL,
        "phases": 2,
        "hessian_every": 1,
        "retrain": {"epochs": 0},
        "session": {"strategy": "darts-plus", "beta_reg": 0.5, "strategy_options": {"darts_plus": {"patience": 2}}},
    }
    summary = densenas.search(config)
    assert summary["strategy"] == "darts-plus"
    stops = summary["early_stops"]
    assert stops and all(s["rule"] == "ranking" for s in stops)
    assert [p.get("early_stop") for p in summary["phases"] if p.get("early_stop")] == stops
    config["session"] = {"strategy": "darts", "beta_reg": 0.5}
    trace = densenas.search(config)["hessian"]
    assert [(h["phase"], h["epoch"]) for h in trace] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert all(math.isfinite(h["eigenvalue"]) for h in trace)
    with pytest.raises(densenas.InvalidConfigError, match="beta_reg"):
        densenas.search({**SMALL, "session": {"strategy": "drnas", "beta_reg": 1.0}})
    with pytest.raises(densenas.InvalidConfigError, match="hessian_every"):
        densenas.search({**SMALL, "hessian_every": 1, "session": {"strategy": "gdas"}})


def test_pdarts_deepens_in_stages_through_the_c_abi():
    config = {
        **SMALL,
        "space": {"layers": 5, "width": 16, "blocks": 4},
        "retrain": {"epochs": 0},
        "session": {"strategy": "pdarts", "beta_reg": 0.5, "strategy_options": {"pdarts": {"prune_below": 0.3}}},
    }
    summary = densenas.search(config)
    assert summary["strategy"] == "pdarts" and summary["space"]["layers"] == 5
    # Three stages of one phase each (depths 3, 4, 5): the best is the last stage's.
    assert summary["best"]["phase"] == 2
    with pytest.raises(densenas.InvalidConfigError, match="strategy_options.pdarts.stages"):
        densenas.search({**config, "space": {"layers": 4, "width": 16, "blocks": 4}})
    with pytest.raises(densenas.InvalidConfigError, match="phases"):
        densenas.search({**config, "phases": 2})
