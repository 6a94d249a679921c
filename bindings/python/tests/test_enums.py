"""The package's enumerations (ProgressKind, Status, Split) print as their names, yet
compare, hash, convert and format numerically as the C ABI's integer codes."""
import enum
import pickle

import pytest

import densenas
from densenas import ProgressKind, Split, Status


@pytest.mark.parametrize("member", [ProgressKind.PHASE, ProgressKind.STEP, Status.INVALID_INPUT, Split.TEST])
def test_str_and_format_give_the_name(member):
    name = f"{type(member).__name__}.{member.name}"
    assert str(member) == name
    assert f"{member}" == name
    assert format(member, ">30") == name.rjust(30)
    assert "%s" % member == name
    assert repr(member) == f"<{name}: {int(member)}>"


def test_progress_kind_is_still_its_integer():
    assert isinstance(ProgressKind.PHASE, enum.IntEnum) and isinstance(ProgressKind.PHASE, int)
    assert ProgressKind.PHASE == 1 and ProgressKind(3) is ProgressKind.STEP
    assert {ProgressKind.EPOCH: "epoch"}[0] == "epoch"
    assert int(ProgressKind.RETRAIN) == 2 and ProgressKind.RETRAIN + 1 == 3
    # A numeric format spec formats the number.
    assert f"{ProgressKind.RETRAIN:d}" == "2"
    assert f"{ProgressKind.STEP:03d}" == "003"
    assert f"{Status.PANIC:x}" == "b"
    assert "%d" % ProgressKind.PHASE == "1"
    assert pickle.loads(pickle.dumps(ProgressKind.PHASE)) is ProgressKind.PHASE


def test_a_progress_report_prints_its_kind_by_name():
    seen = []
    densenas.search({"space": {"layers": 3, "width": 16, "blocks": 3}, "phases": 1, "epochs": 1,
                     "retrain": {"epochs": 1}}, progress=lambda p: seen.append(p))
    phase = next(p for p in seen if p.kind == ProgressKind.PHASE)
    assert f"{phase.kind} at phase {phase.phase}" == "ProgressKind.PHASE at phase 0"
    assert "kind=<ProgressKind.PHASE: 1>" in repr(phase)
