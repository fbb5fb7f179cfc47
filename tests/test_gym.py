"""The Gymnasium adapter: check_env, options, bad input, and the vector env."""

from __future__ import annotations

import warnings

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import engram
from engram.gym import GYMNASIUM_1

IDS = engram.registered_ids()


def make_vec(env_id: str, num_envs: int, **kwargs):
    """``gymnasium.make_vec`` of engram's batched env with next-step autoreset, on 1.x and
    on 0.29 (whose make_vec defaults to async and passes the custom env only
    ``vector_kwargs``)."""
    kwargs.setdefault("autoreset_mode", "NextStep")
    if GYMNASIUM_1:
        return gymnasium.make_vec(env_id, num_envs=num_envs, **kwargs)
    return gymnasium.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="custom", vector_kwargs=kwargs
    )


@pytest.mark.parametrize("env_id", IDS)
def test_check_env_without_warnings(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gymnasium.make(f"engram/{env_id}")
        check_env(env.unwrapped, skip_render_check=False)
        env.close()


def test_layout_is_standard_image():
    env = gymnasium.make("engram/MortarMayhem-v0")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (84, 84, 3) and obs.dtype == np.uint8
    assert env.observation_space.shape == (84, 84, 3)


def test_options_are_reset_parameters():
    env = gymnasium.make("engram/MortarMayhem-v0")
    env.reset(seed=1, options={"arena_size": 3, "command_count": [2]})
    # With 2 commands of 3 + 1 frames, the agent may move at step 8 (7 more display
    # frames after the reset frame), and the first check comes 18 steps later.
    for _t in range(1, 60):
        _, _, term, trunc, info = env.step(np.array([0, 0]))
        if term or trunc:
            break
    assert term and set(info) == {"reward", "length", "success", "commands_completed"}
    assert info["length"] >= 26


@pytest.mark.parametrize(
    "options, name",
    [
        ({"arena_size": 7}, "arena_size"),
        ({"allowed_commands": 3}, "allowed_commands"),
        ({"arena_sise": 5}, "arena_sise"),
        ({"command_count": []}, "command_count"),
    ],
)
def test_bad_options_name_the_parameter(options, name):
    env = gymnasium.make("engram/MortarMayhem-v0")
    with pytest.raises(ValueError, match=name):
        env.reset(seed=0, options=options)


@pytest.mark.parametrize("action", [[3, 0], [0, -1], [1], 5])
def test_bad_action_is_rejected(action):
    env = gymnasium.make("engram/MortarMayhem-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(np.asarray(action))


def test_unknown_id_lists_valid_ids():
    with pytest.raises(ValueError, match="MortarMayhem-v0"):
        engram.make("MortarMayhem-v9")


def test_make_vec_uses_the_batched_env():
    venv = make_vec("engram/MortarMayhem-Grid-v0", num_envs=8)
    assert type(venv.unwrapped).__name__ == "GymVectorEnv"
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (8, 84, 84, 3)
    rng = np.random.default_rng(0)
    ended = np.zeros(8, bool)
    for _ in range(60):
        obs, rew, term, trunc, info = venv.step(rng.integers(0, 4, 8))
        ended |= term
        if term.any():
            assert info["_length"].tolist() == term.tolist()
            assert np.all(info["length"][term] >= 46)  # first check at step 46
    assert ended.all()  # a random policy fails the first check
    venv.close()


@pytest.mark.parametrize(
    "env_id, options",
    [("MortarMayhem-Grid-v0", {}), ("MortarMayhem-v0", {}), ("MysteryPath-v0", {"max_steps": 30})],
)
def test_single_env_step_is_the_core_step(env_id, options):
    """``gym.make``'s step returns what the core environment's step returns from the same
    state and key, whether it runs as two programs (Mortar Mayhem's small state: rules,
    then picture) or as one (Mystery Path)."""
    env = gymnasium.make(f"engram/{env_id}", **options)
    adapter = env.unwrapped
    env.reset(seed=1)
    env.action_space.seed(1)
    assert adapter._runner.split_step == env_id.startswith("MortarMayhem")
    core, params = engram.make(env_id, **options)
    core_step = jax.jit(core.step)
    unpack = jax.jit(adapter._runner.carry.unpack)  # the adapter's (key, state)
    ended = 0
    for _ in range(80):
        key, state = unpack(adapter._carry)
        action = env.action_space.sample()
        obs, reward, terminated, truncated, _ = env.step(action)
        want = core_step(jax.random.split(key)[1], state, jnp.asarray(action, jnp.int32), params)
        assert np.array_equal(obs, np.asarray(want[0]))
        assert (reward, terminated, truncated) == (float(want[2]), bool(want[3]), bool(want[4]))
        if terminated or truncated:
            ended += 1
            env.reset()
    assert ended > 0  # the comparison crossed an episode's end


@pytest.mark.parametrize("env_id", [i for i in IDS if i.startswith("Endless-")])
def test_endless_reset_info_has_the_ground_truth_of_the_first_step(env_id):
    """The original's endless ids report ``ground_truth`` from reset on; the value has the
    shape of every step's and, for an agent that stands still on the first step of a
    Mortar Mayhem episode (frozen by the command display), the same value."""
    env = gymnasium.make(f"engram/{env_id}")
    _, info = env.reset(seed=3)
    gt = np.asarray(info["ground_truth"])
    _, _, _, _, step_info = env.step(env.action_space.sample() * 0)
    assert gt.shape == np.asarray(step_info["ground_truth"]).shape and gt.size > 0
    # Positions over the screen size: at least 0; Searing Spotlights' reset may put the
    # agent's centre up to 3 px past the edge (the original does not clamp it there).
    assert (gt >= 0).all() and (gt <= 87 / 84).all()
    if env_id == "Endless-MortarMayhem-v0":
        np.testing.assert_allclose(gt, step_info["ground_truth"], atol=1e-6)
    vec = make_vec(f"engram/{env_id}", num_envs=3)
    _, vinfo = vec.reset(seed=3)
    assert vinfo["ground_truth"].shape == (3, *gt.shape) and vinfo["_ground_truth"].all()


def test_action_bounds_agree_with_gymnasiums_contains():
    # action_array compares Discrete / MultiDiscrete bounds itself (speed); Gymnasium's
    # own contains is the reference, on values in, at and past every bound.
    from engram.gym.env import action_array

    rng = np.random.default_rng(0)
    spaces = [
        gymnasium.spaces.Discrete(4),
        gymnasium.spaces.Discrete(3, start=-1),
        gymnasium.spaces.MultiDiscrete([3, 3]),
        gymnasium.spaces.MultiDiscrete([2, 5], start=[1, -2]),
    ]
    for space in spaces:
        for _ in range(200):
            a = rng.integers(-4, 8, space.shape)
            try:
                got = action_array(a, space)
            except ValueError:
                got = None
            assert (got is not None) == space.contains(a.astype(space.dtype)), (space, a)
