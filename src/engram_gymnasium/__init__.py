"""Gymnasium 0.29's environment plugin for engram: ``gymnasium.make("engram/<id>")``
without ``import engram``.

Gymnasium 0.29 calls :func:`register` on ``import gymnasium`` for every installed package
that declares a ``gymnasium.envs`` entry point (engram's ``pyproject.toml`` does).
It registers the ids with entry points given as strings, so nothing heavy is imported
then: JAX and engram load on the first ``make``. Gymnasium 1.x has no plugins; there,
``import engram`` or the id ``"engram:engram/<id>"`` registers them.
"""

from __future__ import annotations

import functools

NAMESPACE = "engram"

#: engram's ids (``engram.registered_ids()``; a test keeps the two equal).
IDS = (
    "DarkKeyToDoor-v0",
    "Endless-MortarMayhem-v0",
    "Endless-MysteryPath-v0",
    "Endless-SearingSpotlights-v0",
    "MortarMayhem-Grid-v0",
    "MortarMayhem-v0",
    "MortarMayhemB-Grid-v0",
    "MortarMayhemB-v0",
    "MysteryPath-Grid-v0",
    "MysteryPath-v0",
    "ObjectNav-v0",
    "SearingSpotlights-v0",
    "TMaze-v0",
)


def make_vector(env_id: str, num_envs: int = 1, **kwargs):
    """``engram.gym.GymVectorEnv(env_id, num_envs, **kwargs)``, imported on first use."""
    from engram.gym import GymVectorEnv

    kwargs.pop("env_id", None)  # Gymnasium 1.x passes the spec's kwargs too
    return GymVectorEnv(env_id, num_envs=num_envs, **kwargs)


def register() -> None:
    """Register ``engram/<id>`` for every id in :data:`IDS` (idempotent)."""
    # The registration module, not the package: this runs while `gymnasium` is importing.
    from gymnasium.envs.registration import register as gymnasium_register
    from gymnasium.envs.registration import registry

    for env_id in IDS:
        name = f"{NAMESPACE}/{env_id}"
        if name in registry:
            continue
        gymnasium_register(
            id=name,
            entry_point="engram.gym:GymEnv",
            vector_entry_point=functools.partial(make_vector, env_id),
            kwargs={"env_id": env_id},
        )
