"""Mortar Mayhem rules against the reference facts (memory-gym.md §1), and the
functional-protocol properties: determinism, vmap = loop, one trace, bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engram
from engram.core.words import RandomWords
from engram.envs.mortar_mayhem import COMMANDS

MM_IDS = [i for i in engram.registered_ids() if "MortarMayhem" in i]
DELTAS = np.array([d for _, d in COMMANDS])


def oracle_action(env, state, params):
    """Walk towards the target tile (continuous or grid locomotion)."""
    tile = np.asarray(env._tile_of(state.pos, params))
    target = np.asarray(state.target)
    if env.variant.grid:
        d = target - tile
        if not d.any():
            return jnp.int32(0)
        want = {(0, -1): 0, (-1, 0): 90, (0, 1): 180, (1, 0): 270}[
            (int(np.sign(d[0])), 0) if d[0] else (0, int(np.sign(d[1])))
        ]
        return jnp.int32(3 if int(state.rotation) == want else 1)
    centre = np.asarray(env._tile_center(jnp.asarray(target), params))
    d = centre - np.asarray(state.pos)
    if env.variant.endless:  # shortest way on the torus
        d = (d + 42) % 84 - 42
    a = [
        0 if abs(d[0]) < 2 else (1 if d[0] < 0 else 2),
        0 if abs(d[1]) < 2 else (1 if d[1] < 0 else 2),
    ]
    return jnp.asarray(a, jnp.int32)


def run_oracle(env_id, seed, max_steps=400, **overrides):
    env, params = engram.make(env_id, **overrides)
    step = jax.jit(env.step)
    key = jax.random.key(seed)
    obs, state = jax.jit(env.reset)(key, params)
    rewards, info = [], None
    for _ in range(max_steps):
        obs, state, r, term, trunc, info = step(
            key, state, oracle_action(env, state, params), params
        )
        rewards.append(float(r))
        if term or trunc:
            break
    return rewards, jax.device_get(info), state


@pytest.mark.parametrize(
    "env_id, length",
    [
        ("MortarMayhem-v0", 274),
        ("MortarMayhem-Grid-v0", 118),
        ("MortarMayhemB-Grid-v0", 79),
        ("MortarMayhemB-v0", 235),
    ],
)
def test_perfect_episode_length_and_return(env_id, length):
    # memory-gym.md §1: a perfect episode lasts 274 steps (grid 118, B-grid 79) with
    # return 1.0; B-v0 has no display, so 274 - 39 = 235.
    rewards, info, _ = run_oracle(env_id, seed=3)
    assert len(rewards) == length
    assert sum(rewards) == pytest.approx(1.0, abs=1e-5)
    assert info["success"] == 1 and info["commands_completed"] == pytest.approx(1.0)


def test_checks_happen_at_58_plus_24k():
    rewards, _, _ = run_oracle("MortarMayhem-v0", seed=0)
    paid = [t + 1 for t, r in enumerate(rewards) if r > 0]
    assert paid == [58 + 24 * k for k in range(10)]


def test_endless_round_timeline():
    # §1d: round 1's check at step 22; from round 2 on round n costs 4 + 24 n steps
    # (round 2's last check at 74).
    rewards, _, state = run_oracle("Endless-MortarMayhem-v0", seed=0, max_steps=200)
    paid = [t + 1 for t, r in enumerate(rewards) if r > 0]
    assert paid[:3] == [22, 50, 74]
    assert int(state.num_commands) >= 4


def test_failing_last_command_still_reports_success():
    # §1 quirk: failing the *last* check ends with success=1, commands_completed=1.0.
    env, params = engram.make("MortarMayhem-v0", command_count=[1])
    obs, state = env.reset(jax.random.key(0), params)
    state = state.replace(target=(env._tile_of(state.pos, params) + 1) % 5)
    info = None
    for _ in range(30):
        obs, state, r, term, trunc, info = env.step(None, state, jnp.zeros(2, jnp.int32), params)
        if term:
            break
    tile = env._tile_of(state.pos, params)
    assert not bool(jnp.all(tile == state.target))
    assert int(info["success"]) == 1 and float(info["commands_completed"]) == 1.0


def test_commands_stay_inside_the_arena():
    env, params = engram.make("MortarMayhem-v0", arena_size=2, allowed_commands=9)
    keys = jax.random.split(jax.random.key(1), 256)
    _, states = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    tile = np.asarray(jax.vmap(lambda s: env._tile_of(s.pos, params))(states))
    path = tile[:, None, :] + np.cumsum(DELTAS[np.asarray(states.commands)], axis=1)
    assert path.min() >= 0 and path.max() <= 1


@pytest.mark.parametrize(
    "overrides, name",
    [
        ({"arena_size": 7}, "arena_size"),
        ({"allowed_commands": 3}, "allowed_commands"),
        ({"command_counts": [3]}, "command_counts"),
        ({"explosion_delay": [0]}, "explosion_delay"),
        ({"visual_feedback": "yes"}, "visual_feedback"),
    ],
)
def test_bad_reset_parameters_raise_before_compiling(overrides, name):
    with pytest.raises(ValueError, match=name):
        engram.make("MortarMayhem-v0", **overrides)


def test_act_variant_limits_command_count_to_20():
    with pytest.raises(ValueError, match="command_count"):
        engram.make("MortarMayhemB-v0", command_count=[21])


@settings(max_examples=25, deadline=None)
@given(size=st.integers(2, 6), seed=st.integers(0, 2**16))
def test_spawn_is_a_tile_centre_inside_the_arena(size, seed):
    env, params = engram.make("MortarMayhem-v0", arena_size=size)
    _, state = env.reset(jax.random.key(seed), params)
    left = 42 - 7 * size
    x, y = np.asarray(state.pos)
    assert (x - left) % 14 == 7 and (y - left) % 14 == 7
    assert left <= x < left + 14 * size and left <= y < left + 14 * size


@pytest.mark.parametrize("arena_size, allowed", [(2, 9), (3, 5), (6, 9), (4, 4)])
def test_command_sampling_follows_the_valid_command_rule(arena_size, allowed):
    # The original's rule (_get_valid_commands then a uniform choice), written here with
    # NumPy lists: from the simulated tile, the options are the first `allowed_commands`
    # commands whose target stays inside the arena; a uniform number u in [0, 1) picks the
    # int(u * count)-th of them. engram's u is jax.random.uniform's map of one random word
    # (its top 23 bits as the mantissa of a float in [1, 2), minus 1).
    env, params = engram.make("MortarMayhem-v0", arena_size=arena_size, allowed_commands=allowed)
    n = env.variant.max_commands
    sample = jax.jit(jax.vmap(lambda w, t: env._sample_commands(RandomWords(w), t, params)))
    words = np.asarray(jax.random.bits(jax.random.key(7), (200, n), jnp.uint32))
    tiles = np.asarray(jax.random.randint(jax.random.key(8), (200, 2), 0, arena_size))
    got = np.asarray(sample(jnp.asarray(words), jnp.asarray(tiles, jnp.int32)))
    for w, tile, commands in zip(words, tiles, got, strict=True):
        u = ((w >> 9) | np.uint32(0x3F800000)).view(np.float32) - np.float32(1)
        pos, want = tile.copy(), []
        for k in range(n):
            options = [
                j
                for j in range(allowed)
                if all(0 <= pos[a] + DELTAS[j][a] < arena_size for a in (0, 1))
            ]
            cmd = options[min(int(u[k] * len(options)), len(options) - 1)]
            pos = pos + DELTAS[cmd]
            want.append(cmd)
        assert commands.tolist() == want
