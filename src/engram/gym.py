"""Gymnasium adapters: every engram id as ``gymnasium.make("engram/<id>")``.

``import engram`` registers ``engram/<id>`` for every registered id, with a
``vector_entry_point``, so that ``gymnasium.make_vec("engram/<id>", num_envs=N)`` gives
:class:`GymVectorEnv`: one ``jit(vmap(step))`` over all N copies, not N Python envs.

Differences from the original package, on purpose:

* Observations are in standard image layout ``(H, W, C)`` = ``(84, 84, 3)`` with row = y.
  The original returns ``pygame.surfarray.array3d``, i.e. ``(x, y, c)``; use
  ``obs.transpose(1, 0, 2)`` to get the original's layout.
* Time limits (``max_steps`` of the endless variants) end the episode with
  ``truncated=True``; the original reports them as ``done`` and never truncates.
* ``reset(seed=s)`` seeds a JAX key, so episodes for a seed differ from the original's
  (the episode *distribution* is the same). ``options`` takes the original's reset
  parameters, validated with a ``ValueError`` naming the parameter, value and range.
* ``info`` has the original's keys: empty on ordinary steps (the endless variants
  always carry ``ground_truth``), episode statistics on the last step.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.vector.utils import batch_space

from engram.core.params import resolve
from engram.core.registry import _entry, make, registered_ids
from engram.core.wrappers import NextStepAutoReset

NAMESPACE = "engram"


@cache
def _compiled(static_key, env):
    """``jit``-ed reset and step shared by every adapter with the same static config."""
    del static_key  # the cache key; ``env`` itself is not compared
    return jax.jit(env.reset), jax.jit(env.step)


@cache
def _compiled_vector(static_key, env):
    del static_key
    wrapped = NextStepAutoReset(env)
    return (
        jax.jit(jax.vmap(wrapped.reset, in_axes=(0, None))),
        jax.jit(jax.vmap(wrapped.step, in_axes=(0, 0, 0, None))),
    )


class _Shared:
    """Env construction shared by the single and the vector adapter."""

    def _build(self, env_id: str, options: dict | None):
        specs, _ = _entry(env_id)
        values = resolve(specs, options)
        env, params = make(env_id, **values)
        self._env, self._params, self._values = env, params, values

    def _maybe_rebuild(self, options: dict | None):
        if options is None or options == {}:
            options = {}
        specs, _ = _entry(self.env_id)
        values = resolve(specs, options)
        if values != self._values:
            self._build(self.env_id, options)


@cache
def _reset_info(env):
    """``jit(env.reset_info)``, one per environment object."""
    return jax.jit(env.reset_info)


def _to_numpy(tree):
    return jax.tree.map(np.asarray, jax.device_get(tree))


def _python(value):
    """A 0-d array as a Python scalar (the original's info values are Python numbers)."""
    a = np.asarray(value)
    return a.item() if a.ndim == 0 else a


class GymEnv(gymnasium.Env, _Shared):
    """One engram environment as a ``gymnasium.Env``.

    Args:
        env_id: an engram id, e.g. ``"MortarMayhem-v0"``.
        render_mode: ``None`` or ``"rgb_array"`` (the 84×84 observation image).
        **reset_parameters: defaults for ``reset(options=...)`` (original names).

    Raises:
        ValueError: unknown id, unknown reset parameter or value out of range; an
            action outside the action space in :meth:`step`.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, env_id: str, render_mode: str | None = None, **reset_parameters):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode: got {render_mode!r}, expected None or one of "
                f"{self.metadata['render_modes']}"
            )
        self.env_id = env_id
        self._build(env_id, reset_parameters)
        self._defaults = dict(reset_parameters)
        self.render_mode = render_mode
        self.metadata = dict(self.metadata, render_fps=self._env.render_fps)
        self.observation_space = self._env.observation_space.to_gymnasium()
        self.action_space = self._env.action_space.to_gymnasium()
        self._state = None
        self._obs = None
        self._key = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._maybe_rebuild({**self._defaults, **(options or {})})
        # The JAX key comes from gymnasium's np_random, so seeding is reproducible and
        # an unseeded reset continues the generator, as in the original.
        self._key = jax.random.key(int(self.np_random.integers(0, 2**63 - 1)))
        self._key, k = jax.random.split(self._key)
        reset, _ = _compiled(self._env.static_key, self._env)
        obs, self._state = reset(k, self._params)
        self._obs = _to_numpy(obs)
        info = _to_numpy(_reset_info(self._env)(self._state, self._params))
        info = {k: _python(v) for k, v in info.items()}
        return self._obs, info

    def step(self, action):
        if self._state is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        action = np.asarray(action)
        self._env.check_action(action)
        _, step = _compiled(self._env.static_key, self._env)
        self._key, k = jax.random.split(self._key)
        obs, self._state, reward, terminated, truncated, info = step(
            k, self._state, jnp.asarray(action, jnp.int32), self._params
        )
        self._obs = _to_numpy(obs)
        terminated, truncated = bool(terminated), bool(truncated)
        keys = self._env.info_every_step
        if terminated or truncated:
            keys = self._env.info_at_end
        info = {k: _python(info[k]) for k in keys}
        return self._obs, float(reward), terminated, truncated, info

    def render(self):
        if self.render_mode != "rgb_array" or self._obs is None:
            return None
        if not self._env.pixel_observations:  # vector observations: the env draws a frame
            return np.asarray(self._env.frame(self._state, self._params))
        obs = self._obs
        return obs["visual_observation"] if isinstance(obs, dict) else obs

    def close(self):
        self._state = None


class GymVectorEnv(gymnasium.vector.VectorEnv, _Shared):
    """``num_envs`` copies of one engram environment stepped by one ``jit(vmap(step))``.

    Autoreset mode ``NEXT_STEP`` (Gymnasium's default): the step that ends an episode
    returns its terminal observation; the next call resets that copy and ignores its
    action. ``info`` holds the original's keys as arrays with ``_key`` masks.

    Args:
        env_id: an engram id. num_envs: batch size (>= 1).
        **reset_parameters: reset parameters for every copy (original names).

    Raises:
        ValueError: bad ``num_envs``, id, reset parameter or action.
    """

    metadata = {
        "render_modes": ["rgb_array"],
        "render_fps": 25,
        "autoreset_mode": gymnasium.vector.AutoresetMode.NEXT_STEP,
    }

    def __init__(self, env_id: str, num_envs: int = 1, render_mode=None, **reset_parameters):
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs: got {num_envs!r}, expected an int >= 1")
        self.env_id = env_id
        self.num_envs = num_envs
        self.render_mode = render_mode
        self._build(env_id, reset_parameters)
        self._defaults = dict(reset_parameters)
        self.single_observation_space = self._env.observation_space.to_gymnasium()
        self.single_action_space = self._env.action_space.to_gymnasium()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._state = None
        self._key = None
        self._obs = None

    def reset(self, *, seed: int | list | None = None, options: dict | None = None):
        if isinstance(seed, (list, tuple)):
            seed = seed[0]
        super().reset(seed=seed)
        self._maybe_rebuild({**self._defaults, **(options or {})})
        self._key = jax.random.key(int(self.np_random.integers(0, 2**63 - 1)))
        self._key, k = jax.random.split(self._key)
        reset, _ = _compiled_vector(self._env.static_key, self._env)
        obs, self._state = reset(jax.random.split(k, self.num_envs), self._params)
        self._obs = _to_numpy(obs)
        info = {}
        batched = jax.vmap(_reset_info(self._env), in_axes=(0, None))
        for k, v in _to_numpy(batched(self._state.env_state, self._params)).items():
            info[k] = v
            info[f"_{k}"] = np.ones(self.num_envs, bool)
        return self._obs, info

    def step(self, actions):
        if self._state is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        actions = np.asarray(actions)
        if not self.action_space.contains(actions.astype(self.action_space.dtype)):
            raise ValueError(f"actions: got {actions!r}, expected a batch in {self.action_space}")
        _, step = _compiled_vector(self._env.static_key, self._env)
        self._key, k = jax.random.split(self._key)
        obs, self._state, reward, terminated, truncated, info = step(
            jax.random.split(k, self.num_envs),
            self._state,
            jnp.asarray(actions, jnp.int32),
            self._params,
        )
        self._obs = _to_numpy(obs)
        terminated = np.asarray(terminated)
        truncated = np.asarray(truncated)
        info = jax.device_get(info)
        done = terminated | truncated
        out: dict[str, Any] = {}
        for key in set(self._env.info_at_end) | set(self._env.info_every_step):
            mask = np.ones_like(done) if key in self._env.info_every_step else done
            if mask.any():
                out[key] = np.asarray(info[key])
                out[f"_{key}"] = mask
        return self._obs, np.asarray(reward, np.float64), terminated, truncated, out

    def render(self):
        if self._obs is None:
            return None
        if not self._env.pixel_observations:  # one frame per environment, stacked
            states = self._state.env_state
            frames = [
                self._env.frame(jax.tree.map(lambda x, i=i: x[i], states), self._params)
                for i in range(self.num_envs)
            ]
            return np.stack([np.asarray(f) for f in frames])
        obs = self._obs
        return obs["visual_observation"] if isinstance(obs, dict) else obs

    def close_extras(self, **kwargs):
        self._state = None


def register_all() -> None:
    """Register ``engram/<id>`` with Gymnasium for every engram id (idempotent)."""
    for env_id in registered_ids():
        name = f"{NAMESPACE}/{env_id}"
        if name in gymnasium.registry:
            continue
        gymnasium.register(
            id=name,
            entry_point="engram.gym:GymEnv",
            vector_entry_point="engram.gym:GymVectorEnv",
            kwargs={"env_id": env_id},
        )
