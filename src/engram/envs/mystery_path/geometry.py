"""Mystery Path's geometry: the screen, the tiles and the endless variant's segments
(shared by the rules and the pictures)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from engram.envs.mystery_path.path_search import CELLS, GRID

SCREEN = 84  # px; 336 * SCALE with SCALE = 0.25 (memory_gym/*.py)
TILE = 12  # px; tile_dim = 84 / 7 (84 // 7 in the endless variant)
SEGMENT_COLUMNS = GRID + 1  # EndlessMysteryPath.segment_length (7 + transition tile)
SEGMENT_SLOTS = CELLS + 1  # path nodes of one segment at most (49 + transition node)


def camera_offset(camera_offset_scale) -> jax.Array:
    """The endless variant's camera x at a (re)start, float32 px: the camera leads the
    agent by ``camera_offset_scale`` tiles (clipped to the reset parameter's 0..5.5)."""
    return -TILE * jnp.clip(camera_offset_scale, 0.0, 5.5)
