"""``TMaze-v0``: the passive T-maze of long-term memory benchmarks.

Rules of Ni et al. 2023 ("When Do Transformers Shine in RL? Decoupling Memory from
Credit Assignment"), passive version with ambiguous positions, as used by AMAGO and Memo
(``TMazeAltPassive`` there; the Memo paper):

* cells: a corridor ``(x, 0)`` for ``x = 0 .. corridor_length`` and the two goal
  candidates ``(corridor_length, +1)`` (up) and ``(corridor_length, -1)`` (down) at the
  junction. The agent starts at ``(0, 0)``; a move into a non-cell leaves it in place;
* the cue (the goal's side, +1 or -1) is in the reset observation only;
* an episode lasts exactly ``corridor_length + 1`` steps (the fastest way to a goal
  candidate) and then terminates;
* reward: on the last step ``goal_reward`` if the agent stands on the cued goal, else 0;
  on every other step ``penalty / corridor_length`` if the agent is behind the optimal
  walk (``x < t``), else 0, so standing still for a whole episode sums to ``penalty``
  (Ni et al.: ``-1/T`` per step, "sum over t of -1/T = -1").

Observation: float32 ``(2,)``: ``[0, cue]`` on reset, ``[0, 0]`` in the corridor, ``[1, y]``
at the junction (``y = 0``) and on the goal candidates (``y = +-1``). With no memory the
junction looks the same for both cues, so a memory-less policy succeeds half the time.

Actions: ``Discrete(4)``: 0 forward (+x), 1 up (+y), 2 back (-x), 3 down (-y).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from engram.core.environment import Environment
from engram.core.params import Params, ResetParameter
from engram.core.registry import register
from engram.core.spaces import Box, Discrete

#: (dx, dy) of each action.
MOVES = ((1, 0), (0, 1), (-1, 0), (0, -1))

PARAMETERS = (
    ResetParameter(
        "corridor_length",
        100,
        "int",
        1,
        None,
        "cells between the cue and the junction; the episode lasts this + 1 steps",
    ),
    ResetParameter("goal_reward", 1.0, "float", 0.0, None, "reward for reaching the cued goal"),
    ResetParameter(
        "penalty",
        -1.0,
        "float",
        None,
        0.0,
        "summed penalty of an episode spent standing still; each step behind the optimal "
        "walk costs penalty / corridor_length",
    ),
)


@struct.dataclass
class State:
    x: jax.Array  # int32, 0 .. corridor_length
    y: jax.Array  # int32, -1, 0 or 1 (non-zero only at x == corridor_length)
    cue: jax.Array  # int32, -1 or 1: the side of the rewarded goal
    t: jax.Array  # int32, steps taken
    episode_return: jax.Array  # float32, sum of the rewards so far


class TMaze(Environment):
    """The passive T-maze (module docstring). ``reset`` and ``step`` are pure and
    ``jit``/``vmap``-able; ``corridor_length`` is a dynamic parameter, so one program
    serves every length."""

    env_id = "TMaze-v0"
    reset_parameters = PARAMETERS
    observation_space = Box(-1.0, 1.0, (2,), jnp.float32)
    action_space = Discrete(4)
    render_fps = 10
    pixel_observations = False
    #: Pixels per maze cell in :meth:`frame`.
    CELL = 4
    info_at_end = ("reward", "length", "success")
    play_keys = {"right": 0, "up": 1, "left": 2, "down": 3}

    def episode_cap(self, reset_params: dict) -> int:
        """Every episode lasts exactly ``corridor_length + 1`` steps."""
        return reset_params["corridor_length"] + 1

    def _obs(self, state: State, params: Params, cue_visible) -> jax.Array:
        at_end = state.x == params.corridor_length
        second = jnp.where(at_end, state.y, jnp.where(cue_visible, state.cue, 0))
        return jnp.stack([at_end, second]).astype(jnp.float32)

    def frame(self, state: State, params: Params) -> jax.Array:
        """The maze from above: uint8 ``(3 * CELL, (corridor_length + 1) * CELL, 3)``, rows
        y = +1, 0, -1. Corridor grey, the cued goal green, the other red, the agent white.
        ``corridor_length`` fixes the width, so it is read on the host (not traceable)."""
        length = int(params.corridor_length)
        xs = jnp.arange(length + 1)
        ys = jnp.asarray([1, 0, -1])
        x, y = xs[None, :], ys[:, None]
        cell = (y == 0) | (x == length)
        goal = (x == length) & (y != 0)
        img = jnp.where(cell[..., None], jnp.uint8(128), jnp.uint8(0)) * jnp.ones(3, jnp.uint8)
        cued = jnp.asarray([40, 200, 40], jnp.uint8)
        other = jnp.asarray([200, 40, 40], jnp.uint8)
        img = jnp.where((goal & (y == state.cue))[..., None], cued, img)
        img = jnp.where((goal & (y != state.cue))[..., None], other, img)
        agent = (x == state.x) & (y == state.y)
        img = jnp.where(agent[..., None], jnp.uint8(255), img)
        return jnp.repeat(jnp.repeat(img, self.CELL, 0), self.CELL, 1)

    def reset(self, key: jax.Array, params: Params):
        """Start an episode with a uniformly drawn cue. Returns ``(obs, state)``."""
        cue = jnp.where(jax.random.bernoulli(key), 1, -1).astype(jnp.int32)
        zero = jnp.int32(0)
        state = State(x=zero, y=zero, cue=cue, t=zero, episode_return=jnp.float32(0))
        return self._obs(state, params, True), state

    def step(self, key: jax.Array, state: State, action, params: Params):
        """One move (``key`` unused: the maze is deterministic once the cue is drawn).

        Returns ``(obs, state, reward, terminated, truncated, info)``; ``info`` has
        ``reward`` (the episode's return so far), ``length`` (steps so far) and
        ``success`` (the cued goal reached), meaningful on the last step as in Memory Gym.
        """
        del key
        a = jnp.asarray(action, jnp.int32).reshape(())
        move = jnp.asarray(MOVES, jnp.int32)[a]
        x, y = state.x + move[0], state.y + move[1]
        length = params.corridor_length
        on_corridor = (y == 0) & (x >= 0) & (x <= length)
        on_goal = (x == length) & (jnp.abs(y) == 1)
        valid = on_corridor | on_goal
        x = jnp.where(valid, x, state.x)
        y = jnp.where(valid, y, state.y)
        t = state.t + 1
        done = t >= length + 1
        success = done & (y == state.cue)
        lag = (x < t).astype(jnp.float32) * params.penalty / length.astype(jnp.float32)
        reward = jnp.where(done, success.astype(jnp.float32) * params.goal_reward, lag)
        new = State(x=x, y=y, cue=state.cue, t=t, episode_return=state.episode_return + reward)
        info = {"reward": new.episode_return, "length": t, "success": success}
        return self._obs(new, params, False), new, reward, done, jnp.bool_(False), info


register("TMaze-v0", PARAMETERS, lambda rp: TMaze())
