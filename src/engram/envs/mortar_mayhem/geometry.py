"""Mortar Mayhem's geometry: the screen, the tiles and where the arena sits (shared by
the rules and the pictures)."""

from __future__ import annotations

SCREEN = 84  # px; 336 * SCALE with SCALE = 0.25 (memory_gym/*.py)
TILE = 14  # px; MortarArena.tile_dim = 56 * 0.25


def arena_left(size):
    """Left (= top) edge in px of an arena of ``size`` tiles, centred on the 84-px screen
    (``MortarArena``: 14-px tiles)."""
    return SCREEN // 2 - (TILE // 2) * size
