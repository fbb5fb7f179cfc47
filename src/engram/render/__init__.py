"""Rendering: pygame-exact rasterisers (NumPy, build time) and JAX compositing (step time)."""

from engram.render.ops import blit, circle_table, filled_circle_mask
from engram.render.raster import draw_circle, draw_line, draw_rect, paint, rotate
from engram.render.sprites import (
    COMMANDS,
    agent_sprites,
    coin_masks,
    command_symbols,
    exit_masks,
)

__all__ = [
    "COMMANDS",
    "agent_sprites",
    "blit",
    "circle_table",
    "coin_masks",
    "command_symbols",
    "draw_circle",
    "draw_line",
    "draw_rect",
    "exit_masks",
    "filled_circle_mask",
    "paint",
    "rotate",
]
