"""Shared fixtures: the embedded digits and a session searched on them for two phases
(small: 3 layers of width 32, 3 blocks), shared by the tests that only read it."""
import dataclasses

import numpy as np
import pytest

import densenas

SPACE = {"features": 64, "classes": 10, "layers": 3, "width": 32, "blocks": 3}
BATCH = 64


@pytest.fixture(scope="session")
def digits():
    with densenas.Dataset("digits", val_fraction=0.5, seed=0) as data:
        return {name: data.split(name) for name in ("train", "weight", "validation", "test")}


def run_phase(session, digits, epochs):
    """`epochs` epochs of alternating weight and architecture steps; the last losses."""
    (xw, yw), (xv, yv) = digits["weight"], digits["validation"]
    losses = None
    for _ in range(epochs):
        for i in range(0, min(len(yw), len(yv)) - BATCH + 1, BATCH):
            losses = (
                session.step_weights(xw[i : i + BATCH], yw[i : i + BATCH]),
                session.step_architecture(xv[i : i + BATCH], yv[i : i + BATCH]),
            )
    return losses


@dataclasses.dataclass
class Searched:
    session: densenas.Session
    alpha_before_end: np.ndarray  # alpha at the end of the last phase's steps
    alpha_after_end: np.ndarray
    best_val_accuracy: list  # end_phase's return, per phase
    losses: list  # (weight, architecture) losses of the last step, per phase


@pytest.fixture(scope="session")
def searched(digits):
    data = densenas.Dataset("digits")
    space = densenas.Space(SPACE)
    session = densenas.Session(space, {"strategy": "darts", "seed": 1}, dataset=data)
    # The session keeps what it needs: closing its space and dataset first is safe.
    space.close()
    data.close()
    xv, yv = digits["validation"]
    best, losses = [], []
    for _ in range(2):
        losses.append(run_phase(session, digits, epochs=4))
        alpha = session.alpha()
        best.append(session.end_phase(xv, yv))
    yield Searched(session, alpha, session.alpha(), best, losses)
    session.close()
