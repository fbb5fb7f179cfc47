"""Trial tasks in the shared PPO and in evaluation: the memory resets at trial starts only,
advantages stop at every episode end inside a trial, and evaluation reports the in-context
curve by episode index, also for trials longer than in training."""

from __future__ import annotations

import io

import jax
import numpy as np
import pytest
from rich.console import Console

from engram.config import TrainConfig
from engram.eval import curve_table
from engram.evaluation import evaluate
from engram.ppo import Trainer, rollout

EPISODE, TRIAL = 3, 7


def _trainer(tmp_path) -> Trainer:
    config = TrainConfig(
        env="DarkKeyToDoor-v0",
        env_options=(f"episode_length={EPISODE}", f"trial_length={TRIAL}"),
        num_envs=2,
        num_steps=3 * TRIAL,
        num_minibatches=1,
        num_epochs=1,
        total_steps=6 * TRIAL,
        memory_hidden=8,
        hidden=8,
        run_dir=str(tmp_path),
    )
    return Trainer(config)


def test_memory_resets_at_trial_starts_and_advantages_stop_at_episode_ends(tmp_path):
    trainer = _trainer(tmp_path)
    ts = trainer.init(jax.random.key(0))
    _, traj, stats = jax.jit(lambda s: rollout(trainer.policy, s, trainer.config.rollout_steps))(ts)
    reset = np.asarray(traj["reset"])  # (T, B): the observation starts a memory episode
    t = np.arange(3 * TRIAL)
    np.testing.assert_array_equal(reset, np.repeat((t % TRIAL == 0)[:, None], 2, 1))
    ends = np.asarray(traj["terminated"] | traj["truncated"])
    for env in range(2):
        for trial in range(3):
            steps = np.flatnonzero(ends[trial * TRIAL : (trial + 1) * TRIAL, env])
            # An episode ends at least every EPISODE steps and at the trial's last step.
            assert steps[-1] == TRIAL - 1
            assert np.all(np.diff(np.concatenate([[-1], steps])) <= EPISODE)
    # An episode ends either by the task (no bootstrap) or by a time limit (bootstrapped).
    assert not np.any(np.asarray(traj["terminated"] & traj["truncated"]))
    assert int(stats["trials"]) == 6 and int(stats["episodes"]) == ends.sum()


def test_evaluation_reports_the_curve_by_episode_index_and_longer_trials(tmp_path):
    trainer = _trainer(tmp_path)
    params = trainer.init(jax.random.key(0)).params
    short = evaluate(trainer.policy, params, levels=4, seed=5, repetitions=2)
    long = evaluate(trainer.policy, params, levels=4, seed=5, repetitions=2, trial_scale=4)
    assert short["trial_length"] == TRIAL and long["trial_length"] == 4 * TRIAL
    assert short["lengths"] == [TRIAL] * 8 and long["lengths"] == [4 * TRIAL] * 8
    for result, trial in ((short, TRIAL), (long, 4 * TRIAL)):
        curve = result["per_episode_index"]
        # Every trial has at least trial // EPISODE whole episodes; the one cut by the
        # trial's end is left out.
        assert len(curve["count"]) >= trial // EPISODE
        assert curve["count"][0] == 8
        assert sum(curve["sums"]["return"]) <= sum(result["returns"]) + 1e-6
        for i, n in enumerate(curve["count"]):
            assert curve["mean_return"][i] == pytest.approx(curve["sums"]["return"][i] / n)
            assert 0.0 <= curve["success_rate"][i] <= 1.0
    out = io.StringIO()
    Console(file=out, width=200).print(curve_table({"agent": long, "random": None}, "DKTD"))
    assert "by episode index" in out.getvalue() and "return (agent)" in out.getvalue()
    with pytest.raises(ValueError, match="trial_scale"):
        evaluate(trainer.policy, params, levels=1, seed=0, trial_scale=0)
