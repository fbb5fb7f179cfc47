"""Compiled reset and step of the Gymnasium adapters (one call and one transfer each).

Internal to :mod:`engram.gym`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from engram.core.environment import Environment
from engram.core.wrappers import (
    NextStepAutoReset,
    autoreset_step_batch,
    next_step_autoreset_batch,
)

#: The vector adapter's autoreset modes (values of Gymnasium's ``AutoresetMode``).
NEXT_STEP, SAME_STEP = "NextStep", "SameStep"


class _Words:
    """Packs a pytree of arrays (fixed shapes and dtypes; PRNG keys as their data) into one
    flat uint32 array and back. Calling a compiled function costs microseconds per argument
    and result leaf, and an environment's state and params have dozens: the adapters pass
    each as one buffer and return the small results packed likewise.

    32-bit words, not bytes: nearly every leaf is 32-bit (int32, float32, key data), and a
    32-bit leaf goes in and out of a uint32 buffer by a bitcast that costs nothing, where
    XLA's CPU backend assembled each int32 from four bytes with shifts, one small kernel
    per leaf (about 70 of the 150 microseconds of a Mortar Mayhem step). Narrower leaves
    (bool, uint8, 16-bit) take one word per element.
    """

    def __init__(self, example):
        leaves, self.tree = jax.tree.flatten(example)
        self.specs = []
        for x in leaves:
            is_key = jnp.issubdtype(x.dtype, jax.dtypes.prng_key)
            if is_key:
                x = jax.eval_shape(jax.random.key_data, x)
            dtype = np.dtype(x.dtype)
            if dtype.itemsize > 4:
                raise TypeError(f"cannot pack a {dtype} leaf (64-bit values are off in engram)")
            size = int(np.prod(x.shape, dtype=np.int64))
            self.specs.append((tuple(x.shape), dtype, size, is_key))
        #: Bytes of the packed buffer (4 per word).
        self.nbytes = 4 * sum(size for _, _, size, _ in self.specs)
        self._reads = [_read(shape, dtype) for shape, dtype, _, _ in self.specs]
        #: Word offset of each leaf in the buffer (the layout both unpacks read).
        self._offsets = np.cumsum([0] + [size for _, _, size, _ in self.specs]).tolist()[:-1]

    @staticmethod
    def pack(tree) -> jax.Array:
        """The tree as flat uint32 words (traced, or on the host with NumPy leaves)."""
        parts = []
        for x in jax.tree.leaves(tree):
            if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
                x = jax.random.key_data(x)
            x = jnp.asarray(x)
            if x.dtype.itemsize == 4:
                x = jax.lax.bitcast_convert_type(x, jnp.uint32)
            else:
                x = x.astype(jnp.uint32)
            parts.append(x.reshape(-1))
        return jnp.concatenate(parts) if parts else jnp.zeros(0, jnp.uint32)

    def unpack(self, buffer: jax.Array):
        """The tree back from :meth:`pack`'s words (traced)."""
        leaves = []
        for (shape, dtype, size, is_key), offset in zip(self.specs, self._offsets, strict=True):
            x = buffer[offset : offset + size].reshape(shape)
            if dtype.itemsize == 4:
                x = jax.lax.bitcast_convert_type(x, dtype)
            else:
                x = x.astype(dtype)
            leaves.append(jax.random.wrap_key_data(x) if is_key else x)
        return jax.tree.unflatten(self.tree, leaves)

    def unpack_host(self, buffer: np.ndarray):
        """The tree back from :meth:`pack`'s words on the host (no PRNG keys): a 0-d
        leaf as a Python scalar (``bool``, ``int`` or ``float``, the value ``.item()``
        gives), an array leaf as a NumPy array (a view of the buffer for a 32-bit leaf,
        a converted copy for a narrower one).

        Scalars are read from ``tolist()`` conversions of the whole buffer: a slice, view
        and reshape per leaf took 17 of the 200 microseconds of a ``gym.make`` step of
        ``MysteryPath-v0`` (seven scalars), and the adapter converted each to a Python
        number afterwards anyway (issue 17)."""
        words = {
            _INT: buffer.view(np.int32).tolist(),
            _FLOAT: buffer.view(np.float32).tolist() if _FLOAT in self._reads else None,
            _WORD: buffer.tolist() if _WORD in self._reads else None,
        }
        leaves = []
        for read, (shape, dtype, size, _), offset in zip(
            self._reads, self.specs, self._offsets, strict=True
        ):
            if read == _ARRAY:
                leaf = buffer[offset : offset + size]
                leaf = leaf.view(dtype) if dtype.itemsize == 4 else leaf.astype(dtype)
                leaves.append(leaf.reshape(shape))
            elif read == _BOOL:
                leaves.append(words[_INT][offset] != 0)
            else:
                leaves.append(words[read][offset])
        return self.tree.unflatten(leaves)


