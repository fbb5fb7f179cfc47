"""The environment batch sharded across devices gives the result of one device.

JAX fixes its device count when it starts, so the check runs in a fresh interpreter with
four CPU devices (``jax_num_cpu_devices``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engram.config import TrainConfig

SCRIPT = r"""
import json
import jax
jax.config.update("jax_num_cpu_devices", 4)
import numpy as np
from engram.config import TrainConfig
from engram.ppo import Trainer

def run(devices):
    # The T-maze's vector observations: an MLP compiles far faster than the CNN, and the
    # sharding does not depend on the encoder.
    config = TrainConfig(
        env="TMaze-v0", env_options=("corridor_length=4",), num_envs=8, num_steps=8,
        num_minibatches=2, num_epochs=1, total_steps=128, memory_hidden=8, hidden=8,
        devices=devices,
    )
    trainer = Trainer(config)
    ts = trainer.init(jax.random.key(0))
    for _ in range(2):
        ts, _ = trainer.update(ts)
    return ts

one, four = run(1), run(4)
def pairs(a, b):
    return zip([np.asarray(x) for x in jax.tree.leaves(a)], jax.tree.leaves(b))

print(json.dumps({
    "devices": len(jax.devices()),
    "obs_spec": list(four.obs.sharding.spec),
    "params_spec": list(jax.tree.leaves(four.params)[0].sharding.spec),
    "param_diff": max(float(np.abs(a - b).max()) for a, b in pairs(one.params, four.params)),
    "env_state_equal": all(np.array_equal(a, b) for a, b in pairs(one.env_state, four.env_state)),
    "returns_equal": bool(np.array_equal(one.episode_return, four.episode_return)),
}))
"""


def test_four_devices_match_one_device():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, check=True
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["devices"] == 4
    assert r["obs_spec"] == ["env"] and r["params_spec"] == []  # batch split, params replicated
    # Environments and rollouts agree exactly; gradients are summed across devices in
    # another order, which moves parameters by float rounding only.
    assert r["env_state_equal"] and r["returns_equal"]
    assert r["param_diff"] < 1e-6


def test_devices_must_exist_and_divide_the_batch():
    with pytest.raises(ValueError, match="devices: got 99"):
        TrainConfig(devices=99).validate()
    TrainConfig(devices=1, num_envs=16).validate()
