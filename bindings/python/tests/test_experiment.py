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
