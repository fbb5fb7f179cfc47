"""One engram environment as a ``gymnasium.Env`` (what ``gymnasium.make`` returns)."""

from __future__ import annotations

from typing import Any

import gymnasium
import jax
import numpy as np

from engram.core.environment import Environment
from engram.core.params import resolve
from engram.core.registry import _entry, make
from engram.gym import _compat
from engram.gym._runner import NEXT_STEP, runner

#: The debug view's scale: the original draws it at 84 x 84 and returns it scaled to
#: 336 x 336 by pixel repetition (``pygame.transform.scale``).
DEBUG_SCALE = 4


def has_debug_view(env: Environment) -> bool:
    """Whether ``env`` draws a ground-truth debug view (:meth:`Environment.debug_frame`)."""
    return type(env).debug_frame is not Environment.debug_frame


def render_modes(env: Environment) -> list[str]:
    """The render modes of ``env``'s adapter: ``rgb_array``, and ``debug_rgb_array`` where
    the environment draws a debug view (the ten Memory Gym ids)."""
    return ["rgb_array", "debug_rgb_array"] if has_debug_view(env) else ["rgb_array"]


def check_render_mode(env_id: str, render_mode, allowed: list[str]) -> None:
    """Raises ``ValueError`` naming ``render_mode`` unless it is None or in ``allowed``."""
    if render_mode is None or render_mode in allowed:
        return
    hint = ""
    if render_mode == "human":
        hint = (
            "; gymnasium.make(..., render_mode='human') shows the rgb_array frames in "
            "Gymnasium's HumanRendering window; `engram play` shows the debug view too"
        )
    raise ValueError(
        f"render_mode: got {render_mode!r}, expected None or one of {allowed} for {env_id}{hint}"
    )


def upscale(frame: np.ndarray) -> np.ndarray:
    """A debug view at the original's size: each pixel repeated ``DEBUG_SCALE`` times
    along both image axes (``(..., 84, 84, 3)`` -> ``(..., 336, 336, 3)``)."""
    frame = np.repeat(frame, DEBUG_SCALE, axis=-3)
    return np.repeat(frame, DEBUG_SCALE, axis=-2)


def max_episode_steps(env: Environment, values: dict) -> int:
    """The original's ``max_episode_steps`` for the reset parameters ``values``: the
    episode's step cap (Mortar Mayhem's computed from the command timings), or
    ``max_steps`` where episodes are unbounded (-1 by default on the endless ids);
    -1 for engram's own ids without a cap."""
    cap = env.episode_cap(values)
    if cap is not None:
        return int(cap)
    return int(values.get("max_steps", -1))


def action_array(action, space: gymnasium.spaces.Space, name: str = "action") -> np.ndarray:
    """``action`` as an int32 array of the space's shape, from the forms the original
    acts on: Python or NumPy integers, integral floats, lists, tuples and arrays (a
    ``Discrete`` action also as any one-element array, e.g. shape ``(1,)`` as CleanRL's
    scripts send it).

    Raises:
        ValueError: naming ``name``: not numbers, not integral, wrong shape, or outside
            ``space``.
    """
    try:
        a = np.asarray(action)
    except Exception as e:  # e.g. a ragged list
        raise ValueError(f"{name}: got {action!r}, not an array of integers ({e})") from None
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise ValueError(f"{name}: got {action!r} (dtype {a.dtype}), expected integers in {space}")
    if isinstance(space, gymnasium.spaces.Discrete) and a.size == 1:
        a = a.reshape(())
    if a.shape != space.shape or not _within(a, space):
        raise ValueError(
            f"{name}: got {action!r}, expected an action in {space} (shape {space.shape})"
        )
    return a.astype(np.int32)


def _within(a: np.ndarray, space: gymnasium.spaces.Space) -> bool:
    """Whether the integer array ``a`` (of the space's shape) lies in ``space``.

    Discrete and MultiDiscrete bounds are compared as Python integers: Gymnasium's
    ``MultiDiscrete.contains`` alone took 11-15 microseconds, this whole check with
    :func:`action_array` about 4 (issue 17: a ``gym.make`` step of the original's Mystery
    Path costs about 100)."""
    if isinstance(space, gymnasium.spaces.Discrete):
        return int(space.start) <= int(a) < int(space.start) + int(space.n)
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        values, starts = a.ravel().tolist(), space.start.ravel().tolist()
        sizes = space.nvec.ravel().tolist()
        return all(lo <= v < lo + n for v, lo, n in zip(values, starts, sizes, strict=True))
    return bool(space.contains(a.astype(space.dtype)))


def _python(value):
    """A 0-d array as a Python scalar (the original's info values are Python numbers)."""
    if isinstance(value, (bool, int, float)):  # already one (the runner's small results)
        return value
    a = np.asarray(value)
    return a.item() if a.ndim == 0 else a


