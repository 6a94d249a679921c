"""`densenas.train`: DAGs and seeds trained as one population; each member equals its
DAG and seed trained alone, progress reports arrive and can stop it, an exception
raised by the callback comes back out, bad requests raise with the key's name."""
import math

import pytest

import densenas
from densenas import ProgressKind

DAGS = [{"layers": 3, "edges": [[0, 1], [1, 2]]}, {"layers": 3, "edges": [[0, 1], [0, 2], [1, 2]]}]
OPTIONS = {"space": {"width": 16}, "train": {"epochs": 2}}


def test_every_member_equals_its_dag_and_seed_trained_alone():
    reports = []
    result = densenas.train(DAGS, seeds=[3, 4], progress=lambda p: reports.append(p), **OPTIONS)
    members = result["members"]
    assert result["interrupted"] is False and len(members) == 4
    assert [(m["member"], m["seed"]) for m in members] == [(0, 3), (1, 4), (2, 3), (3, 4)]
    assert [m["dag"]["edges"] for m in members] == [DAGS[0]["edges"]] * 2 + [DAGS[1]["edges"]] * 2
    for m in members:
        assert 0.0 < m["test_accuracy"] <= 1.0 and math.isfinite(m["test_loss"])
        alone = densenas.train([DAGS[m["member"] // 2]], seeds=[m["seed"]], **OPTIONS)["members"][0]
        for key in ("test_accuracy", "test_loss", "train_accuracy", "params", "flops"):
            assert alone[key] == m[key], (m["member"], key)
    assert [(p.kind, p.epoch, p.epochs) for p in reports] == [(ProgressKind.TRAIN, 0, 2), (ProgressKind.TRAIN, 1, 2)]
    assert all(math.isfinite(p.loss) for p in reports)


def test_a_truthy_return_stops_and_an_exception_comes_back():
    calls = []
    result = densenas.train(DAGS, progress=lambda p: calls.append(p) or True, **OPTIONS)
    assert result["interrupted"] is True and result["members"] == [] and len(calls) == 1

    def boom(_p):
        raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        densenas.train(DAGS, progress=boom, **OPTIONS)


def test_bad_requests_raise_naming_the_key():
    with pytest.raises(densenas.InvalidConfigError, match="dags"):
        densenas.train([])
    with pytest.raises(densenas.InvalidConfigError, match="colour"):
        densenas.train(DAGS, colour="red")
    with pytest.raises(densenas.InvalidConfigError, match=r"train\.epochs"):
        densenas.train(DAGS, train={"epochs": -1})
