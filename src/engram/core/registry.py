"""The registry of environment ids and :func:`make`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engram.core.environment import Environment
from engram.core.params import ResetParameter, resolve

_REGISTRY: dict[str, tuple[tuple[ResetParameter, ...], Callable[[dict], Environment]]] = {}


def register(
    env_id: str,
    reset_parameters: tuple[ResetParameter, ...],
    factory: Callable[[dict], Environment],
) -> None:
    """Register ``env_id``.

    Args:
        env_id: the original package's id, e.g. ``"MortarMayhem-v0"``.
        reset_parameters: the id's reset parameters (names, defaults, ranges).
        factory: ``factory(reset_params) -> Environment`` builds the static environment
            from a complete, validated reset-parameter dict.

    Raises:
        ValueError: if ``env_id`` is already registered.
    """
    if env_id in _REGISTRY:
        raise ValueError(f"environment id {env_id!r} is already registered")
    _REGISTRY[env_id] = (tuple(reset_parameters), factory)


def registered_ids() -> list[str]:
    """All registered environment ids, sorted."""
    return sorted(_REGISTRY)


def reset_parameters(env_id: str) -> tuple[ResetParameter, ...]:
    """The reset parameters (name, default, allowed range) of ``env_id``."""
    return _entry(env_id)[0]


def _entry(env_id: str):
    if env_id not in _REGISTRY:
        raise ValueError(
            f"unknown environment id {env_id!r}; registered ids are {registered_ids()}"
        )
    return _REGISTRY[env_id]


def make(env_id: str, **overrides: Any) -> tuple[Environment, Any]:
    """Build an environment and its params.

    Args:
        env_id: a registered id such as ``"MortarMayhem-v0"``.
        **overrides: reset parameters under the original package's names, e.g.
            ``arena_size=4`` or ``command_count=[5, 10]``.

    Returns:
        ``(env, params)``: the static environment object and the params pytree.

    Raises:
        ValueError: unknown id (listing the valid ones), unknown reset parameter or a value
            outside the original's allowed range. Raised before any compilation.
    """
    specs, factory = _entry(env_id)
    values = resolve(specs, overrides)
    env = factory(values)
    return env, env.make_params(values)
