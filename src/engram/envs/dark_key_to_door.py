"""``DarkKeyToDoor-v0``: find a key, then a door, in a dark room; again and again in a trial.

The gridworld of Algorithm Distillation (Laskin et al. 2022) in the version AMAGO and Memo
use (``RoomKeyDoor``; the Memo paper):

* a ``room_size`` x ``room_size`` room (default 9); the start, key and door cells are
  drawn per *trial*, three distinct cells uniformly, and kept for all its episodes;
* actions ``Discrete(5)``: 0 up ``(0, -1)``, 1 left ``(-1, 0)``, 2 down ``(0, +1)``,
  3 right ``(+1, 0)``, 4 stay; the position is clipped to the room;
* reward +1 on first reaching the key in an episode, +1 on reaching the door while
  holding the key, which terminates the episode; at most 2 per episode;
* every episode starts at the trial's start cell without the key; episodes last at most
  ``episode_length`` steps (default 50), trials ``trial_length`` steps (default 500);
* the room is dark: the agent observes only its position and whether it holds the key,
  float32 ``[x / room_size, y / room_size, has_key]`` (AMAGO's observation without its
  time feature, which the trial inputs provide), plus the trial inputs of
  :mod:`engram.core.trials` (previous action and reward, episode start, time).

A memory-less agent must search the room in every episode; one that remembers where the
key and the door were walks straight to them in later episodes, so its return per trial
is far higher (Memo: "well above 50" in a 500-step trial for AMAGO's agents).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from engram.core.params import Params, ResetParameter
from engram.core.registry import register
from engram.core.spaces import Box, Discrete
from engram.core.trials import TrialEnvironment, check_trial_lengths, trial_parameters

#: (dx, dy) of each action, AMAGO's order (y grows downwards in :meth:`frame`).
MOVES = ((0, -1), (-1, 0), (0, 1), (1, 0), (0, 0))

PARAMETERS = (
    ResetParameter(
        "room_size", 9, "int", 2, None, "cells per side of the square room (3 distinct entities)"
    ),
    *trial_parameters(episode_length=50, trial_length=500),
)


@struct.dataclass
class Task:
    start: jax.Array  # int32 (2,) x, y
    key: jax.Array  # int32 (2,)
    door: jax.Array  # int32 (2,)


@struct.dataclass
class Episode:
    pos: jax.Array  # int32 (2,)
    has_key: jax.Array  # bool


def distinct_cells(key: jax.Array, n_cells, count: int) -> jax.Array:
    """``count`` distinct cell indices drawn uniformly from ``0 .. n_cells - 1`` (``n_cells``
    may be traced): the i-th draw is uniform over the cells not taken yet, then shifted past
    the taken ones in increasing order. int32 ``(count,)``."""
    taken = []
    for i, k in enumerate(jax.random.split(key, count)):
        c = jax.random.randint(k, (), 0, n_cells - i)
        for t in jnp.sort(jnp.stack(taken)) if taken else ():
            c = c + (c >= t)
        taken.append(c)
    return jnp.stack(taken).astype(jnp.int32)


class DarkKeyToDoor(TrialEnvironment):
    """Dark-Key-To-Door (module docstring). ``room_size`` is dynamic: one program serves
    every room."""

    env_id = "DarkKeyToDoor-v0"
    reset_parameters = PARAMETERS
    task_observation_space = Box(0.0, 1.0, (3,), np.float32)
    action_space = Discrete(5)
    render_fps = 10
    #: Pixels per cell in :meth:`episode_frame`.
    CELL = 8
    info_at_end = ("success",)
    play_keys = {"up": 0, "left": 1, "down": 2, "right": 3, "wait": 4}

    def make_params(self, reset_params: dict) -> Params:
        check_trial_lengths(reset_params)
        return super().make_params(reset_params)

    def sample_task(self, key, params: Params) -> Task:
        """Start, key and door: three distinct cells, uniformly."""
        size = params.room_size
        cells = distinct_cells(key, size * size, 3)
        xy = jnp.stack([cells % size, cells // size], -1)
        return Task(start=xy[0], key=xy[1], door=xy[2])

    def _obs(self, episode: Episode, params: Params) -> jax.Array:
        size = params.room_size.astype(jnp.float32)
        return jnp.concatenate(
            [episode.pos.astype(jnp.float32) / size, episode.has_key[None].astype(jnp.float32)]
        )

    def reset_episode(self, key, task: Task, params: Params):
        """The agent at the trial's start cell, without the key (``key`` unused)."""
        del key
        episode = Episode(pos=task.start, has_key=jnp.bool_(False))
        return self._obs(episode, params), episode

    def episode_step(self, key, task: Task, episode: Episode, action, params: Params):
        """One move. Returns ``(obs, episode, reward, terminated, info)``; ``info["success"]``:
        the door was reached with the key (the episode's end)."""
        del key
        move = jnp.asarray(MOVES, jnp.int32)[action]
        pos = jnp.clip(episode.pos + move, 0, params.room_size - 1)
        on_key = jnp.all(pos == task.key)
        got_key = on_key & ~episode.has_key
        has_key = episode.has_key | on_key
        opened = has_key & jnp.all(pos == task.door)
        reward = got_key.astype(jnp.float32) + opened.astype(jnp.float32)
        nxt = Episode(pos=pos, has_key=has_key)
        return self._obs(nxt, params), nxt, reward, opened, {"success": opened}

    def episode_frame(self, task: Task, episode: Episode, params: Params) -> jax.Array:
        """The room from above, lit: uint8 ``(room_size * CELL,) * 2 + (3,)``; floor grey,
        start blue, key yellow (until taken), door brown, agent white. ``room_size`` fixes
        the shape, so it is read on the host (not traceable)."""
        size = int(params.room_size)
        ys, xs = jnp.mgrid[:size, :size]

        def at(p):
            return ((xs == p[0]) & (ys == p[1]))[..., None]

        img = jnp.full((size, size, 3), 90, jnp.uint8)
        img = jnp.where(at(task.start), jnp.asarray([60, 90, 200], jnp.uint8), img)
        img = jnp.where(at(task.door), jnp.asarray([140, 80, 30], jnp.uint8), img)
        key_shown = at(task.key) & ~episode.has_key
        img = jnp.where(key_shown, jnp.asarray([240, 210, 40], jnp.uint8), img)
        img = jnp.where(at(episode.pos), jnp.uint8(255), img)
        return jnp.repeat(jnp.repeat(img, self.CELL, 0), self.CELL, 1)


register("DarkKeyToDoor-v0", PARAMETERS, lambda rp: DarkKeyToDoor())
