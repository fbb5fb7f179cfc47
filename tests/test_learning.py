"""Learning tests on a small memory task (CPU, about a minute each): the passive T-maze with a
corridor of 10 cells. The cue is in the first observation only and must be recalled 10
steps later at the junction, so the GRU agent has to learn to remember it, while a
memory-less agent cannot do better than chance (half the episodes). The Transformer-XL
agent must learn the same from its attention window."""

from __future__ import annotations

import pytest

from engram.eval import LEVEL_SEED_OFFSET, evaluate
from engram.train import TrainConfig, Trainer

EPISODES = 200


def _train_and_evaluate(agent: str, tmp_path, **options) -> float:
    """Train with a small MLP + memory network and return the greedy success rate on
    unseen cues (level seeds not used in training)."""
    config = TrainConfig(
        env="TMaze-v0",
        env_options=("corridor_length=10",),
        agent=agent,
        total_steps=131_072,  # 128 updates of 32 x 32 steps
        num_envs=32,
        num_steps=32,
        num_minibatches=4,
        memory_hidden=64,
        hidden=64,
        lr=1e-3,
        final_lr=1e-3,
        ent_coef=0.01,
        final_ent_coef=0.01,
        gamma=0.99,
        clip=0.2,
        max_grad_norm=0.5,
        run_dir=str(tmp_path),
        **options,
    )
    trainer = Trainer(config)
    state = trainer.initial_state()
    for _ in range(config.num_updates):
        state, _ = trainer.update(state)
    result = evaluate(
        trainer, state.params, EPISODES, config.seed + LEVEL_SEED_OFFSET, deterministic=True
    )
    assert all(result["done"])
    return result["success_rate"]


def test_gru_agent_remembers_the_cue(tmp_path):
    assert _train_and_evaluate("gru", tmp_path) >= 0.9


def test_transformer_xl_agent_remembers_the_cue(tmp_path):
    # One block of width 32; the window (the default here: the whole 11-step episode)
    # reaches back to the cue.
    small = dict(trxl_num_layers=1, trxl_dim=32, trxl_num_heads=2)
    assert _train_and_evaluate("trxl", tmp_path, **small) >= 0.9


def test_memory_less_agent_stays_at_chance(tmp_path):
    # Chance is 0.5; 0.7 is four standard errors above it for 200 episodes.
    assert _train_and_evaluate("none", tmp_path) == pytest.approx(0.5, abs=0.2)
