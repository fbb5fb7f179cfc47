"""``num_envs`` copies of one engram environment as one Gymnasium vector environment
(what ``gymnasium.make_vec("engram/<id>", num_envs=N)`` returns)."""

from __future__ import annotations

from typing import Any

import gymnasium
import jax
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector.utils import batch_space

from engram.gym import _compat
from engram.gym._runner import SAME_STEP
from engram.gym.env import _python, _Shared, check_render_mode, render_modes, upscale


def batch_action_array(
    actions,
    single: gymnasium.spaces.Space,
    num_envs: int,
    batched: gymnasium.spaces.Space | None = None,
) -> np.ndarray:
    """``actions`` as an int32 batch ``(num_envs, *single.shape)``: integers or integral
    floats; ``Discrete`` actions also as ``(num_envs, 1)`` (one-element actions, as
    ``SyncVectorEnv`` over the original accepts them).

    ``batched``: ``gymnasium.vector.utils.batch_space(single, num_envs)`` when the caller
    has it (a vector environment's ``action_space``); building it deep-copies the space and
    its random generator, about 0.2 ms, as long as a whole step of 64 Mortar Mayhems.

    Raises:
        ValueError: naming ``actions``: not integers, wrong shape, or outside the space.
    """
    try:
        a = np.asarray(actions)
    except Exception as e:
        raise ValueError(f"actions: got {actions!r}, not an array of integers ({e})") from None
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
        a = a.astype(np.int64)
    if batched is None:
        batched = batch_space(single, num_envs)
    if isinstance(single, gymnasium.spaces.Discrete) and a.shape == (num_envs, 1):
        a = a.reshape(num_envs)
    if (
        a.dtype.kind not in "iu"
        or a.shape != batched.shape
        or not batched.contains(a.astype(batched.dtype))
    ):
        raise ValueError(
            f"actions: got {actions!r}, expected integers of shape {batched.shape} in {batched}"
        )
    return a.astype(np.int32)


