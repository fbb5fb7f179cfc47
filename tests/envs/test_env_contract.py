"""The environment protocol's contract, checked on every registered id: the functions jit
and trace once, the same key gives the same rollout and another key another, ``vmap``
equals one environment at a time, observations and actions stay in their spaces, and a bad
reset parameter is refused, naming it, before anything compiles.

One compiled program per id holds both the batched and the one-at-a-time rollout
(``vmap`` beside ``lax.map``), so the whole contract costs one compilation per id.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from rollouts import random_rollout

import engram
from engram.core.params import resolve

IDS = engram.registered_ids()
B, T = 3, 48  # environments, steps


@pytest.fixture(scope="module", params=IDS)
def contract(request):
    env, params = engram.make(request.param)
    traces: list[int] = []
    run = random_rollout(env, T, on_trace=lambda: traces.append(1))

    @jax.jit
    def both(keys, params):
        batched = jax.vmap(run, in_axes=(0, None))(keys, params)
        one_at_a_time = jax.lax.map(lambda k: run(k, params), keys)
        return batched, one_at_a_time

    keys = jax.random.split(jax.random.key(11), B)
    return env, params, both, keys, traces


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def test_vmap_equals_one_at_a_time(contract):
    _, params, both, keys, _ = contract
    batched, single = both(keys, params)
    for a, b in zip(_leaves(batched), _leaves(single), strict=True):
        np.testing.assert_array_equal(a, b)


def test_same_key_same_rollout_other_key_another_and_one_trace(contract):
    env, params, both, keys, traces = contract
    first, _ = both(keys, params)
    again, _ = both(keys, params)
    for a, b in zip(_leaves(first), _leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)
    other, _ = both(jax.random.split(jax.random.key(12), B), env.default_params())
    assert any(
        not np.array_equal(a, b) for a, b in zip(_leaves(first), _leaves(other), strict=True)
    )
    # Two traces: the vmapped and the mapped rollout, once, for all keys and params.
    assert len(traces) == 2


def test_observations_actions_and_signals_are_well_formed(contract):
    env, params, both, keys, _ = contract
    (first_obs, (obs, actions, reward, term, trunc, _)), _ = both(keys, params)
    for i in range(B):
        pick = lambda tree, i=i, t=None: jax.tree.map(  # noqa: E731
            lambda x: np.asarray(x[i] if t is None else x[i, t]), tree
        )
        assert env.observation_space.contains(pick(first_obs)), env.env_id
        for t in range(T):
            assert env.observation_space.contains(pick(obs, t=t)), (env.env_id, t)
            assert env.action_space.contains(pick(actions, t=t)), (env.env_id, t)
    assert reward.dtype == jnp.float32 and np.isfinite(np.asarray(reward)).all()
    assert term.dtype == jnp.bool_ and trunc.dtype == jnp.bool_


def _out_of_range(spec):
    """A value outside ``spec``'s allowed values, or None where every value is allowed."""
    if spec.kind == "bool":
        return "yes"
    bad = None
    if spec.high is not None:
        bad = spec.high + 1
    elif spec.low is not None:
        bad = spec.low - 1
    if bad is None:
        return None
    bad = int(bad) if spec.kind in ("int", "int_list") else float(bad)
    return [bad] if spec.kind == "int_list" else bad


@pytest.mark.parametrize("env_id", IDS)
def test_bad_reset_parameters_are_refused_by_name(env_id):
    specs = engram.reset_parameters(env_id)
    checked = 0
    for spec in specs:
        bad = _out_of_range(spec)
        if bad is None:
            continue
        with pytest.raises(ValueError, match=spec.name):
            engram.make(env_id, **{spec.name: bad})
        checked += 1
    assert checked or not specs
    with pytest.raises(ValueError, match="no_such_parameter"):
        engram.make(env_id, no_such_parameter=1)


#: The episode cap at default reset parameters of the ids whose time limit is the
#: ``max_steps`` reset parameter (memory-gym's defaults; the endless ids' -1: no limit).
MAX_STEPS_CAPS = {
    "MysteryPath-v0": 512,
    "MysteryPath-Grid-v0": 128,
    "SearingSpotlights-v0": 256,
    "Endless-MysteryPath-v0": None,
    "Endless-SearingSpotlights-v0": None,
    "Endless-MortarMayhem-v0": None,
}


@pytest.mark.parametrize("env_id", sorted(MAX_STEPS_CAPS))
def test_the_time_limit_is_the_episode_cap(env_id):
    """Where an id has ``max_steps``, an episode lasts at most that many steps, so that is
    the cap a memory window is checked against (host-side, nothing compiles)."""
    assert "max_steps" in [p.name for p in engram.reset_parameters(env_id)]
    env, _ = engram.make(env_id)
    assert env.episode_cap(resolve(env.reset_parameters, {})) == MAX_STEPS_CAPS[env_id]
    assert env.episode_cap(resolve(env.reset_parameters, {"max_steps": 37})) == 37


def _other_values(spec):
    """Allowed values other than the default, to try in turn."""
    if spec.kind == "bool":
        return [not spec.default]
    step = 1 if spec.kind == "int" else 0.1 * (abs(spec.default) or 1)
    candidates = [spec.low, spec.high, spec.default + step, spec.default - step]
    return [c for c in candidates if c is not None and c != spec.default]


#: Static parameters the original ignores for an id, so a new value builds the same
#: environment (memory-gym 1.0.2's grid controllers draw the agent at a fixed size).
IGNORED = {
    (env_id, "agent_scale")
    for env_id in ("MortarMayhem-Grid-v0", "MortarMayhemB-Grid-v0", "MysteryPath-Grid-v0")
}
#: Static parameters with a single accepted value: the original crashes with any other
#: (memory-gym 1.0.2; the messages of engram's refusals say how).
ONE_VALUE = {
    ("SearingSpotlights-v0", "use_exit"),
    ("Endless-SearingSpotlights-v0", "show_last_action"),
}


@pytest.mark.parametrize("env_id", IDS)
def test_static_parameters_build_another_environment_the_rest_are_params(env_id):
    """A ``static`` parameter fixes shapes or code paths: another value must build an
    environment with another ``static_key`` (the key the compiled programs are cached by;
    were it the same, the Gymnasium adapter would run the other value's program). Every
    other parameter reaches the programs as a params value under its own name."""
    specs = engram.reset_parameters(env_id)
    env, params = engram.make(env_id)
    names = set(params.names())
    assert {s.name for s in specs if not s.static} <= names
    assert not {s.name for s in specs if s.static} & names
    for spec in (s for s in specs if s.static):
        for value in _other_values(spec):
            try:
                other, _ = engram.make(env_id, **{spec.name: value})
            except ValueError:  # refused in combination with the other defaults
                continue
            same = other.static_key == env.static_key
            assert same == ((env_id, spec.name) in IGNORED), (spec.name, value)
            break
        else:
            assert (env_id, spec.name) in ONE_VALUE, f"{spec.name}: no other value accepted"
