"""The Memo paper's agents in the shared PPO (``--agent fct|memo|rmt``): they train on trial
tasks and on pixel tasks, their configuration is checked before compiling, their defaults
follow the paper, and ``engram eval`` sizes their caches for longer trials and streaming."""

from __future__ import annotations

import io
import json

import jax
import numpy as np
import pytest
from configs import tiny_config
from rich.console import Console

from engram.config import TrainConfig
from engram.eval import EvalConfig, evaluate_run
from engram.models.fct import FCTCarry
from engram.models.memo import MemoCarry
from engram.policy import Policy
from engram.ppo import Trainer
from engram.run import train

#: A one-layer decoder of width 8: compiles in seconds.
TINY = dict(decoder_num_layers=1, decoder_width=8, decoder_num_heads=2, decoder_mlp_hidden=16)


def dark_key(tmp_path, **kw) -> TrainConfig:
    """Dark-Key-To-Door with trials of 12 steps (episodes of 4), so a rollout of 16 steps
    crosses trial boundaries, episode boundaries and (segments of 4 steps) summaries."""
    args = dict(
        env="DarkKeyToDoor-v0",
        env_options=("room_size=3", "episode_length=4", "trial_length=12"),
        segment_length=4,
        summary_length=2,
        num_envs=2,
        num_steps=16,
        num_epochs=1,
        num_minibatches=1,
        total_steps=64,
        hidden=8,
        eval_levels=2,
        eval_repetitions=1,
        run_dir=str(tmp_path),
        run_name="run",
        **TINY,
    )
    args.update(kw)
    return TrainConfig(**args)


@pytest.mark.parametrize("agent", ["fct", "memo"])
def test_attention_agents_train_on_a_trial_task(agent, tmp_path):
    """(RMT is Memo's module with one summary set: its training program differs only in the
    cache size; tests/test_models.py checks its acting and learning forms agree.)"""
    trainer = Trainer(dark_key(tmp_path, agent=agent))
    first = trainer.initial_state()
    state, metrics = trainer.update(first)
    state, metrics = trainer.update(state)
    for name in ("loss", "policy_loss", "value_loss", "entropy"):
        assert np.isfinite(float(metrics[name])), name
    changed = jax.tree.map(lambda a, b: bool((a != b).any()), first.params, state.params)
    assert any(jax.tree.leaves(changed))
    # 32 steps = 2 trials of 12 + 8 steps of a third: the memory restarted at step 24.
    if agent == "fct":
        assert isinstance(state.carry, FCTCarry)
        assert state.carry.keys.shape == (2, 1, 12, 8)  # (envs, layers, trial, width)
        np.testing.assert_array_equal(state.carry.step, [8, 8])
    else:
        assert isinstance(state.carry, MemoCarry)
        # Segments of 4 steps (acting uses the fixed length): 2 summaries, empty segment.
        np.testing.assert_array_equal(state.carry.num_summaries, [2, 2])
        np.testing.assert_array_equal(state.carry.segment_count, [0, 0])
        # segment_jitter 0.2 on 4 steps allows 4..4: 12 // 4 sets of 2 tokens.
        assert state.carry.summary_keys.shape == (2, 1, 3 * 2, 8)
    assert trainer.policy.segment_rng is (agent != "fct")


def test_every_rollout_is_a_fresh_trial_by_default(tmp_path):
    """The Memo paper makes each rollout one new trial (reference section 3:
    ``reset_envs_after_update``, rollout = trial): by default the rollout is one trial of
    the task, so every update starts from an empty memory, never from keys and summaries
    that older parameters computed."""
    config = dark_key(tmp_path, agent="memo", num_steps=None, total_steps=48)
    assert config.rollout_steps == 12 and config.resolved()["num_steps"] == 12
    assert TrainConfig(env="MortarMayhem-Grid-v0", agent="memo").rollout_steps == 128
    assert TrainConfig(env="DarkKeyToDoor-v0", agent="gru").rollout_steps == 128
    trainer = Trainer(config)
    state = trainer.initial_state()
    empty = trainer.policy.initial_carry(2)
    for _ in range(3):
        state, _ = trainer.update(state)
        assert bool(state.reset.all())  # the next observation starts a trial
        # The carry left by the rollout belongs to the finished trial (3 segments of 4
        # steps summarised) and that reset wipes it before anything reads it.
        np.testing.assert_array_equal(state.carry.num_summaries, [3, 3])
    assert jax.tree.structure(state.carry) == jax.tree.structure(empty)


def test_memo_trains_on_pixels_with_observation_reconstruction(tmp_path):
    """The CNN encoder and the reconstruction decoder around a Memo memory, on an episode
    task (memory episode = episode, cap 119 on Mortar Mayhem Grid)."""
    config = tiny_config(
        tmp_path, agent="memo", obs_reconstruction=0.1, segment_length=3, summary_length=1, **TINY
    )
    assert config.decoder_settings().max_context == 119
    trainer = Trainer(config)
    state = trainer.initial_state()
    for _ in range(2):
        state, metrics = trainer.update(state)
    for name in ("loss", "reconstruction_loss"):
        assert np.isfinite(float(metrics[name])), name
    np.testing.assert_array_equal(state.carry.num_summaries, [2, 2])  # 8 steps, segments of 3
    np.testing.assert_array_equal(state.carry.segment_count, [2, 2])


