"""Movement rules shared by the environments' agents (Memory Gym's
``character_controller.py``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def character_radius(agent_scale: float) -> int:
    """The agent's collision radius in px for ``agent_scale``: ``int(25 * scale)``
    (memory-gym's ``CharacterController.radius``)."""
    return int(25 * agent_scale)


def character_rotation(dx, dy, rotation) -> jax.Array:
    """``CharacterController.step``'s rotation rule: the sprite's rotation in degrees
    after a move by ``(dx, dy)`` in {-1, 0, 1} (screen axes, y down); the last matching
    rule wins, so diagonals override, and no move keeps ``rotation``. int32 scalar."""
    rot = rotation
    rot = jnp.where(dx == -1, 90, rot)
    rot = jnp.where(dx == 1, 270, rot)
    rot = jnp.where(dy == -1, 0, rot)
    rot = jnp.where(dy == 1, 180, rot)
    rot = jnp.where((dx == -1) & (dy == -1), 45, rot)
    rot = jnp.where((dx == -1) & (dy == 1), 135, rot)
    rot = jnp.where((dx == 1) & (dy == -1), 315, rot)
    return jnp.where((dx == 1) & (dy == 1), 225, rot)


def action_velocity(action, speed) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Direction and velocity of a ``MultiDiscrete([3, 3])`` action (``CharacterController``).

    ``action[0]``: 0 none, 1 left, 2 right; ``action[1]``: 0 none, 1 up, 2 down. Returns
    ``(dx, dy, velocity)``: ``dx``, ``dy`` int32 in {-1, 0, 1} and ``velocity`` float32
    ``(2,)`` in pixels, the direction normalised to length ``speed`` (pygame normalises in
    float64; float32 gives the same integer part for every speed the ids use, e.g.
    diagonal 3 * 0.7071 = 2.12 -> 2 px per axis once truncated).
    """
    a = jnp.asarray(action, jnp.int32).reshape(2)
    dx = jnp.where(a[0] == 1, -1, jnp.where(a[0] == 2, 1, 0))
    dy = jnp.where(a[1] == 1, -1, jnp.where(a[1] == 2, 1, 0))
    norm = jnp.where((dx != 0) & (dy != 0), jnp.float32(np.sqrt(0.5)), 1.0)
    return dx, dy, jnp.stack([dx, dy]).astype(jnp.float32) * norm * speed


#: Tile step of each facing of the grid controller (rotation // 90): north, west, south, east.
_GRID_STEPS = np.asarray([[0, -1], [-1, 0], [0, 1], [1, 0]], np.int32)


def grid_move(action, rotation, tile, size) -> tuple[jax.Array, jax.Array]:
    """``GridCharacterController.step``: a ``Discrete(4)`` action on a grid of ``size`` x
    ``size`` tiles. 0 no-op, 1 rotate left (+90 degrees), 2 rotate right (-90), 3 forward
    one tile in the facing direction (0 north, 90 west, 180 south, 270 east), clamped to
    the grid.

    Returns ``(tile, rotation)``: int32 ``(2,)`` tile ``(x, y)`` and int32 degrees in
    ``[0, 360)``.
    """
    a = jnp.asarray(action, jnp.int32).reshape(())
    rot = (rotation + jnp.where(a == 1, 90, 0) - jnp.where(a == 2, 90, 0)) % 360
    moved = jnp.clip(tile + jnp.asarray(_GRID_STEPS)[rot // 90], 0, size - 1)
    return jnp.where(a == 3, moved, tile), rot
