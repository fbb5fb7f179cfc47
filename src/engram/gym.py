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


class _Bytes:
    """Packs a pytree of arrays (fixed shapes and dtypes; PRNG keys as their data) into one
    flat uint8 array and back. Calling a compiled function costs microseconds per argument
    and result leaf, and an environment's state and params have dozens: the adapters pass
    each as one buffer and return the small results packed likewise."""

    def __init__(self, example):
        leaves, self.tree = jax.tree.flatten(example)
        self.specs = []
        for x in leaves:
            is_key = jnp.issubdtype(x.dtype, jax.dtypes.prng_key)
            if is_key:
                x = jax.eval_shape(jax.random.key_data, x)
            dtype = np.dtype(x.dtype)
            stored = np.dtype(np.uint8) if dtype == np.bool_ else dtype
            nbytes = int(np.prod(x.shape, dtype=np.int64)) * stored.itemsize
            self.specs.append((tuple(x.shape), dtype, stored, nbytes, is_key))

    @staticmethod
    def pack(tree) -> jax.Array:
        """The tree's bytes, flat uint8 (traced, or on the host with NumPy leaves)."""
        parts = []
        for x in jax.tree.leaves(tree):
            if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
                x = jax.random.key_data(x)
            x = jnp.asarray(x)
            if x.dtype == jnp.bool_:
                x = x.astype(jnp.uint8)
            if x.dtype.itemsize > 1:
                x = jax.lax.bitcast_convert_type(x, jnp.uint8)
            parts.append(x.reshape(-1))
        return jnp.concatenate(parts) if parts else jnp.zeros(0, jnp.uint8)

    def unpack(self, buffer: jax.Array):
        """The tree back from :meth:`pack`'s bytes (traced)."""
        leaves, offset = [], 0
        for shape, dtype, stored, nbytes, is_key in self.specs:
            x = buffer[offset : offset + nbytes]
            offset += nbytes
            if stored.itemsize > 1:
                x = jax.lax.bitcast_convert_type(x.reshape(-1, stored.itemsize), stored)
            x = x.reshape(shape)
            if dtype == np.bool_:
                x = x != 0
            leaves.append(jax.random.wrap_key_data(x) if is_key else x)
        return jax.tree.unflatten(self.tree, leaves)

    def unpack_host(self, buffer: np.ndarray):
        """NumPy views of :meth:`pack`'s bytes (no PRNG keys)."""
        leaves, offset = [], 0
        for shape, dtype, stored, nbytes, _ in self.specs:
            leaf = buffer[offset : offset + nbytes].view(stored).reshape(shape)
            offset += nbytes
            leaves.append(leaf.astype(bool) if dtype == np.bool_ else leaf)
        return jax.tree.unflatten(self.tree, leaves)


#: Results of at most this many bytes are packed into one buffer; larger ones (the
#: frames) come back as they are (copying them into the buffer would cost more).
_PACK_BYTES = 4096


class _Results:
    """The outputs of a compiled call: the small leaves packed into one buffer, the large
    ones as they are; both fetched in one transfer and rebuilt into the tree."""

    def __init__(self, shapes):
        leaves, self.tree = jax.tree.flatten(shapes)
        self.small = [x.size * x.dtype.itemsize <= _PACK_BYTES for x in leaves]
        self.bytes = _Bytes([x for x, s in zip(leaves, self.small, strict=True) if s])

    def split(self, outputs):
        """Traced: ``(packed small leaves, [large leaves])``."""
        leaves = jax.tree.leaves(outputs)
        small = [x for x, s in zip(leaves, self.small, strict=True) if s]
        return _Bytes.pack(small), [x for x, s in zip(leaves, self.small, strict=True) if not s]

    def fetch(self, split):
        # np.asarray per array: jax.device_get walks the tree and costs about 100
        # microseconds more per call on CPU, as much as a whole Mortar Mayhem step.
        small, large = split
        small = iter(self.bytes.unpack_host(np.asarray(small)))
        large = iter([np.asarray(x) for x in large])
        leaves = [next(small) if s else next(large) for s in self.small]
        return jax.tree.unflatten(self.tree, leaves)


