"""Autoreset wrappers, checked with a counting environment (Gymnasium's idiom)."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import pytest
from flax import struct

from engram.core import (
    AutoReset,
    BatchAutoReset,
    Environment,
    NextStepAutoReset,
    autoreset_step_batch,
    next_step_autoreset_batch,
)
from engram.core.spaces import Box, Discrete


@struct.dataclass
class Count:
    t: jax.Array
    episode: jax.Array


class Counter(Environment):
    """obs = step count; terminates after 3 steps; carries an episode counter over."""

    env_id = "Counter-v0"
    observation_space = Box(0, 100, (), jnp.int32)
    action_space = Discrete(2)

    def make_params(self, rp):
        return None

    def reset(self, key, params):
        return jnp.int32(0), Count(jnp.int32(0), jnp.int32(0))

    def step(self, key, state, action, params):
        t = state.t + 1
        return t, Count(t, state.episode), jnp.float32(t), t == 3, jnp.asarray(False), {"t": t}

    def carry_over(self, old, new):
        return new.replace(episode=old.episode + 1)


def test_same_step_autoreset_returns_next_first_obs_and_final_obs():
    env = AutoReset(Counter())
    obs, s = env.reset(jax.random.key(0), None)
    seen = []
    for _ in range(7):
        obs, s, r, term, trunc, info = env.step(jax.random.key(1), s, 0, None)
        seen.append((int(obs), float(r), bool(term), int(info["final_obs"]), int(s.episode)))
    assert seen == [
        (1, 1.0, False, 1, 0),
        (2, 2.0, False, 2, 0),
        (0, 3.0, True, 3, 1),
        (1, 1.0, False, 1, 1),
        (2, 2.0, False, 2, 1),
        (0, 3.0, True, 3, 2),
        (1, 1.0, False, 1, 2),
    ]


class StateCounter(Counter):
    """Counter written as init_state / transition / observe (``observes_state``): the
    wrappers then choose the state first and draw one observation."""

    observes_state = True

    def init_state(self, key, params):
        return Count(jnp.int32(0), jnp.int32(0))

    def transition(self, key, state, action, params):
        t = state.t + 1
        return Count(t, state.episode), jnp.float32(t), t == 3, jnp.asarray(False), {"t": t}

    def observe(self, state, params):
        return state.t

    reset = Environment.reset
    step = Environment.step


@pytest.mark.parametrize("core", [Counter, StateCounter])
def test_next_step_autoreset_ignores_the_action_after_the_end(core):
    env = NextStepAutoReset(core())
    obs, s = env.reset(jax.random.key(0), None)
    seen = []
    for _ in range(5):
        obs, s, r, term, trunc, info = env.step(jax.random.key(1), s, 0, None)
        seen.append((int(obs), float(r), bool(term)))
    # step 3 ends with the terminal obs; step 4 is the reset (reward 0, not terminal).
    assert seen == [
        (1, 1.0, False),
        (2, 2.0, False),
        (3, 3.0, True),
        (0, 0.0, False),
        (1, 1.0, False),
    ]
    assert int(s.env_state.episode) == 1


class KeyedStart(Counter):
    """Like Counter, but each fresh episode starts at a random offset drawn from the key,
    so fresh episodes can be told apart; terminates when the step count reaches 3."""

    def reset(self, key, params):
        start = jax.random.randint(key, (), 100, 1_000_000)
        return start, Count(jnp.int32(0), start)

    def step(self, key, state, action, params):
        t = state.t + 1
        obs = state.episode + t
        return obs, Count(t, state.episode), jnp.float32(t), t == 3, jnp.asarray(False), {}

    def carry_over(self, old, new):
        return new


def _batch_run(num_resets, batch=6, steps=7):
    env = BatchAutoReset(KeyedStart(), num_resets)
    _, s = env.reset(jax.random.key(0), None, batch)
    out = []
    for i in range(steps):
        obs, s, r, term, trunc, info = env.step(jax.random.key(i), s, jnp.zeros(batch), None)
        out.append((obs, s, term, info["final_obs"]))
    return out


def test_batch_autoreset_restarts_finished_envs_like_autoreset():
    for obs, s, term, _ in _batch_run(None):
        # Finished envs show a fresh episode's first observation (its random start) and
        # their count restarts; the others continue.
        assert bool((s.t == jnp.where(term, 0, s.t)).all())
        assert bool((jnp.where(term, obs == s.episode, obs == s.episode + s.t)).all())
    # All envs finish together at steps 3 and 6: with one fresh episode per env they all
    # differ; with a single fresh episode per step they all share it.
    _, s_exact, term, _ = _batch_run(None)[2]
    assert bool(term.all()) and len(set(s_exact.episode.tolist())) == 6
    _, s_one, term, _ = _batch_run(1)[2]
    assert bool(term.all()) and len(set(s_one.episode.tolist())) == 1
    _, s_two, _, _ = _batch_run(2)[2]
    assert s_two.episode.tolist() == [s_two.episode[0].item(), s_two.episode[1].item()] * 3


def test_batch_autoreset_rejects_a_bad_pool_size():
    import pytest

    with pytest.raises(ValueError, match="num_resets: got 0"):
        BatchAutoReset(KeyedStart(), 0)


def _tree_equal(a, b) -> bool:
    return all(
        bool((x == y).all()) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def test_batch_level_autoreset_equals_vmapped_autoreset():
    """autoreset_step_batch gives exactly vmap(AutoReset.step): on steps where no env
    finished, where some did (different episode lengths) and with a carry_over."""
    import engram

    class ActionEnds(KeyedStart):
        """Action 1 ends the episode at once: environments finish on different steps."""

        def step(self, key, state, action, params):
            obs, nxt, r, term, trunc, info = super().step(key, state, action, params)
            return obs, nxt, r, term | (action == 1), trunc, info

    cases = [(Counter(), None, 6), (ActionEnds(), None, 8)]
    env, params = engram.make("DarkKeyToDoor-v0", episode_length=2, trial_length=5)
    cases.append((env, params, 12))
    for env, params, steps in cases:
        batch = 4
        keys = jax.random.split(jax.random.key(0), batch)
        obs, states = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
        ref_states = states
        vmapped = jax.jit(jax.vmap(AutoReset(env).step, in_axes=(0, 0, 0, None)))
        batched = jax.jit(lambda k, s, a, p, env=env: autoreset_step_batch(env, k, s, a, p))
        for t in range(steps):
            keys = jax.random.split(jax.random.key(t + 1), batch)
            actions = jax.random.randint(keys[0], (batch,), 0, env.action_space.n)
            want = vmapped(keys, ref_states, actions, params)
            got = batched(keys, states, actions, params)
            assert _tree_equal(got, want), (env, t)
            states, ref_states = got[1], want[1]


def test_batch_level_autoreset_of_state_rendered_envs_equals_vmapped_autoreset():
    """The same for Memory Gym ids (``observes_state``, one frame per step), in the
    same-step mode and the next-step mode (``next_step_autoreset_batch`` against
    ``vmap(NextStepAutoReset.step)``), with few resets drawn at a time
    (``max_resets=2``), so that steps with none, a few (written into their rows) and more
    (written ``max_resets`` rows at a time) all occur; Endless Mortar Mayhem and Mystery
    Path carry state over to the fresh episode (``carry_over``)."""
    import engram

    cases = [
        # episodes of random lengths (a wrong command ends one): 0, few or many end
        ("Endless-MortarMayhem-v0", dict(explosion_delay=[3], explosion_duration=[1])),
        # every episode ends on the same step (the time limit)
        ("MysteryPath-Grid-v0", dict(max_steps=5)),
    ]
    batch, max_resets = 8, 2
    seen = {AutoReset: set(), NextStepAutoReset: set()}
    modes = {AutoReset: autoreset_step_batch, NextStepAutoReset: next_step_autoreset_batch}
    for (env_id, options), wrapper in itertools.product(cases, modes):
        env, params = engram.make(env_id, **options)
        keys = jax.random.split(jax.random.key(0), batch)
        _, states = jax.vmap(wrapper(env).reset, in_axes=(0, None))(keys, params)
        ref_states = states
        vmapped = jax.jit(jax.vmap(wrapper(env).step, in_axes=(0, 0, 0, None)))
        batched = jax.jit(
            lambda k, s, a, p, env=env, f=modes[wrapper]: f(env, k, s, a, p, max_resets)
        )
        sample = jax.jit(jax.vmap(env.action_space.sample))
        for t in range(30):
            keys = jax.random.split(jax.random.key(t + 1), batch)
            actions = sample(jax.random.split(keys[0], batch))
            want = vmapped(keys, ref_states, actions, params)
            got = batched(keys, states, actions, params)
            assert _tree_equal(got, want), (env_id, wrapper.__name__, t)
            # Resets due this step: the same-step mode's finished environments, the
            # next-step mode's flagged ones.
            due = ref_states.needs_reset if wrapper is NextStepAutoReset else want[3] | want[4]
            count = int(due.sum())
            seen[wrapper].add(0 if count == 0 else 1 if count <= max_resets else 2)
            states, ref_states = got[1], want[1]
    assert seen == {AutoReset: {0, 1, 2}, NextStepAutoReset: {0, 1, 2}}
    with pytest.raises(ValueError, match="max_resets: got 0"):
        autoreset_step_batch(env, keys, states, actions, params, 0)
