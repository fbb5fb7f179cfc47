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


#: Compiled programs by (static configuration, batch size): an adapter whose reset
#: options come back to values seen before (or differ only in values that live in params)
#: reuses them instead of compiling again.
_PROGRAMS: dict = {}


def _as_bytes(x: jax.Array) -> jax.Array:
    """A leaf's bytes, flat uint8 (bools as one byte each)."""
    if x.dtype == jnp.bool_:
        x = x.astype(jnp.uint8)
    if x.dtype.itemsize > 1:
        x = jax.lax.bitcast_convert_type(x, jnp.uint8)
    return x.reshape(-1)


#: Leaves of at most this many bytes are packed into one buffer; larger ones (the frames)
#: come back as they are (copying them into the buffer would cost more than it saves).
_PACK_BYTES = 4096


class _Program:
    """A compiled ``fn(*args) -> (key, state, outputs)`` whose ``outputs`` (a pytree of
    arrays: observation, reward, flags, info) come back to the host as NumPy arrays in
    one transfer: the small leaves packed into one byte buffer on the device and unpacked
    into views here, the large ones (frames) alongside."""

    def __init__(self, fn):
        self._fn = fn
        self._jitted = None

    def _build(self, args):
        _, _, out = jax.eval_shape(self._fn, *args)
        leaves, self._tree = jax.tree.flatten(out)
        self._layout = [(x.shape, np.dtype(x.dtype)) for x in leaves]
        self._small = [x.size * x.dtype.itemsize <= _PACK_BYTES for x in leaves]

        def packed(*a):
            key, state, outputs = self._fn(*a)
            leaves = jax.tree.leaves(outputs)
            small = [_as_bytes(x) for x, s in zip(leaves, self._small, strict=True) if s]
            large = [x for x, s in zip(leaves, self._small, strict=True) if not s]
            buffer = jnp.concatenate(small) if small else jnp.zeros(0, jnp.uint8)
            return key, state, (buffer, large)

        self._jitted = jax.jit(packed)

    def __call__(self, *args):
        if self._jitted is None:
            self._build(args)
        key, state, out = self._jitted(*args)
        buffer, large = jax.device_get(out)
        large = iter(large)
        leaves, offset = [], 0
        for (shape, dtype), small in zip(self._layout, self._small, strict=True):
            if not small:
                leaves.append(next(large))
                continue
            stored = np.dtype(np.uint8) if dtype == np.bool_ else dtype
            nbytes = int(np.prod(shape, dtype=np.int64)) * stored.itemsize
            leaf = buffer[offset : offset + nbytes].view(stored).reshape(shape)
            offset += nbytes
            leaves.append(leaf.astype(bool) if dtype == np.bool_ else leaf)
        return key, state, jax.tree.unflatten(self._tree, leaves)


def _compiled(env, num_envs: int | None = None):
    """``(reset, step)``, each one compiled call that also splits the adapter's key and
    returns its outputs as NumPy arrays in one transfer (:class:`_Program`):
    ``reset(key, params) -> (key, state, (obs, info))`` and ``step(key, state, action,
    params) -> (key, state, (obs, reward, terminated, truncated, info))``. ``num_envs``:
    the vector adapter's batch (``vmap`` with next-step autoreset), ``None``: one env."""
    cache_key = (env.static_key, num_envs)
    if cache_key in _PROGRAMS:
        return _PROGRAMS[cache_key]
    if num_envs is None:
        env_reset, env_step, reset_info = env.reset, env.step, env.reset_info
    else:
        wrapped = NextStepAutoReset(env)
        env_reset = jax.vmap(wrapped.reset, in_axes=(0, None))
        env_step = jax.vmap(wrapped.step, in_axes=(0, 0, 0, None))
        base = jax.vmap(env.reset_info, in_axes=(0, None))

        def reset_info(state, params):
            return base(state.env_state, params)

    def split(key):
        key, k = jax.random.split(key)
        return key, (k if num_envs is None else jax.random.split(k, num_envs))

    def reset(key, params):
        key, k = split(key)
        obs, state = env_reset(k, params)
        return key, state, (obs, reset_info(state, params))

    def step(key, state, action, params):
        key, k = split(key)
        obs, state, reward, terminated, truncated, info = env_step(k, state, action, params)
        return key, state, (obs, reward, terminated, truncated, info)

    _PROGRAMS[cache_key] = (_Program(reset), _Program(step))
    return _PROGRAMS[cache_key]


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
        key = jax.random.key(int(self.np_random.integers(0, 2**63 - 1)))
        reset, _ = _compiled(self._env)
        self._key, self._state, out = reset(key, self._params)
        self._obs, info = out
        return self._obs, {k: _python(v) for k, v in info.items()}

    def step(self, action):
        if self._state is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        action = np.asarray(action)
        self._env.check_action(action)
        _, step = _compiled(self._env)
        # One compiled call and one transfer of everything the step returns.
        self._key, self._state, out = step(
            self._key, self._state, action.astype(np.int32), self._params
        )
        self._obs, reward, terminated, truncated, info = out
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
        key = jax.random.key(int(self.np_random.integers(0, 2**63 - 1)))
        reset, _ = _compiled(self._env, self.num_envs)
        self._key, self._state, out = reset(key, self._params)
        self._obs, reset_info = out
        info = {}
        for k, v in reset_info.items():
            info[k] = v
            info[f"_{k}"] = np.ones(self.num_envs, bool)
        return self._obs, info

    def step(self, actions):
        if self._state is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        actions = np.asarray(actions)
        if not self.action_space.contains(actions.astype(self.action_space.dtype)):
            raise ValueError(f"actions: got {actions!r}, expected a batch in {self.action_space}")
        _, step = _compiled(self._env, self.num_envs)
        # One compiled call and one transfer of everything the step returns.
        self._key, self._state, out = step(
            self._key, self._state, actions.astype(np.int32), self._params
        )
        self._obs, reward, terminated, truncated, info = out
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