class _Runner:
    """The compiled reset and step of one environment configuration and batch size, for
    one layout of params. The adapter's key and state travel between calls as one device
    buffer (the *carry*), params as another; each call is one compiled call and one
    transfer of what it returns.

    ``reset(key) -> (carry, (obs, info))``, ``step(carry, action) -> (carry, (obs,
    reward, terminated, truncated, info))``, ``state(carry) -> env state``.
    ``num_envs``: the vector adapter's batch (``vmap``, next-step autoreset); None: one.
    """

    def __init__(self, env, num_envs, params):
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
            return (key, state), (obs, reset_info(state, params))

        def step(carry, action, params):
            key, k = split(carry[0])
            obs, state, reward, terminated, truncated, info = env_step(k, carry[1], action, params)
            return (key, state), (obs, reward, terminated, truncated, info)

        key = jax.random.key(0)
        carry, reset_out = jax.eval_shape(reset, key, params)
        self.params_bytes = _Bytes(params)
        self.carry = _Bytes(carry)
        self.reset_results = _Results(reset_out)
        action_shape = jax.eval_shape(env.action_space.sample, key).shape
        example_action = jax.ShapeDtypeStruct(
            ((num_envs,) if num_envs else ()) + tuple(action_shape), jnp.int32
        )
        _, step_out = jax.eval_shape(step, carry, example_action, params)
        self.step_results = _Results(step_out)

        def reset_packed(key_data, params_buffer):
            params = self.params_bytes.unpack(params_buffer)
            carry, out = reset(jax.random.wrap_key_data(key_data), params)
            return self.carry.pack(carry), self.reset_results.split(out)

        def step_packed(carry_buffer, action, params_buffer):
            params = self.params_bytes.unpack(params_buffer)
            carry, out = step(self.carry.unpack(carry_buffer), action, params)
            return self.carry.pack(carry), self.step_results.split(out)

        self._reset = jax.jit(reset_packed)
        self._step = jax.jit(step_packed)
        self._state = jax.jit(lambda c: self.carry.unpack(c)[1])

    def bind(self, params):
        """The params buffer for :meth:`reset` and :meth:`step` (one transfer, once)."""
        return jax.device_put(np.asarray(_Bytes.pack(params)))

    def reset(self, key, params_buffer):
        carry, out = self._reset(jax.random.key_data(key), params_buffer)
        return carry, self.reset_results.fetch(out)

    def step(self, carry, action, params_buffer):
        carry, out = self._step(carry, action, params_buffer)
        return carry, self.step_results.fetch(out)

    def state(self, carry):
        return self._state(carry)


#: Runners by (static configuration, batch size, params layout): an adapter whose reset
#: options come back to values seen before (or differ only in values that live in params)
#: reuses them instead of compiling again.
_RUNNERS: dict = {}


def _runner(env, num_envs, params) -> _Runner:
    layout = tuple((x.shape, str(x.dtype)) for x in jax.tree.leaves(params))
    cache_key = (env.static_key, num_envs, jax.tree.structure(params), layout)
    if cache_key not in _RUNNERS:
        _RUNNERS[cache_key] = _Runner(env, num_envs, params)
    return _RUNNERS[cache_key]


class _Shared:
    """Env construction shared by the single and the vector adapter."""

    def _build(self, env_id: str, options: dict | None):
        specs, _ = _entry(env_id)
        values = resolve(specs, options)
        env, params = make(env_id, **values)
        self._env, self._params, self._values = env, params, values
        # One env (GymEnv) or a batch of num_envs (GymVectorEnv).
        self._runner = _runner(env, getattr(self, "num_envs", None), params)
        self._params_buffer = self._runner.bind(params)

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
        self._carry = None  # the key and state, one device buffer (_Runner)
        self._obs = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._maybe_rebuild({**self._defaults, **(options or {})})
        # The JAX key comes from gymnasium's np_random, so seeding is reproducible and
        # an unseeded reset continues the generator, as in the original.
        key = jax.random.key(int(self.np_random.integers(0, 2**63 - 1)))
        self._carry, (self._obs, info) = self._runner.reset(key, self._params_buffer)
        return self._obs, {k: _python(v) for k, v in info.items()}

    def step(self, action):
        if self._carry is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        action = np.asarray(action)
        self._env.check_action(action)
        # One compiled call and one transfer of everything the step returns.
        self._carry, out = self._runner.step(
            self._carry, action.astype(np.int32), self._params_buffer
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
            state = self._runner.state(self._carry)
            return np.asarray(self._env.frame(state, self._params))
        obs = self._obs
        return obs["visual_observation"] if isinstance(obs, dict) else obs

    def close(self):
        self._carry = None


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
        self._carry = None  # the key and state, one device buffer (_Runner)
        self._obs = None

    def reset(self, *, seed: int | list | None = None, options: dict | None = None):
        if isinstance(seed, (list, tuple)):
            seed = seed[0]
        super().reset(seed=seed)
        self._maybe_rebuild({**self._defaults, **(options or {})})
        key = jax.random.key(int(self.np_random.integers(0, 2**63 - 1)))
        self._carry, (self._obs, reset_info) = self._runner.reset(key, self._params_buffer)
        info = {}
        for k, v in reset_info.items():
            info[k] = v
            info[f"_{k}"] = np.ones(self.num_envs, bool)
        return self._obs, info

    def step(self, actions):
        if self._carry is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        actions = np.asarray(actions)
        if not self.action_space.contains(actions.astype(self.action_space.dtype)):
            raise ValueError(f"actions: got {actions!r}, expected a batch in {self.action_space}")
        # One compiled call and one transfer of everything the step returns.
        self._carry, out = self._runner.step(
            self._carry, actions.astype(np.int32), self._params_buffer
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
            states = self._runner.state(self._carry).env_state
            frames = [
                self._env.frame(jax.tree.map(lambda x, i=i: x[i], states), self._params)
                for i in range(self.num_envs)
            ]
            return np.stack([np.asarray(f) for f in frames])
        obs = self._obs
        return obs["visual_observation"] if isinstance(obs, dict) else obs

    def close_extras(self, **kwargs):
        self._carry = None


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
