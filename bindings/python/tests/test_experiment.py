"""Experiments from Python: list the units, run them one by one as a scheduler would,
and write the report."""
import json

import pytest

import densenas

STUDY = {
    "datasets": ["digits"],
    "spaces": [{"layers": 3, "width": 8, "blocks": 2}],
    "strategies": ["darts"],
    "seeds": [0, 1],
    "search": {"phases": 1, "epochs": 1},
    "retrain_epochs": 1,
    "standalone": {"random_dags": 2},
    "baselines": ["chain"],
}


def test_units_run_one_by_one_and_report(tmp_path):
    file = tmp_path / "study.json"
    file.write_text(json.dumps(STUDY))
    out = tmp_path / "out"
    units = densenas.experiment.list_units(file, out)
    assert [u["stage"] for u in units] == [1] * len(units) and len(units) >= 4
    assert all(u["state"] == "pending" and len(u["id"]) == 64 for u in units)
    for u in units:
        densenas.experiment.run_unit(file, out, u["id"])
    assert all(u["state"] == "finished" for u in densenas.experiment.list_units(file, out))
    report = densenas.experiment.report(out)
    assert report["units"]["finished"] == report["units"]["total"] == len(units)
    (digits,) = report["datasets"]
    assert digits["rq1"][0]["seeds"] == 2 and digits["rq1"][0]["strategy"] == "darts"
    assert (out / "report.md").read_text().count("## RQ") == 5


def test_bad_units_and_files_raise(tmp_path):
    file = tmp_path / "study.json"
    file.write_text(json.dumps(STUDY))
    with pytest.raises(densenas.InvalidInputError, match="no unit"):
        densenas.experiment.run_unit(file, tmp_path / "out", "00000000deadbeef")
    file.write_text(json.dumps({**STUDY, "colour": 1}))
    with pytest.raises(densenas.InvalidConfigError, match="colour"):
        densenas.experiment.list_units(file, tmp_path / "out")
    with pytest.raises(densenas.InvalidStateError, match="not an experiment folder"):
        densenas.experiment.report(tmp_path / "nowhere")


def timeless(v):
    """Without the fields a rerun changes (`*seconds*`, `*per_second*`, `*memory*`)."""
    if isinstance(v, dict):
        return {k: timeless(x) for k, x in v.items() if not any(w in k for w in ("seconds", "per_second", "memory"))}
    if isinstance(v, list):
        return [timeless(x) for x in v]
    return v


def test_a_unit_runs_from_its_definition_alone_as_a_cluster_worker_runs_it(tmp_path):
    """`run_unit_spec` (what a Ray worker calls) gives the unit the same files as a run
    in the experiment folder, in a folder that holds nothing else; a definition under
    another id is refused before it runs."""
    from densenas import _ray_worker

    file = tmp_path / "study.json"
    file.write_text(json.dumps(STUDY))
    out = tmp_path / "out"
    units = densenas.experiment.list_units(file, out)
    unit = next(u for u in units if u["spec"]["kind"] == "search")
    densenas.experiment.run_unit(file, out, unit["id"])
    answer = _ray_worker.densenas_unit(unit["id"], unit["spec"])
    assert answer["error"] is None and answer["pid"] > 0
    there = out / "units" / unit["id"]
    sent = answer["files"]
    assert sorted(sent) == sorted(
        p.relative_to(there).as_posix() for p in there.rglob("*") if p.is_file() and p.name != ".densenas.lock"
    )
    for rel in ("unit.json", "run/best.onnx", "run/history.jsonl", "run/best.json"):
        assert sent[rel] == (there / rel).read_bytes(), rel
    for rel in ("result.json", "run/summary.json"):
        assert timeless(json.loads(sent[rel])) == timeless(json.loads((there / rel).read_bytes())), rel
    assert answer["node"] is None  # called outside Ray: no Ray started

    other = next(u for u in units if u["id"] != unit["id"])
    with pytest.raises(densenas.InvalidInputError, match="has the id " + unit["id"]):
        densenas.experiment.run_unit_spec(tmp_path / "elsewhere", other["id"], unit["spec"])
    assert not (tmp_path / "elsewhere" / "units" / other["id"]).exists()
    with pytest.raises(densenas.InvalidConfigError, match="not a unit definition"):
        densenas.experiment.run_unit_spec(tmp_path / "elsewhere", unit["id"], {"kind": "nothing"})


