"""A small search through `Session`: it learns the digits, its architecture weights move
and restart at each phase, predictions agree with evaluation, the best DAG is reported,
and the exported ONNX model gives the session's logits in ONNX Runtime."""
import numpy as np
import pytest

import densenas


def test_a_two_phase_search_learns_the_digits(searched, digits):
    first, second = searched.best_val_accuracy
    assert second >= first, "the best validation accuracy so far cannot fall"
    assert second > 0.85, f"best validation accuracy {second}"
    for weight_loss, arch_loss in searched.losses:
        assert np.isfinite(weight_loss) and np.isfinite(arch_loss)
    xt, yt = digits["test"]
    accuracy, loss = searched.session.evaluate(xt, yt)
    assert accuracy > 0.8 and 0.0 < loss < 1.5, (accuracy, loss)


def test_architecture_weights_move_and_restart_each_phase(searched):
    assert searched.session.blocks == 3
    alpha = searched.alpha_before_end
    assert alpha.dtype == np.float64 and alpha.shape == (3,)
    assert np.abs(alpha).max() > 1e-3, f"alpha did not move: {alpha}"
    assert np.array_equal(searched.alpha_after_end, np.zeros(3)), searched.alpha_after_end


def test_predict_agrees_with_evaluate(searched, digits):
    xv, yv = digits["validation"]
    logits = searched.session.predict(xv)
    assert logits.dtype == np.float32 and logits.shape == (len(yv), 10)
    accuracy, loss = searched.session.evaluate(xv, yv)
    assert (logits.argmax(axis=1) == yv).mean() == pytest.approx(accuracy, abs=1e-12)
    # Mean cross-entropy from the logits.
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert -log_p[np.arange(len(yv)), yv].mean() == pytest.approx(loss, rel=1e-4)
    # The evaluated network is the best DAG's inherited snapshot, judged on this split.
    assert accuracy == pytest.approx(searched.best_val_accuracy[-1], abs=1e-9)


def test_predict_takes_any_row_major_layout(searched, digits):
    x = digits["test"][0][:5]
    logits = searched.session.predict(x)
    np.testing.assert_array_equal(searched.session.predict(x.reshape(5, 1, 8, 8)), logits)
    # One sample alone (a batch of one may round differently in the last bit).
    np.testing.assert_allclose(searched.session.predict(x[2]), logits[2:3], atol=1e-5)
    # float64 and non-contiguous inputs are converted.
    np.testing.assert_allclose(searched.session.predict(np.asfortranarray(x, dtype=np.float64)), logits, atol=1e-6)


def test_the_best_dag_is_reported(searched):
    dag = searched.session.best_dag()
    assert dag["layers"] == 3
    assert dag["phase"] in (0, 1) and 0 <= dag["block"] < 3
    assert dag["val_accuracy"] == searched.best_val_accuracy[-1]
    edges = [tuple(e) for e in dag["edges"]]
    assert edges and all(0 <= i < j <= 3 for i, j in edges), edges
    assert dag["metrics"]["num_edges"] == len(edges)


def test_the_exported_model_gives_the_session_logits_in_onnx_runtime(searched, digits, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "best.onnx"
    searched.session.export_onnx(path)
    assert path.stat().st_size > 0
    xt, _ = digits["test"]
    model = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = model.run(["logits"], {model.get_inputs()[0].name: xt})
    np.testing.assert_allclose(got, searched.session.predict(xt), atol=1e-4)


def test_a_session_without_a_dataset_has_no_input_normalisation(digits):
    xw, yw = digits["weight"]
    with densenas.Space({"features": 64, "classes": 10, "layers": 2, "width": 8, "blocks": 2}) as space:
        with densenas.Session(space, {"seed": 0}) as plain, densenas.Session(space, {"seed": 0}) as twin:
            assert plain.features == 64 and plain.classes == 10
            # Same seed, same options: the same steps.
            assert plain.step_weights(xw[:32], yw[:32]) == twin.step_weights(xw[:32], yw[:32])


def test_an_annealed_strategy_follows_the_phase_progress(digits):
    """snas relaxes its block weights with a temperature annealed over the phase: the same
    step at the start and at the end of a phase computes a different loss."""
    x, y = digits["weight"]
    space = densenas.Space({"features": 64, "classes": 10, "layers": 3, "width": 16, "blocks": 3})
    start, also_start, end = (densenas.Session(space, {"strategy": "snas", "seed": 4}) for _ in range(3))
    also_start.set_progress(0.0)
    end.set_progress(1.0)
    losses = [s.step_weights(x[:64], y[:64]) for s in (start, also_start, end)]
    assert losses[0] == losses[1] != losses[2], losses


def test_a_zero_learning_rate_freezes_the_weights(digits):
    xw, yw = digits["weight"]
    with densenas.Space(SPACE_SMALL) as space, densenas.Session(space, {"seed": 3}) as session:
        session.step_weights(xw[:32], yw[:32])
        session.set_learning_rate(0.0)
        before = session.predict(xw[:32])
        session.step_weights(xw[:32], yw[:32])
        np.testing.assert_array_equal(session.predict(xw[:32]), before)
        session.set_learning_rate(0.05)
        session.step_weights(xw[:32], yw[:32])
        assert not np.array_equal(session.predict(xw[:32]), before)
        with pytest.raises(densenas.DensenasError, match="non-negative"):
            session.set_learning_rate(-1.0)


SPACE_SMALL = {"features": 64, "classes": 10, "layers": 2, "width": 8, "blocks": 2}
