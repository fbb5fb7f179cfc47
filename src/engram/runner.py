"""One environment stepped from the host, one episode at a time: the engine behind
``engram play`` and ``engram record``.

Training and evaluation run thousands of copies inside ``jit``; a person watching or
playing needs the opposite: a single copy, a frame per step, and the episode's
statistics when it ends. :class:`EpisodeRunner` compiles ``reset``, ``step`` and
``debug_frame`` once and keeps the state on the host side of the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from engram.core.environment import Environment
from engram.core.registry import make
from engram.render.compose import image_of


def has_debug_view(env: Environment) -> bool:
    """Whether ``env`` implements :meth:`Environment.debug_frame`."""
    return type(env).debug_frame is not Environment.debug_frame


@dataclass
class EpisodeStats:
    """Statistics of one finished episode.

    Attributes:
        episode_return: float, sum of rewards.
        length: int, steps taken.
        truncated: whether a time limit ended it (rather than the task).
        info: the environment's end-of-episode ``info`` keys (``Environment.info_at_end``)
            as Python numbers, e.g. ``success`` or ``commands_completed``.
    """

    episode_return: float
    length: int
    truncated: bool
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for people: ``return 0.600  length 274  success 1 ...``."""
        parts = [f"return {self.episode_return:.3f}", f"length {self.length}"]
        for k, v in self.info.items():
            if k in ("reward", "length", "ground_truth"):
                continue  # repeated above, or a vector
            parts.append(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}")
        if self.truncated:
            parts.append("(truncated)")
        return "  ".join(parts)


class EpisodeRunner:
    """A single environment copy with compiled ``reset``/``step``/``debug_frame``.

    Args:
        env_id: a registered id, e.g. ``"MysteryPath-v0"``.
        options: reset parameters under the original's names.
        seed: seeds the JAX key that every reset and step splits.

    Raises:
        ValueError: unknown id (listing the valid ones), unknown reset parameter or a
            value outside its range (from :func:`engram.make`).
    """

    def __init__(self, env_id: str, options: dict[str, Any] | None = None, seed: int = 0):
        self.env, self.params = make(env_id, **(options or {}))
        self.env_id = env_id
        self.has_debug_view = has_debug_view(self.env)
        self._reset = jax.jit(self.env.reset)
        self._step = jax.jit(self.env.step)
        self._debug = jax.jit(self.env.debug_frame) if self.has_debug_view else None
        self._key = jax.random.key(seed)
        self.state = None
        self.obs = None
        self.episode_return = 0.0
        self.length = 0

    def _split(self) -> jax.Array:
        self._key, key = jax.random.split(self._key)
        return key

    def reset(self) -> None:
        """Start a new episode."""
        self.obs, self.state = self._reset(self._split(), self.params)
        self.episode_return, self.length = 0.0, 0

    def random_action(self) -> np.ndarray:
        """A uniformly random action from the action space."""
        return np.asarray(self.env.action_space.sample(self._split()))

    def step(self, action) -> EpisodeStats | None:
        """Take ``action``; returns the episode's statistics if it ended, else ``None``.

        Raises:
            ValueError: ``action`` is outside the action space.
            RuntimeError: called before :meth:`reset`.
        """
        if self.state is None:
            raise RuntimeError("EpisodeRunner.step called before reset")
        self.env.check_action(action)
        obs, state, reward, terminated, truncated, info = self._step(
            self._split(), self.state, np.asarray(action, np.int32), self.params
        )
        self.obs, self.state = obs, state
        self.episode_return += float(reward)
        self.length += 1
        if not (bool(terminated) or bool(truncated)):
            return None
        info = jax.device_get(info)
        end = {k: _python(info[k]) for k in self.env.info_at_end if k in info}
        return EpisodeStats(self.episode_return, self.length, bool(truncated), end)

    def frame(self) -> np.ndarray:
        """The current picture, uint8 (H, W, 3): the observation (84 x 84) where it is an
        image, else the environment's :meth:`~engram.core.Environment.frame` (vector
        observations such as ``TMaze-v0``'s; drawn eagerly, its size depends on params)."""
        if self.env.pixel_observations:
            return image_of(jax.device_get(self.obs))
        return np.asarray(self.env.frame(self.state, self.params), np.uint8)

    def debug_frame(self) -> np.ndarray:
        """The ground-truth view of the current state, uint8 (84, 84, 3).

        Raises:
            NotImplementedError: the environment has no debug view.
        """
        if self._debug is None:
            raise NotImplementedError(f"{self.env_id} has no debug view")
        return np.asarray(self._debug(self.state, self.params), np.uint8)


def _python(value):
    a = np.asarray(value)
    if a.ndim:
        return a.tolist()
    return float(a) if a.dtype.kind == "f" else int(a)