def test_a_failing_unit_is_a_result_of_the_worker_not_an_exception(tmp_path):
    """The unit's own error comes back with its error.txt (the driver records a
    failure; Ray does not retry it)."""
    from densenas import _ray_worker

    file = tmp_path / "study.json"
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,x\n")
    file.write_text(json.dumps({**STUDY, "datasets": [f"csv:{bad}"]}))
    unit = densenas.experiment.list_units(file, tmp_path / "out")[0]
    answer = _ray_worker.densenas_unit(unit["id"], unit["spec"])
    assert "bad.csv" in answer["error"]
    assert sorted(answer["files"]) == ["error.txt", "unit.json"]
    assert answer["files"]["error.txt"].decode().strip() in answer["error"]


def test_units_asking_for_cuda_are_recognised_for_the_ray_executor(tmp_path):
    """The Ray executor gives a unit one GPU when its definition asks for `cuda`: the
    device is read where each kind of unit keeps it."""
    from densenas.ray_experiment import device_of

    file = tmp_path / "study.json"
    for device in ("cpu", "cuda:0"):
        file.write_text(json.dumps({**STUDY, "search": {**STUDY["search"], "session": {"device": device}}}))
        units = densenas.experiment.list_units(file, tmp_path / device.replace(":", ""))
        kinds = {u["spec"]["kind"] for u in units}
        assert kinds == {"search", "standalone"}
        assert {device_of(u["spec"]) for u in units} == {device}, units[0]["spec"]


def test_the_ray_driver_replaces_a_unit_folder_as_one_whole(tmp_path):
    """A unit's files arrive as a whole (what an earlier attempt left goes), and what an
    interrupted write left is removed by the next run; units asking for a GPU the
    cluster lacks, or for a second GPU, are refused with a reason."""
    from densenas import ray_experiment as rx

    unit = tmp_path / "units" / "abc"
    (unit / "run" / "checkpoints").mkdir(parents=True)
    (unit / "run" / "checkpoints" / "LATEST").write_text("phase-1")
    (unit / "error.txt").write_text("an earlier failure")
    rx._write_unit(tmp_path, "abc", {"unit.json": b"{}", "run/best.onnx": b"onnx", "result.json": b"{}"})
    assert sorted(p.relative_to(unit).as_posix() for p in unit.rglob("*") if p.is_file()) == [
        "result.json", "run/best.onnx", "unit.json"]
    assert [p.name for p in (tmp_path / "units").iterdir()] == ["abc"]
    with pytest.raises(rx.RayExperimentError, match="outside the unit's folder"):
        rx._write_unit(tmp_path, "abc", {"../escape": b""})
    # The library's folder lock (the one `densenas experiment` takes) removes strays.
    stray = tmp_path / "units" / ".abc.incoming-123"
    stray.mkdir()
    with densenas.experiment.lock(tmp_path):
        with pytest.raises(densenas.InvalidStateError, match="in use"):
            densenas.experiment.lock(tmp_path).__enter__()
    assert not stray.exists() and (unit / "result.json").exists()
    assert not (tmp_path / ".densenas.lock").exists()
    densenas.experiment.record_failure(tmp_path, "abc", {"kind": "search", "config": {}}, "no GPU here")
    assert (unit / "error.txt").read_text() == "no GPU here\n" and not (unit / "result.json").exists()

    assert rx._refuse_device("cpu", 0) is None and rx._refuse_device("cuda", 1) is None
    assert "no GPU" in rx._refuse_device("cuda", 0)
    assert "cuda:0" in rx._refuse_device("cuda:1", 2)
