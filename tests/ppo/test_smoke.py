"""Two PPO updates on every registered environment id: each id's observations, actions,
infos and time limits go through the whole training program (rollout, GAE, losses,
optimiser) and change the parameters without producing a NaN."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from configs import tiny_config

import engram
from engram.ppo import Trainer


@pytest.mark.parametrize("env_id", engram.registered_ids())
def test_two_updates_on_every_environment(env_id, tmp_path):
    config = tiny_config(tmp_path, env=env_id)
    trainer = Trainer(config)
    first = trainer.initial_state()
    state = first
    for _ in range(config.num_updates):
        state, metrics = trainer.update(state)
    assert int(state.update) == 2
    for name in ("loss", "policy_loss", "value_loss", "entropy"):
        assert np.isfinite(float(metrics[name])), name
    changed = jax.tree.map(lambda a, b: bool((a != b).any()), first.params, state.params)
    assert any(jax.tree.leaves(changed))


def test_transformer_xl_trains_with_both_auxiliary_losses(tmp_path):
    """Transformer-XL with observation reconstruction and ground-truth estimation on an
    endless pixel task, where episodes outlast the rollout and the window slides."""
    config = tiny_config(
        tmp_path,
        env="Endless-MortarMayhem-v0",
        agent="trxl",
        trxl_num_layers=2,
        trxl_dim=16,
        trxl_num_heads=2,
        trxl_memory_length=3,
        obs_reconstruction=0.1,
        ground_truth_estimation=0.1,
    )
    trainer = Trainer(config)
    state = trainer.initial_state()
    assert state.carry.memory.shape == (2, 2, 2, 16)  # (envs, window - 1, blocks, width)
    for _ in range(config.num_updates):
        state, metrics = trainer.update(state)
    for name in ("loss", "reconstruction_loss", "ground_truth_loss"):
        assert np.isfinite(float(metrics[name])), name
    assert int(state.carry.step.max()) == 8  # 8 steps into episodes that have not ended
