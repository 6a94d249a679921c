"""Errors arrive as exceptions carrying the library's status and message: bad shapes, bad
labels, non-finite features, malformed configurations, unwritable paths. A failed call
leaves the session as it was. Handles close once, as context managers and on their own."""
import gc

import numpy as np
import pytest

import densenas
from densenas import Status

SPACE = {"features": 64, "classes": 10, "layers": 3, "width": 16, "blocks": 3}


@pytest.fixture
def session():
    with densenas.Space(SPACE) as space, densenas.Session(space, {"seed": 7}) as s:
        yield s


def raises(cls, status, needle, call, *args):
    """Asserts `call(*args)` raises `cls` with `status` and the library's message."""
    with pytest.raises(cls) as info:
        call(*args)
    err = info.value
    assert isinstance(err, densenas.DensenasError)
    assert err.status == status and err.status_name == f"DENSENAS_STATUS_{status.name}"
    assert needle in err.message, f"{err.message!r} lacks {needle!r}"
    # Word for word the library's own message (still the thread's last one).
    assert err.message == densenas.last_error_message()
    assert str(err) == f"{err.status_name}: {err.message}"
    return err


def test_bad_shapes_are_reported_by_the_library(session, digits):
    x, y = digits["weight"]
    x, y = x[:16], y[:16]
    for step in (session.step_weights, session.step_architecture, session.end_phase):
        err = raises(densenas.InvalidInputError, Status.INVALID_INPUT, "x_len", step, x, y[:15])
        assert "x_len is 1024 but batch * features = 15 * 64" in err.message
        raises(densenas.InvalidInputError, Status.INVALID_INPUT, "x_len", step, x[:, :63], y)
        raises(densenas.InvalidInputError, Status.INVALID_INPUT, "batch of 0", step, x[:0], y[:0])
    raises(densenas.InvalidInputError, Status.INVALID_INPUT, "x_len", session.evaluate, x, y[:3])
    raises(densenas.InvalidInputError, Status.INVALID_INPUT, "x_len", session.predict, x[:, :60])
    raises(densenas.InvalidInputError, Status.INVALID_INPUT, "x_len", session.predict, np.zeros(63))
    # Input errors are ValueErrors too.
    with pytest.raises(ValueError):
        session.step_weights(x, y[:1])


def test_bad_labels_and_features_are_reported_by_the_library(session, digits):
    x, y = digits["weight"]
    x, y = x[:16], y[:16].copy()
    for label in (10, -1, 1 << 40):
        bad = y.copy()
        bad[3] = label
        for step in (session.step_weights, session.step_architecture, session.end_phase, session.evaluate):
            raises(densenas.InvalidInputError, Status.INVALID_INPUT, "outside 0..10", step, x, bad)
    for value, needle in ((np.nan, "NaN"), (np.inf, "inf")):
        bad = x.copy()
        bad[1, 5] = value
        raises(densenas.InvalidInputError, Status.INVALID_INPUT, needle, session.step_weights, bad, y)
        raises(densenas.InvalidInputError, Status.INVALID_INPUT, needle, session.predict, bad)
    # Fractional labels never reach the library.
    with pytest.raises(TypeError, match="labels must be integers"):
        session.step_weights(x, y.astype(np.float64))


def test_a_failed_call_leaves_the_session_as_it_was(digits):
    x, y = digits["weight"]
    with densenas.Space(SPACE) as space:
        with densenas.Session(space, {"seed": 3}) as s, densenas.Session(space, {"seed": 3}) as twin:
            bad = y[:32].copy()
            bad[0] = 99
            with pytest.raises(densenas.InvalidInputError):
                s.step_weights(x[:32], bad)
            with pytest.raises(densenas.InvalidInputError):
                s.step_architecture(x[:31], y[:32])
            for i in range(0, 96, 32):
                b = slice(i, i + 32)
                assert (s.step_weights(x[b], y[b]), s.step_architecture(x[b], y[b])) == (
                    twin.step_weights(x[b], y[b]),
                    twin.step_architecture(x[b], y[b]),
                )
            np.testing.assert_array_equal(s.alpha(), twin.alpha())


