"""What clients of the original ``memory-gym`` touch, checked against facts measured on the
original (memory-gym 1.0.2, gymnasium 0.29.0, ``/work/mg/bin/python``): render modes,
``max_episode_steps``, info keys, the action forms it acts on; and the vector adapter's
autoreset modes against Gymnasium's own ``SyncVectorEnv``.

Runs under Gymnasium 1.x and 0.29 (CI runs this file in a second venv with 0.29.1).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import gymnasium
import jax
import numpy as np
import pytest

import engram
from engram.gym import GYMNASIUM_1, AutoresetMode, GymEnv

MEMORY_GYM_IDS = [
    "MortarMayhem-v0",
    "MortarMayhem-Grid-v0",
    "MortarMayhemB-v0",
    "MortarMayhemB-Grid-v0",
    "Endless-MortarMayhem-v0",
    "MysteryPath-v0",
    "MysteryPath-Grid-v0",
    "Endless-MysteryPath-v0",
    "SearingSpotlights-v0",
    "Endless-SearingSpotlights-v0",
]

# The original's env.unwrapped.max_episode_steps after reset(seed=0) with default reset
# parameters (the original has no such attribute before the first reset).
ORIGINAL_MAX_EPISODE_STEPS = {
    "MortarMayhem-v0": 275,
    "MortarMayhem-Grid-v0": 119,
    "MortarMayhemB-v0": 235,
    "MortarMayhemB-Grid-v0": 79,
    "Endless-MortarMayhem-v0": -1,
    "MysteryPath-v0": 512,
    "MysteryPath-Grid-v0": 128,
    "Endless-MysteryPath-v0": -1,
    "SearingSpotlights-v0": 256,
    "Endless-SearingSpotlights-v0": -1,
}

# ... and after reset(options=...).
ORIGINAL_MAX_EPISODE_STEPS_WITH_OPTIONS = [
    ("MortarMayhem-v0", {"command_count": [3, 7], "explosion_delay": [5, 8]}, 121),
    ("MortarMayhemB-Grid-v0", {"command_count": [2]}, 15),
    ("MysteryPath-v0", {"max_steps": 300}, 300),
    ("Endless-MortarMayhem-v0", {"max_steps": 500}, 500),
    ("MortarMayhem-Grid-v0", {"command_show_duration": [2], "command_show_delay": [2]}, 119),
]

# The original's info keys: at reset and on ordinary steps (the same), and on the last
# step of an episode, with the Python type of each value (a random episode of each id).
ORIGINAL_INFO = {
    "MortarMayhem-v0": ((), {"reward": float, "length": int, "success": int,
                             "commands_completed": float}),
    "MortarMayhem-Grid-v0": ((), {"reward": float, "length": int, "success": int,
                                  "commands_completed": float}),
    "MortarMayhemB-v0": ((), {"reward": float, "length": int, "success": int,
                              "commands_completed": float}),
    "MortarMayhemB-Grid-v0": ((), {"reward": float, "length": int, "success": int,
                                   "commands_completed": float}),
    "Endless-MortarMayhem-v0": (("ground_truth",), {
        "reward": float, "length": int, "commands_completed": int,
        "max_command_sequence": int, "ground_truth": np.ndarray}),
    "MysteryPath-v0": ((), {"reward": float, "length": int, "success": int,
                            "num_fails": int}),
    "MysteryPath-Grid-v0": ((), {"reward": float, "length": int, "success": int,
                                 "num_fails": int}),
    "Endless-MysteryPath-v0": (("ground_truth",), {
        "reward": float, "length": int, "num_fails": int, "max_x": int,
        "tiles_visited": int, "ground_truth": np.ndarray}),
    "SearingSpotlights-v0": ((), {"reward": float, "length": int, "agent_health": float,
                                  "coins_collected": float, "success": int}),
    "Endless-SearingSpotlights-v0": (("ground_truth",), {
        "reward": float, "length": int, "agent_health": float, "coins_collected": int,
        "ground_truth": np.ndarray}),
}  # fmt: skip


def _attr(env, name):
    """An attribute of the innermost env through Gymnasium's wrappers, the way a client
    of each version reads it (0.29 forwards ``env.name``; 1.x has get_wrapper_attr)."""
    return env.get_wrapper_attr(name) if GYMNASIUM_1 else getattr(env, name)


# ------------------------------------------------------------ max_episode_steps, info


@pytest.mark.parametrize("env_id", MEMORY_GYM_IDS)
def test_max_episode_steps_and_ground_truth_flag_are_the_originals(env_id):
    env = gymnasium.make(f"engram/{env_id}")
    assert _attr(env, "max_episode_steps") == ORIGINAL_MAX_EPISODE_STEPS[env_id]
    # As in the original, the spec has no max_episode_steps (so gymnasium.make adds no
    # TimeLimit, and CleanRL's ppo_trxl reads the attribute after a reset).
    assert env.spec.max_episode_steps is None
    assert _attr(env, "has_ground_truth_info") is env_id.startswith("Endless-")


@pytest.mark.parametrize("env_id, options, expected", ORIGINAL_MAX_EPISODE_STEPS_WITH_OPTIONS)
def test_max_episode_steps_follows_reset_options(env_id, options, expected):
    env = GymEnv(env_id)
    env._maybe_rebuild(options)  # what reset(options=...) does before the episode
    assert env.max_episode_steps == expected


@pytest.mark.parametrize("env_id", MEMORY_GYM_IDS)
def test_info_keys_are_the_originals(env_id):
    every, at_end = ORIGINAL_INFO[env_id]
    env = GymEnv(env_id)
    assert tuple(env._env.info_every_step) == every
    assert set(env._env.info_at_end) == set(at_end)


@pytest.mark.parametrize("env_id", ["MortarMayhem-Grid-v0", "Endless-MortarMayhem-v0"])
def test_info_values_have_the_originals_types(env_id):
    every, at_end = ORIGINAL_INFO[env_id]
    env = gymnasium.make(f"engram/{env_id}")
    env.action_space.seed(0)
    _, info = env.reset(seed=0)
    assert set(info) == set(every)
    for _ in range(2000):
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert isinstance(reward, float)
        if terminated or truncated:
            break
        assert set(info) == set(every)
    assert terminated or truncated
    assert set(info) == set(at_end)
    for key, kind in at_end.items():
        assert isinstance(info[key], kind), (key, type(info[key]))


# ------------------------------------------------------------------- render modes


@pytest.mark.parametrize("env_id", ["MysteryPath-v0", "SearingSpotlights-v0"])
def test_debug_rgb_array_is_the_originals_size_and_shows_more(env_id):
    """The original's debug_rgb_array: uint8 (336, 336, 3), its 84 x 84 debug surface
    with every pixel repeated 4 x 4 (checked on all ten ids), and rgb_array is the
    observation in (H, W) layout. The debug view shows what the agent must remember, so
    it differs from the observation (Mystery Path's path, the Spotlights' hidden coin)."""
    env = gymnasium.make(f"engram/{env_id}", render_mode="debug_rgb_array")
    assert "debug_rgb_array" in env.metadata["render_modes"]
    obs, _ = env.reset(seed=0)
    for _ in range(10):  # past Searing Spotlights' lights-out phase
        obs, *_ = env.step(env.action_space.sample() * 0)
    frame = env.render()
    assert frame.shape == (336, 336, 3) and frame.dtype == np.uint8
    small = frame[::4, ::4]
    np.testing.assert_array_equal(frame, np.repeat(np.repeat(small, 4, 0), 4, 1))
    assert not np.array_equal(small, obs)
    rgb = gymnasium.make(f"engram/{env_id}", render_mode="rgb_array")
    obs, _ = rgb.reset(seed=0)
    np.testing.assert_array_equal(rgb.render(), obs)


def test_human_render_mode_is_gymnasiums_window_and_others_are_refused():
    # gymnasium.make turns "human" into its HumanRendering wrapper over "rgb_array".
    env = gymnasium.make("engram/MortarMayhem-v0", render_mode="human")
    assert isinstance(env, gymnasium.wrappers.HumanRendering)
    assert env.unwrapped.render_mode == "rgb_array"
    with pytest.raises(ValueError, match="render_mode: got 'human'.*HumanRendering"):
        GymEnv("MortarMayhem-v0", render_mode="human")
    with pytest.raises(ValueError, match="render_mode.*debug_rgb_array"):
        gymnasium.make("engram/TMaze-v0", render_mode="debug_rgb_array")


# -------------------------------------------------------------------- action forms


def _obs_after(env_id, action):
    env = GymEnv(env_id)
    env.reset(seed=5)
    obs, *_ = env.step(action)
    return obs


# On the original, each of these forms moves the agent as the plain action does (Mystery
# Path's agent can move from the first step): the Discrete(4) grid id takes any
# one-element action; the MultiDiscrete([3, 3]) id any length-2 sequence of numbers.
DISCRETE_FORMS = [np.int64(1), np.int8(1), np.array(1), np.array([1]), np.array([[1]]), 1.0,
                  np.array([1.0])]  # fmt: skip
MULTI_FORMS = [[1, 2], (1, 2), np.array([1, 2], np.int8), np.array([1.0, 2.0])]


def test_action_forms_the_original_acts_on():
    moved = _obs_after("MysteryPath-Grid-v0", 1)
    assert not np.array_equal(moved, _obs_after("MysteryPath-Grid-v0", 0))
    for form in DISCRETE_FORMS:
        np.testing.assert_array_equal(_obs_after("MysteryPath-Grid-v0", form), moved)
    moved = _obs_after("MysteryPath-v0", np.array([1, 2]))
    assert not np.array_equal(moved, _obs_after("MysteryPath-v0", np.array([0, 0])))
    for form in MULTI_FORMS:
        np.testing.assert_array_equal(_obs_after("MysteryPath-v0", form), moved)


@pytest.mark.parametrize(
    "env_id, action",
    [
        # the original raises on these too
        ("MysteryPath-Grid-v0", np.array([3, 0])),
        ("MysteryPath-v0", np.array([[1, 2]])),
        ("MysteryPath-v0", [1]),
        ("MysteryPath-v0", 7),
        # the original ignores the third entry / acts on True as 1 / on 1.5 not at all
        ("MysteryPath-v0", np.array([1, 2, 0])),
        ("MysteryPath-Grid-v0", True),
        ("MysteryPath-Grid-v0", 1.5),
        ("MysteryPath-Grid-v0", 4),
    ],
)
def test_other_actions_are_refused(env_id, action):
    env = GymEnv(env_id)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action: got"):
        env.step(action)


# ------------------------------------------------------------ vector autoreset modes


def _sync_reference(env_id, num_envs, same_step):
    """Gymnasium's own SyncVectorEnv over engram's single env, in the same mode."""
    fns = [lambda: gymnasium.make(f"engram/{env_id}")] * num_envs
    if not GYMNASIUM_1:
        assert same_step  # 0.29's SyncVectorEnv has only same-step autoreset
        return gymnasium.vector.SyncVectorEnv(fns)
    mode = AutoresetMode.SAME_STEP if same_step else AutoresetMode.NEXT_STEP
    return gymnasium.vector.SyncVectorEnv(fns, autoreset_mode=mode)


def _native(env_id, num_envs, mode):
    if GYMNASIUM_1:
        return gymnasium.make_vec(f"engram/{env_id}", num_envs=num_envs, autoreset_mode=mode)
    # Gymnasium 0.29's make_vec passes the custom vector env only vector_kwargs.
    return gymnasium.make_vec(
        f"engram/{env_id}",
        num_envs=num_envs,
        vectorization_mode="custom",
        vector_kwargs={"autoreset_mode": mode},
    )


def _first_end(venv, rng, num_envs, steps=200):
    venv.reset(seed=0)
    for _ in range(steps):
        out = venv.step(rng.integers(0, 4, num_envs))
        if (out[2] | out[3]).any():
            return out
    raise AssertionError("no episode ended")


def _structure(info):
    """Keys, and for each value its kind (dict / object array / array) and for object
    arrays the keys of the dicts they hold."""
    out = {}
    for key, value in info.items():
        if isinstance(value, dict):
            out[key] = ("dict", _structure(value))
        elif value.dtype == object:
            inner = [v for v in value if v is not None]
            kind = sorted(inner[0]) if isinstance(inner[0], dict) else type(inner[0]).__name__
            out[key] = ("object", str(kind))
        else:
            out[key] = ("array", value.shape[0])
    return out


@pytest.mark.parametrize("same_step", [True, False] if GYMNASIUM_1 else [True])
def test_native_vector_info_has_the_layout_of_gymnasiums_sync_vector_env(same_step):
    mode = AutoresetMode.SAME_STEP if same_step else AutoresetMode.NEXT_STEP
    native = _native("MortarMayhem-Grid-v0", 3, mode)
    assert native.metadata["autoreset_mode"] == mode
    reference = _sync_reference("MortarMayhem-Grid-v0", 3, same_step)
    obs_n, _, term_n, trunc_n, info_n = _first_end(native, np.random.default_rng(0), 3)
    obs_r, _, term_r, trunc_r, info_r = _first_end(reference, np.random.default_rng(0), 3)
    done_n, done_r = term_n | trunc_n, term_r | trunc_r
    # Which copies end differs (different episodes); the layout does not, and every mask
    # marks the copies that ended (Mortar Mayhem has no every-step info keys).
    assert _structure(info_n) == _structure(info_r)
    for info, done in ((info_n, done_n), (info_r, done_r)):
        masks = [(k, v) for k, v in info.items() if k.startswith("_")]
        if isinstance(info.get("final_info"), dict):  # 1.x: a dict of arrays and masks
            masks += [(k, v) for k, v in info["final_info"].items() if k.startswith("_")]
        assert masks and all(v.tolist() == done.tolist() for _, v in masks)
    if same_step:
        final = "final_obs" if GYMNASIUM_1 else "final_observation"
        for i in np.flatnonzero(done_n):
            # the step returned the next episode's first frame, the last one is in info
            assert not np.array_equal(info_n[final][i], obs_n[i])


def test_same_step_loses_no_step_and_next_step_one_per_episode():
    """SAME_STEP: every action is played in some episode, so the lengths of the ended
    episodes plus the steps of the running ones add up to the steps taken. NEXT_STEP:
    each ended episode costs one more step (the reset step ignores its action)."""
    num_envs, steps = 4, 150
    modes = [AutoresetMode.SAME_STEP] + ([AutoresetMode.NEXT_STEP] if GYMNASIUM_1 else [])
    for mode in modes:
        venv = _native("MortarMayhem-Grid-v0", num_envs, mode)
        venv.reset(seed=1)
        rng = np.random.default_rng(1)
        ended = np.zeros(num_envs, int)
        played = np.zeros(num_envs, int)  # steps of ended episodes
        since = np.zeros(num_envs, int)  # steps since the last episode ended
        for _ in range(steps):
            _, _, term, trunc, info = venv.step(rng.integers(0, 4, num_envs))
            since += 1
            done = term | trunc
            if done.any():
                if mode == AutoresetMode.SAME_STEP:
                    final = info["final_info"]
                    lengths = (
                        final["length"] if GYMNASIUM_1 else [d["length"] if d else 0 for d in final]
                    )
                else:
                    lengths = info["length"]
                played[done] += np.asarray(lengths)[done]
                ended[done] += 1
                since[done] = 0
        assert ended.sum() >= num_envs  # a random policy fails the first check (step 46)
        if mode == AutoresetMode.SAME_STEP:
            assert (played + since == steps).all(), (played, since)
        else:  # one reset step after each ended episode (the last one's is in `since`)
            assert (played + np.maximum(ended - 1, 0) + since == steps).all(), (played, since)


@pytest.mark.parametrize("mode", ["Disabled", "bogus", 3])
def test_bad_autoreset_mode_is_refused(mode):
    with pytest.raises(ValueError, match="autoreset_mode: got"):
        engram.gym.GymVectorEnv("MortarMayhem-Grid-v0", num_envs=2, autoreset_mode=mode)


def test_vector_actions_as_sync_vector_env_takes_them():
    """CleanRL's ppo_trxl sends Discrete actions as (N, 1) int64; SyncVectorEnv over the
    original accepts them (each copy gets a one-element action)."""
    venv = _native("MortarMayhem-Grid-v0", 2, AutoresetMode.SAME_STEP)
    venv.reset(seed=0)
    venv.step(np.array([[1], [3]], np.int64))
    venv.step(np.array([1.0, 2.0]))
    for bad in [np.array([[1, 2], [3, 0]]), np.array([1, 4]), np.array([0.5, 1])]:
        with pytest.raises(ValueError, match="actions: got"):
            venv.step(bad)


# ---------------------------------------------------------------- option changes


def test_option_changes_compile_once_per_static_configuration():
    """Coming back to reset options seen before compiles nothing: the compiled programs
    are cached by static configuration (counted with JAX's compile events)."""
    compiles = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(duration)

    env = gymnasium.make("engram/MortarMayhem-Grid-v0")
    a, b = {"command_count": [3]}, {"command_count": [5], "arena_size": 4}
    for options in (a, b, a, b):  # warm up: each configuration once, and eager ops
        env.reset(seed=0, options=options)
        env.step(0)
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        for options in (a, b) * 3:
            env.reset(seed=0, options=options)
            env.step(0)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiles == []


# ------------------------------------------------------------- async vector envs


def _run(code: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,  # a hang fails the test instead of the run
    )


def test_async_vector_env_with_fork_is_refused_at_once():
    result = _run(
        """
        import time, gymnasium, engram
        start = time.time()
        try:
            gymnasium.make_vec("engram/MortarMayhem-Grid-v0", num_envs=2,
                               vectorization_mode="async", vector_kwargs={"context": "fork"})
        except RuntimeError as e:
            print("refused", time.time() - start, e)
        """
    )
    assert "refused" in result.stdout, result.stderr[-2000:]
    assert "context" in result.stdout and "spawn" in result.stdout
    assert float(result.stdout.split()[1]) < 60


def test_process_forked_after_jax_refuses_to_build_an_env():
    result = _run(
        """
        import multiprocessing, gymnasium, engram
        gymnasium.make("engram/MortarMayhem-Grid-v0").reset(seed=0)  # JAX has started

        def child(queue):
            try:
                gymnasium.make("engram/MortarMayhem-Grid-v0")
                queue.put("built")
            except RuntimeError as e:
                queue.put(f"refused: {e}")

        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        process = ctx.Process(target=child, args=(queue,))
        process.start()
        print(queue.get(timeout=120))
        process.join()
        """
    )
    assert "refused: " in result.stdout and "forked after JAX" in result.stdout, (
        result.stdout + result.stderr[-2000:]
    )


def test_async_vector_env_with_spawn_works():
    result = _run(
        """
        import numpy as np, gymnasium, engram

        if __name__ == "__main__":
            venv = gymnasium.make_vec(
                "engram/MortarMayhem-Grid-v0", num_envs=1, vectorization_mode="async",
                vector_kwargs={"context": "spawn"})
            obs, _ = venv.reset(seed=0)
            obs, reward, *_ = venv.step(np.array([1]))
            venv.close()
            print("stepped", obs.shape)
        """
    )
    assert "stepped (1, 84, 84, 3)" in result.stdout, result.stderr[-2000:]


# -------------------------------------------------------------- registration


def test_plugin_lists_every_engram_id():
    import engram_gymnasium

    assert list(engram_gymnasium.IDS) == engram.registered_ids()


def test_make_without_import_engram():
    """Gymnasium 0.29 loads engram's plugin on `import gymnasium` (without importing JAX);
    1.x has no plugins, and the id with its module prefix imports engram."""
    env_id = (
        "engram/MortarMayhem-Grid-v0" if not GYMNASIUM_1 else "engram:engram/MortarMayhem-Grid-v0"
    )
    result = _run(
        f"""
        import sys, gymnasium
        print("jax after import gymnasium:", "jax" in sys.modules)
        env = gymnasium.make({env_id!r})
        print("made", env.reset(seed=0)[0].shape)
        """
    )
    assert "jax after import gymnasium: False" in result.stdout, result.stderr[-2000:]
    assert "made (84, 84, 3)" in result.stdout, result.stderr[-2000:]