# How unpack_host reads a leaf: an array, or a 0-d leaf from the buffer's words as int32
# (signed and narrower integers: astype(uint32) kept their two's complement bits), as
# bool, as float32, or as uint32.
_ARRAY, _INT, _BOOL, _FLOAT, _WORD = range(5)


def _read(shape: tuple, dtype: np.dtype) -> int:
    if shape or (dtype.kind == "f" and dtype.itemsize != 4):  # narrower floats: rare
        return _ARRAY
    if dtype == np.bool_:
        return _BOOL
    if dtype.kind == "f":
        return _FLOAT
    return _WORD if dtype == np.uint32 else _INT


#: XLA's CPU runtime runs a program's kernels one after another on the calling thread
#: when every buffer they touch is at most this many bytes, or when there are at most 8
#: kernels (``ThunkExecutor::Options`` in XLA, not configurable); otherwise it hands
#: ready kernels to its thread pool. A single environment's step is dozens of tiny
#: kernels, and on a 2-core machine each hand-off (a thread wake-up on the other core)
#: costs more than the kernels: Mortar Mayhem's step as one program took 41-50 us on 2
#: cores, 30 pinned to one. Its rules touch only its small state and its picture is 6
#: kernels, so run as two programs both stay on the calling thread: 17 us for both.
_SEQUENTIAL_BYTES = 512

#: Results of at most this many bytes are packed into one buffer; larger ones (the
#: frames) come back as they are (copying them into the buffer would cost more).
_PACK_BYTES = 4096


class _Results:
    """The outputs of a compiled call: the small leaves packed into one buffer, the large
    ones as they are; both fetched in one transfer and rebuilt into the tree."""

    def __init__(self, shapes):
        leaves, self.tree = jax.tree.flatten(shapes)
        self.small = [x.size * x.dtype.itemsize <= _PACK_BYTES for x in leaves]
        self.words = _Words([x for x, s in zip(leaves, self.small, strict=True) if s])

    def split(self, outputs):
        """Traced: ``(packed small leaves, [large leaves])``."""
        leaves = jax.tree.leaves(outputs)
        small = [x for x, s in zip(leaves, self.small, strict=True) if s]
        return _Words.pack(small), [x for x, s in zip(leaves, self.small, strict=True) if not s]

    def fetch(self, split):
        # np.asarray per array: jax.device_get walks the tree and costs about 100
        # microseconds more per call on CPU, as much as a whole Mortar Mayhem step.
        small, large = split
        small = iter(self.words.unpack_host(np.asarray(small)))
        large = iter([np.asarray(x) for x in large])
        leaves = [next(small) if s else next(large) for s in self.small]
        return jax.tree.unflatten(self.tree, leaves)


