"""``benchmarks/frame_parts.py``: the observe program it times must read every byte of
every observation, or XLA could drop the drawing it claims to time."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import numpy as np
import pytest

import engram

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "frame_parts.py"
_spec = importlib.util.spec_from_file_location("frame_parts", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_observe_checksum_is_the_xor_of_every_observation_byte():
    env, params = engram.make("MortarMayhem-Grid-v0")
    states = bench.played_states(env, params, 4, 3)
    got = [np.asarray(a) for a in bench.observe_program(env, params)(states)]
    frames = np.asarray(jax.vmap(env.observe, in_axes=(0, None))(states, params))
    want = np.bitwise_xor.reduce(frames.reshape(4, -1), axis=0)
    assert len(got) == 1
    np.testing.assert_array_equal(got[0], want)


def test_parts_prints_one_row_per_id_and_refuses_bad_input(capsys):
    bench.main(["--ids", "MortarMayhem-Grid-v0", "--batch", "2", "--warmup", "2", "--reps", "1"])
    row = capsys.readouterr().out.strip().splitlines()[-1]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "`MortarMayhem-Grid-v0`" and all(float(c) > 0 for c in cells[1:])
    with pytest.raises(SystemExit):
        bench.main(["--batch", "0"])
    assert "--batch: got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--ids", "TMaze-v0", "--batch", "2"])
    assert "TMaze-v0: its observation is not drawn from its state" in capsys.readouterr().err