class _Shared:
    """Env construction shared by the single and the vector adapter."""

    _mode = NEXT_STEP

    def _build(self, env_id: str, options: dict | None):
        specs, _ = _entry(env_id)
        values = resolve(specs, options)
        env, params = make(env_id, **values)
        self._env, self._params, self._values = env, params, values
        # One env (GymEnv) or a batch of num_envs (GymVectorEnv).
        self._runner = runner(env, getattr(self, "num_envs", None), params, self._mode)
        self._params_buffer = self._runner.bind(params)
        self.max_episode_steps = max_episode_steps(env, values)

    def _maybe_rebuild(self, options: dict | None):
        specs, _ = _entry(self.env_id)
        values = resolve(specs, options or {})
        if values != self._values:
            self._build(self.env_id, options)


class GymEnv(gymnasium.Env, _Shared):
    """One engram environment as a ``gymnasium.Env``: ``gymnasium.make("engram/<id>")``.

    Args:
        env_id: an engram id, e.g. ``"MortarMayhem-v0"``.
        render_mode: ``None``, ``"rgb_array"`` (the picture, uint8 (84, 84, 3) for the
            Memory Gym ids) or, for the Memory Gym ids, ``"debug_rgb_array"`` (the
            ground-truth debug view, uint8 (336, 336, 3), as the original's).
        **reset_parameters: defaults for ``reset(options=...)`` (original names).

    Attributes:
        max_episode_steps: int, as the original's (set there by ``reset``): the episode's
            step cap for the current reset parameters, or ``max_steps`` (-1: unbounded)
            on the endless ids. Set from construction on and updated by ``reset``.
        has_ground_truth_info: bool, True for the endless ids (``info["ground_truth"]``).

    Raises:
        ValueError: unknown id, render mode, reset parameter or value out of range; an
            action outside the action space in :meth:`step`.
        RuntimeError: built in a process forked after JAX started (it would hang), or
            inside an ``AsyncVectorEnv`` about to fork its workers.
    """

    metadata = {"render_modes": ["rgb_array", "debug_rgb_array"], "render_fps": 25}

    def __init__(self, env_id: str, render_mode: str | None = None, **reset_parameters):
        _compat.check_fork(env_id)
        self.env_id = env_id
        self._build(env_id, reset_parameters)
        modes = render_modes(self._env)
        check_render_mode(env_id, render_mode, modes)
        self._defaults = dict(reset_parameters)
        self.render_mode = render_mode
        self.metadata = {"render_modes": modes, "render_fps": self._env.render_fps}
        self.has_ground_truth_info = "ground_truth" in self._env.info_every_step
        self.observation_space = self._env.observation_space.to_gymnasium()
        self.action_space = self._env.action_space.to_gymnasium()
        self._carry = None  # the key and state, one device buffer (_Runner)
        self._obs = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode: ``(obs, info)``. ``options``: reset parameters (original
        names) over the constructor's; a new static configuration compiles once."""
        super().reset(seed=seed)
        self._maybe_rebuild({**self._defaults, **(options or {})})
        # The JAX key comes from gymnasium's np_random, so seeding is reproducible and
        # an unseeded reset continues the generator, as in the original.
        key = jax.random.key(int(self.np_random.integers(0, 2**63 - 1)))
        self._carry, (self._obs, info) = self._runner.reset(key, self._params_buffer)
        return self._obs, {k: _python(v) for k, v in info.items()}

    def step(self, action):
        """``(obs, reward, terminated, truncated, info)``; ``reward`` a Python float,
        ``info`` the original's keys as Python numbers (``ground_truth`` an array).

        Raises:
            ValueError: ``action`` not in the action space (see :func:`action_array`).
            gymnasium.error.ResetNeeded: before the first :meth:`reset`.
        """
        if self._carry is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        action = action_array(action, self.action_space)
        # One compiled call (two for a small state: _Runner.split_step) and one transfer
        # of everything the step returns.
        self._carry, out = self._runner.step(self._carry, action, self._params_buffer)
        self._obs, reward, terminated, truncated, info = out
        terminated, truncated = bool(terminated), bool(truncated)
        keys = self._env.info_every_step
        if terminated or truncated:
            keys = self._env.info_at_end
        info: dict[str, Any] = {k: _python(info[k]) for k in keys}
        return self._obs, float(reward), terminated, truncated, info

    def render(self):
        """The current picture (``rgb_array``) or debug view (``debug_rgb_array``), uint8
        ``(H, W, 3)``; None before the first reset or without a render mode."""
        if self.render_mode is None or self._obs is None:
            return None
        if self.render_mode == "debug_rgb_array":
            return upscale(self._runner.debug(self._carry, self._params_buffer))
        if not self._env.pixel_observations:  # vector observations: the env draws a frame
            state = self._runner.env_state(self._carry)
            return np.asarray(self._env.frame(state, self._params))
        obs = self._obs
        return obs["visual_observation"] if isinstance(obs, dict) else obs

    def close(self):
        self._carry = None