class _Runner:
    """The compiled reset and step of one environment configuration, batch size and
    autoreset mode, for one layout of params. The adapter's key and state travel between
    calls as one device buffer (the *carry*), params as another; each call is one compiled
    call and one transfer of what it returns (a single environment with a small state
    steps with two, :attr:`split_step`).

    ``reset(key) -> (carry, (obs, info))``, ``step(carry, action) -> (carry, (obs,
    reward, terminated, truncated, info))``, ``env_state(carry)`` the core state (batched
    for a vector adapter), ``debug(carry)`` the debug view(s), uint8 ``([N,] 84, 84, 3)``.
    ``num_envs``: the vector adapter's batch (``vmap``); None: one environment.
    ``mode``: the vector adapter's autoreset, :data:`NEXT_STEP` or :data:`SAME_STEP`
    (then ``info`` also holds ``final_obs`` and, under ``"reset_info"``, the reset info of
    the state each environment is in after the step).
    """

    def __init__(self, env: Environment, num_envs: int | None, params, mode: str = NEXT_STEP):
        batched = num_envs is not None
        if not batched:
            env_reset, env_step, reset_info = env.reset, env.step, env.reset_info

            def core_state(state):
                return state
        elif mode == NEXT_STEP:
            # Fresh episodes only for the environments whose reset is due (exactly
            # vmap(NextStepAutoReset(env).step)).
            env_reset = jax.vmap(NextStepAutoReset(env).reset, in_axes=(0, None))

            def env_step(keys, states, actions, params):
                return next_step_autoreset_batch(env, keys, states, actions, params)

            base = jax.vmap(env.reset_info, in_axes=(0, None))

            def core_state(state):
                return state.env_state

            def reset_info(state, params):
                return base(state.env_state, params)
        else:  # SAME_STEP: fresh episodes only for the environments that finished
            env_reset = jax.vmap(env.reset, in_axes=(0, None))
            reset_info = jax.vmap(env.reset_info, in_axes=(0, None))

            def core_state(state):
                return state

            def env_step(keys, states, actions, params):
                obs, states, reward, term, trunc, info = autoreset_step_batch(
                    env, keys, states, actions, params
                )
                info = dict(info, reset_info=reset_info(states, params))
                return obs, states, reward, term, trunc, info

        def split(key):
            key, k = jax.random.split(key)
            return key, (jax.random.split(k, num_envs) if batched else k)

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
        self.params_words = _Words(params)
        self.carry = _Words(carry)
        self.reset_results = _Results(reset_out)
        action_shape = jax.eval_shape(env.action_space.sample, key).shape
        example_action = jax.ShapeDtypeStruct(
            ((num_envs,) if batched else ()) + tuple(action_shape), jnp.int32
        )
        _, step_out = jax.eval_shape(step, carry, example_action, params)
        self.step_results = _Results(step_out)

        def reset_packed(key_data, params_buffer):
            params = self.params_words.unpack(params_buffer)
            carry, out = reset(jax.random.wrap_key_data(key_data), params)
            return self.carry.pack(carry), self.reset_results.split(out)

        def step_packed(carry_buffer, action, params_buffer):
            params = self.params_words.unpack(params_buffer)
            carry, out = step(self.carry.unpack(carry_buffer), action, params)
            return self.carry.pack(carry), self.step_results.split(out)

        def debug_packed(carry_buffer, params_buffer):
            params = self.params_words.unpack(params_buffer)
            state = core_state(self.carry.unpack(carry_buffer)[1])
            draw = jax.vmap(env.debug_frame, in_axes=(0, None)) if batched else env.debug_frame
            return draw(state, params)

        # A single environment whose key, state and params are small runs its step as
        # two programs, the rules and the picture (see _SEQUENTIAL_BYTES). Same key use and
        # results as the one program; one dispatch more, no thread-pool hand-offs.
        #: Whether :meth:`step` runs the rules and the picture as two programs.
        self.split_step = (
            not batched
            and env.observes_state
            and self.carry.nbytes <= _SEQUENTIAL_BYTES
            and self.params_words.nbytes <= _SEQUENTIAL_BYTES
        )
        if self.split_step:
            _, *rules_out = jax.eval_shape(env.transition, key, carry[1], example_action, params)
            self.rules_results = _Results(tuple(rules_out))

            def rules_packed(carry_buffer, action, params_buffer):
                params = self.params_words.unpack(params_buffer)
                key, state = self.carry.unpack(carry_buffer)
                key, k = split(key)
                state, *out = env.transition(k, state, action, params)
                return self.carry.pack((key, state)), self.rules_results.split(tuple(out))

            def observe_packed(carry_buffer, params_buffer):
                params = self.params_words.unpack(params_buffer)
                return env.observe(self.carry.unpack(carry_buffer)[1], params)

            self._rules = jax.jit(rules_packed)
            self._observe = jax.jit(observe_packed)

        self._reset = jax.jit(reset_packed)
        self._step = jax.jit(step_packed)
        self._state = jax.jit(lambda c: core_state(self.carry.unpack(c)[1]))
        self._debug = jax.jit(debug_packed)

    def bind(self, params):
        """The params buffer for :meth:`reset` and :meth:`step` (one transfer, once)."""
        return jax.device_put(np.asarray(_Words.pack(params)))

    def reset(self, key, params_buffer):
        carry, out = self._reset(jax.random.key_data(key), params_buffer)
        return carry, self.reset_results.fetch(out)

    def step(self, carry, action, params_buffer):
        if self.split_step:
            carry, out = self._rules(carry, action, params_buffer)
            obs = jax.tree.map(np.asarray, self._observe(carry, params_buffer))
            return carry, (obs, *self.rules_results.fetch(out))
        carry, out = self._step(carry, action, params_buffer)
        return carry, self.step_results.fetch(out)

    def env_state(self, carry):
        """The core environment state(s) in ``carry`` (device arrays)."""
        return self._state(carry)

    def debug(self, carry, params_buffer) -> np.ndarray:
        """The ground-truth debug view(s): uint8 ``([N,] 84, 84, 3)``."""
        return np.asarray(self._debug(carry, params_buffer))


#: Runners by (static configuration, batch size, autoreset mode, params layout): an
#: adapter whose reset options come back to values seen before (or differ only in values
#: that live in params) reuses them instead of compiling again.
_RUNNERS: dict = {}


def runner(env: Environment, num_envs: int | None, params, mode: str = NEXT_STEP) -> _Runner:
    """The cached :class:`_Runner` for ``env``'s static configuration (compiled once)."""
    layout = tuple((x.shape, str(x.dtype)) for x in jax.tree.leaves(params))
    cache_key = (env.static_key, num_envs, mode, jax.tree.structure(params), layout)
    if cache_key not in _RUNNERS:
        _RUNNERS[cache_key] = _Runner(env, num_envs, params, mode)
    return _RUNNERS[cache_key]
