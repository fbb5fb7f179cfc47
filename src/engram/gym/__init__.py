"""Gymnasium adapters: every engram id as ``gymnasium.make("engram/<id>")``.

``import engram`` registers ``engram/<id>`` for every registered id, with a
``vector_entry_point``, so that ``gymnasium.make_vec("engram/<id>", num_envs=N)`` gives
:class:`GymVectorEnv`: one ``jit(vmap(step))`` over all N copies, not N Python envs.
Works with Gymnasium 0.29 (what ``memory-gym`` pins) and 1.x.

Differences from the original package, on purpose (the README's table lists them all):

* Observations are in standard image layout ``(H, W, C)`` = ``(84, 84, 3)`` with row = y.
  The original returns ``pygame.surfarray.array3d``, i.e. ``(x, y, c)``; use
  ``obs.transpose(1, 0, 2)`` to get the original's layout (``render()`` is the same in
  both).
* Time limits (``max_steps`` of the endless variants) end the episode with
  ``truncated=True``; the original reports them as ``done`` and never truncates.
* ``reset(seed=s)`` seeds a JAX key, so episodes for a seed differ from the original's
  (the episode *distribution* is the same). ``options`` takes the original's reset
  parameters, validated with a ``ValueError`` naming the parameter, value and range.
* ``info`` has the original's keys: empty on ordinary steps (the endless variants
  always carry ``ground_truth``), episode statistics on the last step.
"""

from __future__ import annotations

import functools

import gymnasium

from engram.core.registry import registered_ids
from engram.gym._compat import GYMNASIUM_1, AutoresetMode
from engram.gym.env import GymEnv, action_array, max_episode_steps
from engram.gym.vector import GymVectorEnv, batch_action_array

NAMESPACE = "engram"

__all__ = [
    "GYMNASIUM_1",
    "NAMESPACE",
    "AutoresetMode",
    "GymEnv",
    "GymVectorEnv",
    "action_array",
    "batch_action_array",
    "max_episode_steps",
    "register_all",
]


def register_all() -> None:
    """Register ``engram/<id>`` with Gymnasium for every engram id (idempotent).

    The vector entry point is bound to the id: Gymnasium 0.29's
    ``make_vec(..., vectorization_mode="custom")`` passes it only ``num_envs``,
    ``max_episode_steps`` and ``vector_kwargs``, not the spec's kwargs.
    """
    for env_id in registered_ids():
        name = f"{NAMESPACE}/{env_id}"
        if name in gymnasium.registry:
            continue
        gymnasium.register(
            id=name,
            entry_point="engram.gym:GymEnv",
            vector_entry_point=functools.partial(GymVectorEnv, env_id=env_id),
            kwargs={"env_id": env_id},
        )