@pytest.mark.parametrize(
    "config, needle",
    [
        ("{not json", "invalid configuration"),
        ({**SPACE, "colour": 1}, "unknown field `colour`"),
        ({**SPACE, "layers": 99}, "layers"),
        ({**SPACE, "max_skip": 5}, "max_skip"),
        ({**SPACE, "features": 0}, "features"),
    ],
)
def test_malformed_space_configurations(config, needle):
    err = raises(densenas.InvalidConfigError, Status.INVALID_CONFIG, needle, densenas.Space, config)
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    "options, needle",
    [
        ({"strategy": "nope"}, "nope"),
        ({"seed": 1, "extra": True}, "unknown field `extra`"),
        ({"density": {"eta": 2.0}}, "density.eta"),
        ({"seed": -1}, "expected u64"),
        ("[]", "invalid"),
        ({"precision": "tf32"}, "tf32 is a CUDA tensor-core format"),
        ({"deterministic": "yes"}, "expected a boolean"),
    ],
)
def test_malformed_session_options(options, needle):
    with densenas.Space(SPACE) as space:
        raises(densenas.InvalidConfigError, Status.INVALID_CONFIG, needle, densenas.Session, space, options)


def test_bad_datasets_and_mismatched_spaces():
    raises(densenas.InvalidConfigError, Status.INVALID_CONFIG, "nowhere", densenas.Dataset, "nowhere")
    raises(densenas.InvalidConfigError, Status.INVALID_CONFIG, "val_fraction", densenas.Dataset, "digits", 1.5)
    with densenas.Dataset("digits") as data, densenas.Space({**SPACE, "features": 8}) as narrow:
        raises(densenas.InvalidInputError, Status.INVALID_INPUT, "64 features", densenas.Session, narrow, {}, data)
        with pytest.raises(KeyError):
            data.split("nonsense")


def test_unwritable_export_path(session):
    raises(densenas.IoError, Status.IO, "/nonexistent-dir/x.onnx", session.export_onnx, "/nonexistent-dir/x.onnx")


def test_handles_close_once_and_refuse_use_after(digits):
    space = densenas.Space(SPACE)
    with space as entered:
        assert entered is space and not space.closed
        assert space.features == 64 and space.classes == 10
    assert space.closed
    space.close()  # a no-op
    with pytest.raises(ValueError, match="the space is closed"):
        space.features
    with pytest.raises(ValueError, match="the space is closed"):
        densenas.Session(space)
    data = densenas.Dataset("digits")
    x, y = data.split(densenas.Split.TEST)
    data.close()
    # The splits are copies: they outlive the dataset.
    assert x.shape == (359, 64) and y.shape == (359,) and x.flags.owndata and y.flags.owndata
    assert 0 <= y.min() and y.max() == 9 and np.isfinite(x).all()
    with pytest.raises(ValueError, match="the dataset is closed"):
        data.split("test")
    # Dropped handles are freed by the garbage collector (no error, nothing left).
    for _ in range(3):
        densenas.Session(densenas.Space(SPACE), {"seed": 0})
    gc.collect()


def test_the_splits_are_the_documented_ones(digits):
    sizes = {name: len(y) for name, (x, y) in digits.items()}
    assert sizes["train"] == sizes["weight"] + sizes["validation"]
    assert (sizes["train"], sizes["test"]) == (1438, 359)
    for x, y in digits.values():
        assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (len(y), 64)


def test_phase_progress_outside_zero_to_one_is_refused(session):
    session.set_progress(0.0)
    session.set_progress(1.0)
    for bad in (1.5, -0.1, float("nan")):
        raises(densenas.InvalidInputError, Status.INVALID_INPUT, "outside [0, 1]", session.set_progress, bad)
