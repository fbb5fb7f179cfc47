"""Long episodes of the endless ids by state surgery (the fast counterpart of
``benchmarks/long_episode.py``): the state of a fresh episode is given the step counter
and return of a very long one (10^8 steps, 100x the benchmark's; and the last 256 steps
before int32 runs out), then stepped with the benchmark's policy. The counter must
advance exactly, the return must add the rewards without float32 rounding, the agent must
stay in bounds, and the picture must equal the picture of the same state with a fresh
episode's counters. One compiled chunk per id."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import engram
from engram.core import dfloat

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "long_episode.py"
CHUNK = 256  # Mortar Mayhem's oracle is paid about every 206 steps


def _load():
    spec = importlib.util.spec_from_file_location("long_episode", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


long_episode = _load()


@pytest.fixture(scope="module", params=sorted(long_episode.TASKS))
def task(request):
    env_id = request.param
    over, policy = long_episode.TASKS[env_id]
    env, params = engram.make(env_id, **over)
    return env_id, env, params, long_episode.make_chunk(env, params, policy, CHUNK)


# A return that float32 cannot hold to 0.1: its spacing there is 1.0.
BIG_RETURN = 12_345_678.9


@pytest.mark.parametrize("t0", [10**8, 2**31 - 1 - CHUNK])
def test_counters_and_return_stay_exact_after_a_very_long_episode(task, t0):
    env_id, env, params, run = task
    _, state = env.reset(jax.random.key(1), params)
    # Warm up a chunk so the episode is under way (commands shown, spotlights spawned).
    state, rewards, ended = run(state, jax.random.key(2))
    assert not bool(ended)
    state = state.replace(
        t=jnp.asarray(t0, state.t.dtype),
        episode_return=dfloat.of(BIG_RETURN),
    )
    state, rewards, ended = run(state, jax.random.key(3))
    assert not bool(ended), f"{env_id}: the episode ended after the surgery"
    assert int(state.t) == t0 + CHUNK
    hi, lo = np.asarray(state.episode_return, np.float64)
    r = np.asarray(rewards, np.float64)
    assert np.abs(r).sum() > 0, "no reward in the chunk: the return check would be empty"
    # Each returned reward is the float64 reward rounded to float32 (2^-24 relative); a
    # double-float holds about 48 bits, so each addition may round by ~2^-48 of the
    # return (2^-44 leaves room): 2e-4 at most here. Accumulated in float32, the
    # return would not move at all (its spacing at 1.2e7 is 1.0): off by 0.26 or more.
    tolerance = 2.0**-24 * np.abs(r).sum() + (CHUNK + 1) * 2.0**-44 * BIG_RETURN
    assert abs((hi + lo) - (BIG_RETURN + r.sum())) <= tolerance
    assert long_episode.positions_ok(env_id, state), np.asarray(state.pos)
    frame = np.asarray(env.observe(state, params))
    fresh = np.asarray(env.observe(long_episode.fresh_counters(state), params))
    np.testing.assert_array_equal(frame, fresh)


def test_stamina_bar_table_is_quick_for_any_stamina_level():
    """Endless Mystery Path's stamina-bar table (the long episode's ``stamina_level`` is
    2^31 - 1): equal to trying every stamina in float64, as the original computes the bar,
    and built without a loop over the staminas (that loop took minutes near 2^31)."""
    from engram.envs.mystery_path.env import SCREEN, stamina_bar_round_down

    def every_stamina(level):
        out = np.zeros(SCREEN + 1, bool)
        for stamina in range(level + 1):
            if (SCREEN * (level - stamina)) % level == 0:
                n = SCREEN * (level - stamina) // level
                out[n] = int(SCREEN * (1 - stamina / level)) == n - 1
        return out

    levels = [*range(1, 400), 27 * 84, 2**12, 84 * 97 + 3]
    tables = {level: every_stamina(level) for level in levels}
    assert sum(t.any() for t in tables.values()) > 50  # the rounding case does occur
    for level, table in tables.items():
        np.testing.assert_array_equal(stamina_bar_round_down(level), table, err_msg=str(level))
    stamina_bar_round_down(2**31 - 1)  # returns at once
