"""Reset parameters as the compiled programs read them (:mod:`engram.core.params`): one
array per parameter by its kind, static ones left to the environment, a pytree that jits,
vmaps and pickles, and clear errors for names that are not there."""

from __future__ import annotations

import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from engram.core.params import ResetParameter, resolve, static_values, to_params

SPECS = (
    ResetParameter("max_steps", 512, "int", 1, None),
    ResetParameter("choices", [0, 1, 2, 3], "int_list", 0, 3),
    ResetParameter("agent_speed", 3.0, "float", 0.0, 84.0),
    ResetParameter("visual_feedback", True, "bool"),
    ResetParameter("reward_goal", 0.1, "float", double=True),
    ResetParameter("agent_scale", 0.25, "float", 0.05, 1.0, static=True),
)


def test_each_parameter_becomes_one_array_of_its_kind():
    values = resolve(SPECS, {"choices": [2, 3], "agent_speed": 4})
    params = to_params(SPECS, values)
    assert params.names() == (
        "agent_speed",
        "choices",
        "max_steps",
        "reward_goal",
        "visual_feedback",
    )
    assert params.max_steps.dtype == jnp.int32 and params.max_steps.shape == ()
    assert int(params.max_steps) == 512
    assert params.choices.dtype == jnp.int32 and params.choices.tolist() == [2, 3]
    assert params.agent_speed.dtype == jnp.float32 and float(params.agent_speed) == 4.0
    assert params.visual_feedback.dtype == jnp.bool_ and bool(params.visual_feedback)
    # A double-float: two float32 whose exact sum is 0.1 in float64 to ~48 bits.
    hi, lo = np.asarray(params.reward_goal, np.float64)
    assert params.reward_goal.shape == (2,) and hi == np.float32(0.1)
    assert abs((hi + lo) - 0.1) < 1e-14 < abs(hi - 0.1)
    # Static parameters fix shapes: the factory reads them, the params do not hold them.
    assert static_values(SPECS, values) == {"agent_scale": 0.25}
    with pytest.raises(AttributeError, match="'agent_scale'.*agent_speed"):
        _ = params.agent_scale


def test_derived_values_are_added_and_can_replace_a_parameter():
    values = resolve(SPECS, {})
    params = to_params(SPECS, values, table=jnp.arange(3), max_steps=jnp.int32(-1))
    assert params.table.tolist() == [0, 1, 2] and int(params.max_steps) == -1
    # The structure depends on the names only, not on the order they were given in.
    other = to_params(tuple(reversed(SPECS)), values, max_steps=jnp.int32(7), table=jnp.zeros(3))
    assert jax.tree.structure(params) == jax.tree.structure(other)


def test_params_are_a_pytree_that_jits_vmaps_and_pickles():
    params = to_params(SPECS, resolve(SPECS, {}))
    assert int(jax.jit(lambda p: p.max_steps + 1)(params)) == 513
    stacked = jax.tree.map(lambda x: jnp.stack([x, x + 1]), params)
    assert jax.vmap(lambda p: p.max_steps)(stacked).tolist() == [512, 513]
    back = pickle.loads(pickle.dumps(params))
    assert back.names() == params.names() and int(back.max_steps) == 512
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
    assert ".max_steps" in paths


def test_replace_changes_values_and_refuses_unknown_names():
    params = to_params(SPECS, resolve(SPECS, {}))
    assert int(params.replace(max_steps=jnp.int32(3)).max_steps) == 3
    assert int(params.max_steps) == 512  # a copy
    with pytest.raises(ValueError, match="max_step"):
        params.replace(max_step=jnp.int32(3))


def test_a_malformed_declaration_is_refused():
    with pytest.raises(ValueError, match="'x'.*'text'"):
        ResetParameter("x", "a", "text")
    with pytest.raises(ValueError, match="'x'.*double"):
        ResetParameter("x", 1, "int", double=True)