def test_defaults_follow_the_memo_paper_and_fit_short_tasks(tmp_path):
    paper = TrainConfig(env="ObjectNav-v0", agent="memo").decoder_settings()
    assert (paper.num_layers, paper.width, paper.num_heads, paper.mlp_hidden) == (4, 256, 8, 1024)
    assert (paper.max_context, paper.segment_length, paper.summary_length) == (4096, 256, 32)
    assert paper.segment_jitter == 0.2
    # Dark-Key-To-Door's trial (500 steps) is shorter than four paper segments.
    dk = TrainConfig(env="DarkKeyToDoor-v0", agent="memo").resolved()
    assert (dk["max_context"], dk["segment_length"], dk["summary_length"]) == (500, 125, 15)
    # No trials: the episode cap; the full-context transformer has no segment randomisation.
    mm = TrainConfig(env="MortarMayhem-v0", agent="fct").decoder_settings()
    assert mm.max_context == 275 and mm.segment_jitter == 0.0
    endless = TrainConfig(env="Endless-MysteryPath-v0", agent="fct").decoder_settings()
    assert endless.max_context == 4096


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"agent": "memo", "summary_length": 4}, r"summary_length: got 4, .*segment_length \(4\)"),
        ({"agent": "memo", "segment_length": 13}, r"got 13 \(up to 15 .*than the trial \(12 steps"),
        ({"agent": "rmt", "segment_length": 8, "max_context": 8}, r"up to 9 .*max_context \(8"),
        ({"agent": "fct", "decoder_num_heads": 3}, r"decoder_num_heads: got 3, .*width \(8\)"),
        ({"agent": "fct", "decoder_num_heads": 8}, r"decoder_num_heads: got 8, .*even head size"),
        ({"agent": "memo", "segment_jitter": 1.0}, r"segment_jitter: got 1.0, must be in \[0, 1\)"),
        ({"agent": "fct", "max_context": 0}, "max_context: got 0, must be a positive integer"),
        ({"agent": "memo", "decoder_num_layers": 0}, "decoder_num_layers: got 0"),
    ],
)  # fmt: skip
def test_bad_decoder_configuration_is_rejected_before_compiling(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        Trainer(dark_key(tmp_path, **overrides))


def test_evaluation_sizes_the_caches_for_longer_trials_and_streaming(tmp_path):
    fct = Policy(dark_key(tmp_path, agent="fct"))
    assert fct.for_evaluation() is fct
    assert fct.for_evaluation(trial_scale=4).config.decoder_settings().max_context == 48
    assert fct.for_evaluation(4, stream_window=5).config.decoder_settings().max_context == 5
    memo = Policy(dark_key(tmp_path, agent="memo"))
    # A window of 9 tokens: the segment (4) and (9 - 4) // 2 = 2 summary sets of 2.
    streamed = memo.for_evaluation(trial_scale=2, stream_window=9)
    carry = streamed.agent.initial_carry(1)
    assert carry.summary_keys.shape[2] + carry.segment_keys.shape[2] == 2 * 2 + 4
    assert streamed.config.segment_jitter == 0.0  # acting uses the fixed segment length
    longer = memo.for_evaluation(trial_scale=2).initial_carry(1)
    assert longer.summary_keys.shape[2] == (24 // 4) * 2
    with pytest.raises(ValueError, match=r"stream_window: got 5, smaller than one segment plus"):
        memo.for_evaluation(stream_window=5)
    gru = Policy(dark_key(tmp_path, agent="gru", memory_hidden=8))
    with pytest.raises(ValueError, match="stream_window: the 'gru' agent keeps no token cache"):
        gru.for_evaluation(stream_window=64)


def test_engram_eval_streams_a_trained_memo_run_on_longer_trials(tmp_path):
    out = io.StringIO()
    console = Console(file=out, width=200)
    train(dark_key(tmp_path, agent="memo", eval_levels=1), console=console)
    run = tmp_path / "run"
    config = EvalConfig(
        str(run), levels=2, repetitions=1, trial_scale=2, stream_window=8, baseline=False
    )
    results = evaluate_run(config, console=console)
    saved = json.loads((run / "evaluation.json").read_text())
    # (8 - 4) // 2 = 2 summary sets of 2 tokens beside a segment of 4 steps.
    assert saved["stream_window"] == 8 and saved["max_context"] == 2 * 4
    agent = results["agent"]
    assert agent["trial_length"] == 24
    # Trials of 24 steps hold at least 6 episodes of at most 4 steps (the last one may be
    # cut by the trial's end, and is then not counted).
    count = agent["per_episode_index"]["count"]
    assert count[:5] == [2] * 5
    assert "by episode index within the trial" in out.getvalue()
