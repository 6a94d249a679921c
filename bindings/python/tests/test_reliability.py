"""Reliability from Python: a stop on each kind of progress report ends the search (and
the callback is not called again), a search stopped in phase 2 resumes from its run
folder to the result of an uninterrupted one, and a session saved and loaded goes on
with exactly the same losses."""
import json

import numpy as np
import pytest

import densenas
from densenas import ProgressKind

from conftest import BATCH, SPACE

CONFIG = {
    "space": {"layers": 3, "width": 16, "blocks": 3},
    "phases": 3,
    "epochs": 3,
    "retrain": {"epochs": 3},
    "session": {"seed": 4, "strategy": "gdas"},
}


@pytest.mark.parametrize(
    "kind, nth, phases",
    [(ProgressKind.PHASE, 1, 1), (ProgressKind.EPOCH, 2, 1), (ProgressKind.STEP, 7, 1), (ProgressKind.RETRAIN, 1, 3)],
)
def test_a_stop_on_each_kind_of_report_ends_the_search(kind, nth, phases):
    seen = []

    def progress(p):
        seen.append(p)
        return sum(1 for q in seen if q.kind == kind) == nth

    summary = densenas.search(CONFIG, progress=progress, step_reports=True)
    assert seen[-1].kind == kind, "the callback was called after it asked to stop"
    assert summary["interrupted"] is True
    assert summary["best"]["retrained"] is False and summary["baseline"]["test_accuracy"] is None
    assert len(summary["phases"]) == phases
    steps = [p for p in seen if p.kind == ProgressKind.STEP]
    assert steps and all(p.epochs == steps[0].epochs and p.epoch < p.epochs for p in steps)


def test_step_reports_come_only_when_asked():
    kinds = set()
    densenas.search({**CONFIG, "phases": 1, "retrain": {"epochs": 0}}, progress=lambda p: kinds.add(p.kind))
    assert kinds == {ProgressKind.EPOCH, ProgressKind.PHASE}


def _without_timing(path):
    summary = json.loads(path.read_text())
    summary.pop("timing")
    summary.pop("resumed")
    return summary


def test_a_search_stopped_in_phase_2_resumes_to_the_uninterrupted_result(tmp_path):
    expected = tmp_path / "uninterrupted"
    densenas.search(CONFIG, out_dir=expected)
    assert not (expected / "checkpoints").exists()

    run = tmp_path / "stopped"
    summary = densenas.search(CONFIG, out_dir=run, progress=lambda p: p.kind == ProgressKind.EPOCH and p.phase == 1)
    assert summary["interrupted"] is True
    assert (run / "checkpoints" / "latest").read_text().strip() == "phase-1"
    with pytest.raises(densenas.InvalidStateError, match="unfinished search"):
        densenas.search(CONFIG, out_dir=run)
    with pytest.raises(densenas.InvalidStateError, match="another configuration"):
        densenas.search({**CONFIG, "epochs": 4}, out_dir=run, resume=True)

    summary = densenas.resume(run)
    assert summary["resumed"] == {"from_phase": 1} and summary["interrupted"] is False
    assert _without_timing(run / "summary.json") == _without_timing(expected / "summary.json")
    for name in ("history.jsonl", "best.onnx"):
        assert (run / name).read_bytes() == (expected / name).read_bytes(), name
    with pytest.raises(densenas.InvalidStateError, match="nothing to resume"):
        densenas.resume(run)


def _steps(session, digits, start, count):
    (xw, yw), (xv, yv) = digits["weight"], digits["validation"]
    losses = []
    for i in range(start, start + count):
        a, b = (i * BATCH) % (len(yw) - BATCH), (i * BATCH) % (len(yv) - BATCH)
        losses.append(session.step_weights(xw[a : a + BATCH], yw[a : a + BATCH]))
        losses.append(session.step_architecture(xv[b : b + BATCH], yv[b : b + BATCH]))
    return losses


@pytest.mark.parametrize("strategy", ["darts2", "drnas"])
def test_a_saved_session_goes_on_with_the_same_losses(digits, tmp_path, strategy):
    with densenas.Space(SPACE) as space, densenas.Dataset("digits") as data:
        original = densenas.Session(space, {"strategy": strategy, "seed": 9}, dataset=data)
    xv, yv = digits["validation"]
    _steps(original, digits, 0, 6)
    original.end_phase(xv, yv)
    _steps(original, digits, 6, 3)
    original.save(tmp_path / "s.safetensors")
    loaded = densenas.Session.load(tmp_path / "s.safetensors")
    assert (loaded.features, loaded.classes) == (64, 10)
    assert _steps(loaded, digits, 9, 8) == _steps(original, digits, 9, 8)
    assert np.array_equal(loaded.alpha(), original.alpha())
    assert loaded.end_phase(xv, yv) == original.end_phase(xv, yv)
    assert loaded.best_dag() == original.best_dag()
    assert np.array_equal(loaded.predict(xv[:10]), original.predict(xv[:10]))


def test_bad_session_files_are_refused(tmp_path):
    with pytest.raises(densenas.IoError, match="missing"):
        densenas.Session.load(tmp_path / "missing")
    (tmp_path / "junk").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(densenas.InvalidInputError, match="no densenas document"):
        densenas.Session.load(tmp_path / "junk")
