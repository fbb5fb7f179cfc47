"""``benchmarks/gym_step_paths.py``: it times both step paths of one ``gym.make``
environment and prints both rates, and it refuses an id whose state is too large for the
two-program step."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "gym_step_paths.py"


def _load():
    spec = importlib.util.spec_from_file_location("gym_step_paths", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_paths_are_timed(capsys):
    _load().main(["--id", "MortarMayhem-Grid-v0", "--rounds", "2", "--seconds", "0.05"])
    out = capsys.readouterr().out
    assert "CPU dispatch: calling thread" in out  # engram's default in the suite's process
    rates = re.findall(r"^(two programs|one program).*?([\d,]+) steps/s$", out, re.M)
    assert [name for name, _ in rates] == ["two programs", "one program"]
    assert all(int(rate.replace(",", "")) > 0 for _, rate in rates)


def test_a_large_state_is_refused(capsys):
    with pytest.raises(SystemExit):
        _load().main(["--id", "MysteryPath-v0", "--rounds", "1"])
    assert "too large for the two-program step" in capsys.readouterr().err
