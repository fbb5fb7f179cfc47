"""The environment benchmark (``benchmarks/env_throughput.py``): its checksum must depend on
every byte of every observation, or XLA could skip drawing what it does not read."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "env_throughput.py"
_spec = importlib.util.spec_from_file_location("env_throughput", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _fold(obs):
    zeros = bench.empty_checksum(jax.tree.map(lambda x: x[0], obs))
    return bench.checksum_value(jax.jit(bench.fold_checksum)(zeros, obs))


def test_every_byte_of_every_leaf_changes_the_checksum():
    rng = np.random.default_rng(0)
    obs = {
        "visual_observation": rng.integers(0, 256, (4, 84, 84, 3), dtype=np.uint8),
        "vector_observation": rng.standard_normal((4, 180)).astype(np.float32),
        "flag": rng.random((4, 3)) < 0.5,
    }
    base = _fold(obs)
    for name, (env, *index) in [
        ("visual_observation", (3, 83, 0, 2)),
        ("visual_observation", (0, 40, 41, 1)),
        ("vector_observation", (2, 179)),
        ("flag", (1, 2)),
    ]:
        changed = {k: v.copy() for k, v in obs.items()}
        leaf = changed[name]
        if leaf.dtype == np.bool_:
            leaf[(env, *index)] = ~leaf[(env, *index)]
        elif leaf.dtype == np.float32:
            leaf[(env, *index)] = np.nextafter(leaf[(env, *index)], np.float32(np.inf))
        else:
            leaf[(env, *index)] ^= 1
        assert _fold(changed) != base, (name, env, index)


def test_the_checksum_is_the_xor_of_every_environment_frame():
    # Batches of one chunk, of several (48 = 3 x 16) and of chunks smaller than 16 (6, 36):
    # every environment is read exactly once. NumPy's XOR over the batch is the reference.
    rng = np.random.default_rng(1)
    for batch in (1, 6, 16, 36, 48):
        frames = rng.integers(0, 256, (batch, 84, 84, 3), dtype=np.uint8)
        vector = rng.standard_normal((batch, 5)).astype(np.float32)
        got = jax.jit(bench.fold_checksum)(
            bench.empty_checksum((frames[0], vector[0])), (frames, vector)
        )
        want_frames = np.bitwise_xor.reduce(frames.reshape(batch, -1), axis=0)
        want_vector = np.bitwise_xor.reduce(vector.view(np.uint8).reshape(batch, -1), axis=0)
        np.testing.assert_array_equal(np.asarray(got[0]), want_frames, err_msg=str(batch))
        np.testing.assert_array_equal(np.asarray(got[1]), want_vector, err_msg=str(batch))


def test_split_over_takes_as_many_devices_as_divide_the_batch():
    assert bench.split_over(64, "ab") == ["a", "b"]
    assert bench.split_over(1, "ab") == ["a"]
    assert bench.split_over(6, "abcd") == ["a", "b"]
    assert bench.split_over(7, "abcd") == ["a"]


def test_a_batch_is_split_over_the_cpu_devices(tmp_path):
    # JAX fixes its device count when it starts: a fresh interpreter with 2 CPU devices.
    out = tmp_path / "out.json"
    args = ["--ids", "MortarMayhem-Grid-v0", "--batches", "1", "2", "--seconds", "0.01"]
    args += ["--frames-per-call", "4", "--bandwidth-frames", "8", "--cpu-devices", "2"]
    args += ["--json", str(out)]
    subprocess.run([sys.executable, str(_PATH), *args], check=True, capture_output=True)
    row = json.loads(out.read_text())["rows"][0]
    assert {b: m["devices"] for b, m in row["autoreset"].items()} == {"1": 1, "2": 2}
    assert all(m["fps"] > 0 for m in row["autoreset"].values())
