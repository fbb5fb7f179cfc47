"""TMaze-v0 against the passive T-maze rules of Ni et al. 2023 (memo.md §4, §6): a
plain-Python reference of the rules replays random action sequences, plus the
functional-protocol properties (determinism, vmap = loop, bad input)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engram

FORWARD, UP, BACK, DOWN = 0, 1, 2, 3


class ReferenceTMaze:
    """The rules written out cell by cell: a set of valid cells, moves into anything else
    ignored, the cue in the first observation only, the goal reward on step L + 1."""

    def __init__(self, length, cue, goal_reward=1.0, penalty=-1.0):
        self.length, self.cue = length, cue
        self.goal_reward, self.penalty = goal_reward, penalty
        self.cells = {(x, 0) for x in range(length + 1)} | {(length, 1), (length, -1)}
        self.x = self.y = self.t = 0

    def obs(self, first=False):
        if self.x == self.length:
            return [1.0, float(self.y)]
        return [0.0, float(self.cue) if first else 0.0]

    def step(self, action):
        dx, dy = {FORWARD: (1, 0), UP: (0, 1), BACK: (-1, 0), DOWN: (0, -1)}[action]
        if (self.x + dx, self.y + dy) in self.cells:
            self.x, self.y = self.x + dx, self.y + dy
        self.t += 1
        done = self.t == self.length + 1
        if done:
            reward = self.goal_reward if self.y == self.cue else 0.0
        else:
            reward = self.penalty / self.length if self.x < self.t else 0.0
        return self.obs(), reward, done


def _episode(length, actions, seed=0, **overrides):
    env, params = engram.make("TMaze-v0", corridor_length=length, **overrides)
    obs, state = env.reset(jax.random.key(seed), params)
    out = [(np.asarray(obs), 0.0, False, None)]
    step = jax.jit(env.step)
    for a in actions:
        obs, state, r, term, trunc, info = step(None, state, jnp.int32(a), params)
        assert not bool(trunc)
        out.append((np.asarray(obs), float(r), bool(term), jax.device_get(info)))
        if term:
            break
    return int(state.cue), out


@settings(max_examples=25, deadline=None)
@given(
    length=st.integers(1, 6),
    actions=st.lists(st.integers(0, 3), min_size=7, max_size=7),
    seed=st.integers(0, 2**16),
)
def test_random_action_sequences_follow_the_reference_rules(length, actions, seed):
    cue, out = _episode(length, actions, seed, penalty=-0.5, goal_reward=2.0)
    ref = ReferenceTMaze(length, cue, goal_reward=2.0, penalty=-0.5)
    np.testing.assert_array_equal(out[0][0], ref.obs(first=True))
    assert len(out) == length + 2  # the reset, then exactly L + 1 steps
    total = 0.0
    for (obs, reward, term, info), action in zip(out[1:], actions, strict=False):
        ref_obs, ref_reward, ref_done = ref.step(action)
        total += ref_reward
        np.testing.assert_array_equal(obs, ref_obs)
        assert reward == pytest.approx(ref_reward, abs=1e-6)
        assert term == ref_done
        assert int(info["length"]) == ref.t
        assert float(info["reward"]) == pytest.approx(total, abs=1e-5)
    assert bool(out[-1][3]["success"]) == (ref.y == cue)


@pytest.mark.parametrize("cue_seed", range(4))
def test_the_optimal_walk_succeeds_and_a_still_agent_pays_the_whole_penalty(cue_seed):
    length = 5
    env, params = engram.make("TMaze-v0", corridor_length=length)
    _, state = env.reset(jax.random.key(cue_seed), params)
    turn = UP if int(state.cue) == 1 else DOWN
    _, out = _episode(length, [FORWARD] * length + [turn], cue_seed)
    assert [r for _, r, _, _ in out[1:]] == [0.0] * length + [1.0]
    assert bool(out[-1][3]["success"])
    # Standing still (walking back into the wall) costs penalty / L per step: -1 in all.
    _, still = _episode(length, [BACK] * (length + 1), cue_seed)
    assert sum(r for _, r, _, _ in still) == pytest.approx(-1.0 * length / length, abs=1e-6)
    assert not bool(still[-1][3]["success"])
    # The wrong side: no goal reward, no success.
    wrong = DOWN if turn == UP else UP
    _, miss = _episode(length, [FORWARD] * length + [wrong], cue_seed)
    assert miss[-1][1] == 0.0 and not bool(miss[-1][3]["success"])


def test_only_the_first_observation_tells_the_cues_apart():
    """Memory is needed: after the reset, every observation of the optimal walk is the same
    for both cues, up to the junction (inclusive)."""
    length = 4
    walks = {}
    for seed in range(16):
        cue, out = _episode(length, [FORWARD] * length, seed)
        walks[cue] = [o for o, _, _, _ in out]
    assert set(walks) == {-1, 1}
    assert walks[1][0][1] == 1.0 and walks[-1][0][1] == -1.0
    for a, b in zip(walks[1][1:], walks[-1][1:], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(walks[1][-1], [1.0, 0.0])  # the junction


def test_cues_are_balanced_and_reset_is_deterministic():
    env, params = engram.make("TMaze-v0")
    keys = jax.random.split(jax.random.key(0), 4000)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    assert abs(float(np.mean(np.asarray(state.cue) == 1)) - 0.5) < 0.03  # 4 std errors
    again, _ = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    np.testing.assert_array_equal(np.asarray(obs), np.asarray(again))


def test_a_corridor_of_ten_thousand_cells_runs_under_scan():
    length = 10_000
    env, params = engram.make("TMaze-v0", corridor_length=length)
    _, state = env.reset(jax.random.key(3), params)

    def walk(s, a):
        _, s, r, term, _, _ = env.step(None, s, a, params)
        return s, (r, term)

    turn = UP if int(state.cue) == 1 else DOWN
    actions = jnp.asarray([FORWARD] * length + [turn], jnp.int32)
    state, (rewards, term) = jax.lax.scan(walk, state, actions)
    assert float(rewards.sum()) == 1.0
    assert bool(term[-1]) and not bool(term[:-1].any())


@pytest.mark.parametrize(
    "overrides, name",
    [({"corridor_length": 0}, "corridor_length"), ({"penalty": 0.5}, "penalty")],
)
def test_bad_reset_parameters_name_the_parameter(overrides, name):
    with pytest.raises(ValueError, match=name):
        engram.make("TMaze-v0", **overrides)


def test_frame_draws_the_maze_agent_and_cued_goal():
    env, params = engram.make("TMaze-v0", corridor_length=3)
    _, state = env.reset(jax.random.key(0), params)
    img = np.asarray(env.frame(state, params))
    c = env.CELL
    assert img.shape == (3 * c, 4 * c, 3) and img.dtype == np.uint8
    assert (img[c, 0] == 255).all()  # the agent at (0, 0): middle row, first column
    cued_row = 0 if int(state.cue) == 1 else 2  # rows are y = +1, 0, -1
    assert img[cued_row * c, 3 * c, 1] == 200 and img[(2 - cued_row) * c, 3 * c, 0] == 200
    assert (img[0, 0] == 0).all()  # no cell above the corridor's start
