"""Mystery Path's geometry: the screen, the tiles and the endless variant's segments
(shared by the rules and the pictures)."""

from __future__ import annotations

from engram.envs.mystery_path.path_search import CELLS, GRID

SCREEN = 84  # px; 336 * SCALE with SCALE = 0.25 (memory_gym/*.py)
TILE = 12  # px; tile_dim = 84 / 7 (84 // 7 in the endless variant)
SEGMENT_COLUMNS = GRID + 1  # EndlessMysteryPath.segment_length (7 + transition tile)
SEGMENT_SLOTS = CELLS + 1  # path nodes of one segment at most (49 + transition node)