def _object_array(values: list) -> np.ndarray:
    """A 1-d object array holding ``values`` as they are (None where absent)."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


_VectorBase: Any = gymnasium.vector.VectorEnv


class GymVectorEnv(_VectorBase, _Shared):
    """``num_envs`` copies of one engram environment stepped by one ``jit(vmap(step))``.

    Autoreset (``autoreset_mode``, Gymnasium's names, passed as a keyword of
    ``gymnasium.make_vec``):

    * ``NEXT_STEP`` (Gymnasium 1.x's default): the step that ends an episode returns its
      terminal observation; the next call resets that copy and ignores its action.
      ``info`` holds the original's keys as arrays with ``_key`` masks.
    * ``SAME_STEP`` (the default on Gymnasium 0.29, whose vector envs all do this): the
      step that ends an episode returns the next episode's first observation. On 1.x the
      terminal observation and info are in ``info["final_obs"]`` (an object array) and
      ``info["final_info"]`` (a dict of arrays with ``_key`` masks); on 0.29 in
      ``info["final_observation"]`` and ``info["final_info"]`` (object arrays, one dict
      per finished copy, None elsewhere), as ``SyncVectorEnv`` of each version returns
      them.

    Args:
        env_id: an engram id. num_envs: batch size (int >= 1).
        render_mode: None, ``"rgb_array"`` (uint8 (N, 84, 84, 3)) or, for the Memory Gym
            ids, ``"debug_rgb_array"`` (uint8 (N, 336, 336, 3)).
        autoreset_mode: a ``gymnasium.vector.AutoresetMode`` (or
            ``engram.gym.AutoresetMode`` on 0.29), its value or name; None: this
            Gymnasium's default.
        max_episode_steps: must be None (Gymnasium 0.29's ``make_vec`` passes it); the
            time limit is the reset parameter ``max_steps``.
        **reset_parameters: reset parameters for every copy (original names).

    Raises:
        ValueError: bad ``num_envs``, id, render mode, autoreset mode,
            ``max_episode_steps``, reset parameter or actions.
        RuntimeError: built in a process forked after JAX started (it would hang).
    """

    metadata = {
        "render_modes": ["rgb_array", "debug_rgb_array"],
        "render_fps": 25,
        "autoreset_mode": _compat.AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        env_id: str,
        num_envs: int = 1,
        render_mode: str | None = None,
        autoreset_mode=None,
        max_episode_steps: int | None = None,
        **reset_parameters,
    ):
        _compat.check_fork(env_id)
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs: got {num_envs!r}, expected an int >= 1")
        if max_episode_steps is not None:
            raise ValueError(
                f"max_episode_steps: got {max_episode_steps!r}, expected None; engram's "
                f"vector env has no TimeLimit: pass the reset parameter max_steps instead "
                f"(ids that have it), or use vectorization_mode='sync'"
            )
        self._mode = _compat.parse_autoreset_mode(autoreset_mode)
        self.env_id = env_id
        self.num_envs = num_envs
        self._build(env_id, reset_parameters)
        modes = render_modes(self._env)
        check_render_mode(env_id, render_mode, modes)
        self.render_mode = render_mode
        self._defaults = dict(reset_parameters)
        self.metadata = {
            "render_modes": modes,
            "render_fps": self._env.render_fps,
            "autoreset_mode": _compat.AutoresetMode(self._mode),
        }
        self.autoreset_mode = self.metadata["autoreset_mode"]
        self.single_observation_space = self._env.observation_space.to_gymnasium()
        self.single_action_space = self._env.action_space.to_gymnasium()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        # What Gymnasium 0.29's VectorEnv.__init__ sets (its close() and wrappers read them).
        self.is_vector_env = True
        self.closed = False
        self.viewer = None
        self._carry = None  # the key and state, one device buffer (_Runner)
        self._obs = None

    def reset(self, *, seed: int | list | None = None, options: dict | None = None):
        """Start ``num_envs`` episodes: ``(obs, info)``. ``seed``: an int (a list: its
        first entry) seeds the whole batch. ``options``: reset parameters for every copy."""
        if isinstance(seed, (list, tuple)):
            seed = seed[0]
        if seed is not None:
            self._np_random, self._np_random_seed = seeding.np_random(seed)
        self._maybe_rebuild({**self._defaults, **(options or {})})
        key = jax.random.key(int(self.np_random.integers(0, 2**63 - 1)))
        self._carry, (self._obs, reset_info) = self._runner.reset(key, self._params_buffer)
        info = {}
        for k, v in reset_info.items():
            info[k] = v
            info[f"_{k}"] = np.ones(self.num_envs, bool)
        return self._obs, info

    def step(self, actions):
        """``(obs, rewards, terminations, truncations, info)``: arrays with a leading
        ``num_envs`` axis (rewards float64, flags bool); ``info`` as described above.

        Raises:
            ValueError: ``actions`` not a batch of actions (see :func:`batch_action_array`).
            gymnasium.error.ResetNeeded: before the first :meth:`reset`.
        """
        if self._carry is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        actions = batch_action_array(
            actions, self.single_action_space, self.num_envs, self.action_space
        )
        # One compiled call and one transfer of everything the step returns.
        self._carry, out = self._runner.step(self._carry, actions, self._params_buffer)
        self._obs, reward, terminated, truncated, info = out
        reward = np.asarray(reward, np.float64)
        if self._mode == SAME_STEP:
            done = np.asarray(terminated | truncated)
            return self._obs, reward, terminated, truncated, self._same_step_info(info, done)
        done = terminated | truncated
        result: dict[str, Any] = {}
        every, at_end = self._env.info_every_step, self._env.info_at_end
        for key in dict.fromkeys((*at_end, *every)):
            mask = np.ones_like(done) if key in every else done
            if mask.any():
                result[key] = np.asarray(info[key])
                result[f"_{key}"] = mask
        return self._obs, reward, terminated, truncated, result

    def _same_step_info(self, info, done: np.ndarray) -> dict[str, Any]:
        """SAME_STEP ``info``: every-step keys of the state each copy is now in (the new
        episode's reset info where one ended), and the ended episodes' last observation
        and info under this Gymnasium's names."""
        result: dict[str, Any] = {}
        for key in self._env.info_every_step:
            fresh = info["reset_info"].get(key)
            value = np.asarray(info[key])
            if fresh is not None:
                mask = done.reshape((-1,) + (1,) * (value.ndim - 1))
                value = np.where(mask, np.asarray(fresh), value)
            result[key] = value
            result[f"_{key}"] = np.ones(self.num_envs, bool)
        if not done.any():
            return result
        ended = np.flatnonzero(done)
        keys = self._env.info_at_end
        final_obs = [None] * self.num_envs
        for i in ended:
            final_obs[i] = jax.tree.map(lambda x, i=i: np.asarray(x[i]), info["final_obs"])
        if _compat.GYMNASIUM_1:
            result["final_obs"] = _object_array(final_obs)
            result["_final_obs"] = done.copy()
            final_info: dict[str, Any] = {}
            for key in keys:
                value = np.asarray(info[key])
                mask = done.reshape((-1,) + (1,) * (value.ndim - 1))
                final_info[key] = np.where(mask, value, np.zeros_like(value))
                final_info[f"_{key}"] = done.copy()
            result["final_info"] = final_info
        else:
            result["final_observation"] = _object_array(final_obs)
            result["_final_observation"] = done.copy()
            dicts: list = [None] * self.num_envs
            for i in ended:
                dicts[i] = {key: _python(np.asarray(info[key])[i]) for key in keys}
            result["final_info"] = _object_array(dicts)
        result["_final_info"] = done.copy()
        return result

    def render(self):
        """The copies' pictures (``rgb_array``, uint8 (N, H, W, 3)) or debug views
        (``debug_rgb_array``, uint8 (N, 336, 336, 3)); the pictures also without a render
        mode; None before the first reset."""
        if self._obs is None:
            return None
        if self.render_mode == "debug_rgb_array":
            return upscale(self._runner.debug(self._carry, self._params_buffer))
        if not self._env.pixel_observations:  # one frame per environment, stacked
            states = self._runner.env_state(self._carry)
            frames = [
                self._env.frame(jax.tree.map(lambda x, i=i: x[i], states), self._params)
                for i in range(self.num_envs)
            ]
            return np.stack([np.asarray(f) for f in frames])
        obs = self._obs
        return obs["visual_observation"] if isinstance(obs, dict) else obs

    def close_extras(self, **kwargs):
        self._carry = None
