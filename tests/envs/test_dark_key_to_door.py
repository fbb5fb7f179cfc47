"""DarkKeyToDoor-v0 and the trial machinery of engram.core.trials, against a plain-Python
reference of the rules (memo.md §4.1: AMAGO's RoomKeyDoor; the issue's trial inputs), plus
the protocol properties (task fixed within a trial, resampled between trials, determinism,
vmap = loop, bad input)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engram
from engram.core import AutoReset
from engram.envs.dark_key_to_door import distinct_cells

MOVES = {0: (0, -1), 1: (-1, 0), 2: (0, 1), 3: (1, 0), 4: (0, 0)}


class ReferenceTrial:
    """One trial of Dark-Key-To-Door written out step by step, with the in-context inputs
    (previous action one-hot, previous reward, episode-start flag, episode and trial time
    in units of the episode cap)."""

    def __init__(self, size, start, key, door, episode_length, trial_length):
        self.size, self.start, self.key, self.door = size, tuple(start), tuple(key), tuple(door)
        self.episode_length, self.trial_length = episode_length, trial_length
        self.t = self.episode_t = self.index = 0
        self.prev_action, self.prev_reward, self.trial_return = None, 0.0, 0.0
        self.new_episode()

    def new_episode(self):
        self.pos, self.has_key, self.episode_t, self.episode_return = self.start, False, 0, 0.0

    def obs(self):
        onehot = [0.0] * 5
        if self.prev_action is not None:
            onehot[self.prev_action] = 1.0
        return [
            self.pos[0] / self.size,
            self.pos[1] / self.size,
            float(self.has_key),
            *onehot,
            self.prev_reward,
            float(self.episode_t == 0),
            self.episode_t / self.episode_length,
            self.t / self.episode_length,
        ]

    def step(self, action):
        dx, dy = MOVES[action]
        x = min(max(self.pos[0] + dx, 0), self.size - 1)
        y = min(max(self.pos[1] + dy, 0), self.size - 1)
        self.pos = (x, y)
        reward = 0.0
        if self.pos == self.key and not self.has_key:
            self.has_key, reward = True, 1.0
        terminated = self.has_key and self.pos == self.door
        reward += float(terminated)
        self.t += 1
        self.episode_t += 1
        self.episode_return += reward
        self.trial_return += reward
        self.prev_action, self.prev_reward = action, reward
        trial_over = self.t == self.trial_length
        truncated = not terminated and (self.episode_t == self.episode_length or trial_over)
        info = {
            "episode_index": self.index,
            "episode_terminated": terminated,
            "episode_truncated": truncated,
            "episode_return": self.episode_return,
            "episode_length": self.episode_t,
            "success": terminated,
            "trial_return": self.trial_return,
            "trial_step": self.t,
        }
        final = self.obs()
        if (terminated or truncated) and not trial_over:
            self.index += 1
            self.new_episode()
        return self.obs(), final, reward, trial_over, info


def _make(**overrides):
    return engram.make("DarkKeyToDoor-v0", **overrides)


@settings(max_examples=20, deadline=None)
@given(
    size=st.integers(2, 5),
    episode_length=st.integers(1, 8),
    extra=st.integers(0, 12),
    actions=st.lists(st.integers(0, 4), min_size=30, max_size=30),
    seed=st.integers(0, 2**16),
)
def test_random_trials_follow_the_reference_rules(size, episode_length, extra, actions, seed):
    trial_length = episode_length + extra
    env, params = _make(room_size=size, episode_length=episode_length, trial_length=trial_length)
    obs, state = env.reset(jax.random.key(seed), params)
    task = jax.device_get(state.task)
    ref = ReferenceTrial(size, task.start, task.key, task.door, episode_length, trial_length)
    np.testing.assert_allclose(np.asarray(obs), ref.obs(), atol=1e-6)
    step = jax.jit(env.step)
    for i, a in enumerate(actions[:trial_length]):
        obs, state, r, term, trunc, info = step(jax.random.key(i), state, jnp.int32(a), params)
        ref_obs, ref_final, ref_r, ref_over, ref_info = ref.step(a)
        np.testing.assert_allclose(np.asarray(obs), ref_obs, atol=1e-6)
        np.testing.assert_allclose(np.asarray(info["episode_final_obs"]), ref_final, atol=1e-6)
        assert float(r) == ref_r
        assert not bool(term) and bool(trunc) == ref_over
        for k, v in ref_info.items():
            assert info[k] == pytest.approx(v), k
        if ref_over:
            break


def test_the_shortest_walk_collects_both_rewards_and_ends_the_episode():
    env, params = _make()
    _, state = env.reset(jax.random.key(3), params)
    task = jax.device_get(state.task)
    path = _walk(task.start, task.key) + _walk(task.key, task.door)
    step = jax.jit(env.step)
    rewards, ends = [], []
    for i, a in enumerate(path):
        _, state, r, _, _, info = step(jax.random.key(i), state, jnp.int32(a), params)
        rewards.append(float(r))
        ends.append(bool(info["episode_terminated"]))
    assert sum(rewards) == 2.0 and rewards[-1] == 1.0 and ends == [False] * (len(path) - 1) + [True]
    assert bool(info["success"]) and int(info["episode_index"]) == 0
    # The next episode starts at the start cell, without the key, in the same task.
    assert tuple(np.asarray(state.episode.pos)) == tuple(task.start)
    assert not bool(state.episode.has_key) and int(state.episode_index) == 1
    # Reaching the door without the key pays nothing and does not end the episode.
    _, fresh = env.reset(jax.random.key(3), params)
    for i, a in enumerate(_walk(task.start, task.door)):
        _, fresh, r, _, _, info = step(jax.random.key(i), fresh, jnp.int32(a), params)
        passes_key = tuple(np.asarray(fresh.episode.pos)) == tuple(task.key)
        assert passes_key or (float(r) == 0.0 and not bool(info["episode_terminated"]))


def _walk(a, b):
    """Actions from cell a to cell b: x first, then y."""
    dx, dy = int(b[0]) - int(a[0]), int(b[1]) - int(a[1])
    return [3 if dx > 0 else 1] * abs(dx) + [2 if dy > 0 else 0] * abs(dy)


def test_the_task_is_fixed_within_a_trial_and_resampled_between_trials():
    env, params = _make(episode_length=5, trial_length=20)
    wrapped = AutoReset(env)
    obs, state = wrapped.reset(jax.random.key(0), params)
    step = jax.jit(wrapped.step)
    tasks, indices = [], []
    for i in range(60):
        obs, state, _, _, trunc, info = step(jax.random.key(i), state, jnp.int32(i % 5), params)
        tasks.append(jax.device_get(state.task))
        indices.append(int(info["episode_index"]))
    for trial in range(3):
        ts = tasks[trial * 20 : trial * 20 + 19]  # the step after a trial's last is a new one
        assert all(
            np.array_equal(t.key, ts[0].key) and np.array_equal(t.door, ts[0].door) for t in ts
        )
    firsts = [tasks[19], tasks[39], tasks[59]]
    assert len({(tuple(t.start), tuple(t.key), tuple(t.door)) for t in firsts}) == 3
    # Episodes of at most 5 steps: at least 4 per trial, numbered from 0 in every trial.
    for trial in range(3):
        seen = indices[trial * 20 : trial * 20 + 20]
        assert seen[0] == 0 and seen == sorted(seen) and seen[-1] >= 3


def test_distinct_cells_are_distinct_and_uniform():
    draws = jax.vmap(lambda k: distinct_cells(k, 9, 3))(jax.random.split(jax.random.key(0), 9000))
    draws = np.asarray(draws)
    assert all(len(set(row)) == 3 for row in draws)
    assert draws.min() == 0 and draws.max() == 8
    for column in draws.T:  # each position uniform over the 9 cells: 1000 expected per cell
        counts = np.bincount(column, minlength=9)
        assert np.all(np.abs(counts - 1000) < 150), counts


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"room_size": 1}, "room_size"),
        ({"episode_length": 50, "trial_length": 49}, "trial_length"),
        ({"episode_length": 0}, "episode_length"),
    ],
)
def test_bad_reset_parameters_name_the_parameter(overrides, name):
    with pytest.raises(ValueError, match=name):
        _make(**overrides)


def test_spaces_and_frame():
    env, params = _make()
    obs, state = env.reset(jax.random.key(0), params)
    assert env.observation_space.shape == (3 + 5 + 4,) and obs.dtype == jnp.float32
    assert env.observation_space.contains(np.asarray(obs))
    img = np.asarray(env.frame(state, params))
    assert img.shape == (9 * env.CELL, 9 * env.CELL, 3) and img.dtype == np.uint8
    task = jax.device_get(state.task)
    x, y = (np.asarray(task.key) * env.CELL + env.CELL // 2).tolist()
    np.testing.assert_array_equal(img[y, x], [240, 210, 40])  # the key, drawn where it lies
    x, y = (np.asarray(task.start) * env.CELL + env.CELL // 2).tolist()
    np.testing.assert_array_equal(img[y, x], [255, 255, 255])  # the agent on the start cell
