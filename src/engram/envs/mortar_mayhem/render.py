"""Mortar Mayhem's pictures: the observation (the arena, the agent, the command symbol)
and the debug view, drawn as the original draws them, pixel for pixel.

The observation is made of contiguous copies (:mod:`engram.render.ops`, "flat frames"): the
arena picture from a table of every arena (size, check on or off, target tile), the
agent's pre-drawn band of rows at its height, the symbol's band at rows 31..61.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from engram.envs.mortar_mayhem.geometry import SCREEN, TILE, arena_left
from engram.render import agent_sprites, command_symbols
from engram.render.ops import BitSprites, SpriteBands, table_row

SYMBOL_TOP_LEFT = 31  # px; Command surface blitted at (84 // 2 - 22 // 2) on both axes
#: The B variants' one-hot slot of each command (``_encode_commands_one_hot``: the
#: order there is stay, right, left, up, down, right_down, right_up, left_down, left_up).
_ONE_HOT_SLOT = np.array([1, 4, 2, 3, 0, 5, 6, 7, 8], dtype=np.int32)
B_MAX_COMMANDS = 20  # MortarMayhemTaskBEnv.max_num_commands

# Tile colours (MortarTile): fill and 1-px border (width int(4 * 0.25)).
_BLUE, _LIGHT_BLUE = (21, 43, 77), (29, 60, 107)
_RED, _LIGHT_RED = (81, 18, 26), (112, 24, 36)
_GREEN, _LIGHT_GREEN = (20, 90, 40), (30, 130, 60)  # debug view only


def _arena(size, target, red, debug: bool = False) -> jax.Array:
    """The arena picture: uint8 (84, 84, 3), black with ``size`` x ``size`` tiles of 14 px
    and a 1-px lighter border, centred; where ``red`` (the check, with
    ``visual_feedback``) every tile but ``target`` (int (2,) tile x, y) is red. ``debug``
    paints the target tile green (not in the original: the debug view)."""
    left = arena_left(size)
    p = jnp.arange(SCREEN) - left
    inside = (p >= 0) & (p < TILE * size)
    local = p % TILE
    border1 = (local == 0) | (local == TILE - 1)
    tile1 = p // TILE
    inside2 = inside[:, None] & inside[None, :]  # [y, x]
    border = (border1[:, None] | border1[None, :])[..., None]
    is_target = (tile1[None, :] == target[0]) & (tile1[:, None] == target[1])
    red = (red & ~is_target)[..., None]

    def colour(fill, line):
        return jnp.where(border, jnp.asarray(line, jnp.uint8), jnp.asarray(fill, jnp.uint8))

    img = jnp.where(red, colour(_RED, _LIGHT_RED), colour(_BLUE, _LIGHT_BLUE))
    if debug:
        img = jnp.where(is_target[..., None], colour(_GREEN, _LIGHT_GREEN), img)
    return jnp.where(inside2[..., None], img, jnp.uint8(0))


#: Arena sizes the original accepts (its assert) and the first row of each in the table
#: of arena pictures: the plain arena, then the check with the target at tile (x, y) in
#: row ``1 + y * size + x``.
_SIZES = range(2, 7)
_TABLE_START = {s: sum(1 + k * k for k in range(2, s)) for s in _SIZES}


@functools.cache
def _arena_table() -> np.ndarray:
    """Every arena picture an observation can show (95 of them), flat uint8
    ``(95, 84 * 84 * 3)``, drawn once per process by :func:`_arena`."""
    sizes, targets, red = [], [], []
    for s in _SIZES:
        sizes.append(s), targets.append((0, 0)), red.append(False)
        for y in range(s):
            for x in range(s):
                sizes.append(s), targets.append((x, y)), red.append(True)
    draw = jax.jit(jax.vmap(_arena))
    pictures = draw(jnp.asarray(sizes), jnp.asarray(targets), jnp.asarray(red))
    return np.asarray(pictures).reshape(len(sizes), -1)


def command_vector(commands, num_commands, max_commands: int) -> jax.Array:
    """The Act variants' vector observation: float32 ``(B_MAX_COMMANDS * 9,)``, one
    one-hot row per command in the original's slot order (``_encode_commands_one_hot``),
    zero rows past ``num_commands``."""
    n = min(max_commands, B_MAX_COMMANDS)
    slots = jnp.asarray(_ONE_HOT_SLOT)[commands[:n]]
    active = jnp.arange(n) < num_commands
    onehot = (slots[:, None] == jnp.arange(9)[None, :]) & active[:, None]
    onehot = jnp.pad(onehot, ((0, B_MAX_COMMANDS - n), (0, 0))).astype(jnp.float32)
    return onehot.reshape(-1)


class Picture:
    """The pictures of one agent size (``agent_scale``): tables built once, then each
    frame is a few contiguous copies (no scatter under ``vmap``)."""

    def __init__(self, agent_scale: float):
        # Sprites as bit planes (BitSprites): drawing them under vmap needs no scatter.
        sprite_rgb, sprite_mask = agent_sprites(agent_scale)
        self._agent = BitSprites.of(sprite_rgb, sprite_mask)  # the debug view
        self._sprite_half = sprite_rgb.shape[1] // 2  # rect.topleft = center - 14
        self._agent_bands = SpriteBands.of(sprite_rgb, sprite_mask)
        self._arenas = jnp.asarray(self._agent_bands.pad(_arena_table()))
        symbol_rgb, symbol_mask = command_symbols()
        s = symbol_mask.shape[1]
        rows = np.zeros((len(symbol_mask), s, SCREEN, 3), np.uint8)
        rows[:, :, SYMBOL_TOP_LEFT : SYMBOL_TOP_LEFT + s] = np.where(
            symbol_mask[..., None], symbol_rgb, 0
        )
        self._symbol_rows = jnp.asarray(rows.reshape(len(symbol_mask), -1))

    def observation(self, state, params) -> jax.Array:
        """The arena, the agent at its frame pose (``state.frame_pos``,
        ``state.frame_rotation``) and the command symbol ``state.symbol``, in that order
        as the original draws them: uint8 ``(84, 84, 3)``."""
        size = params.arena_size
        red = state.tiles_on & params.visual_feedback
        tx, ty = state.target[0], state.target[1]
        start = jnp.asarray([_TABLE_START.get(s, 0) for s in range(7)], jnp.int32)[size]
        frame = table_row(self._arenas, start + jnp.where(red, 1 + ty * size + tx, 0))
        h = self._sprite_half
        pos = state.frame_pos
        frame = self._agent_bands.overlay(frame, state.frame_rotation // 45, pos[0] - h, pos[1] - h)
        frame = self._agent_bands.unpad(frame)
        # The symbol is drawn last, over the agent, with its top-left at (31, 31) even
        # for the larger rotated arrows (the original does not re-centre them).
        row = SCREEN * 3
        top, bottom = SYMBOL_TOP_LEFT * row, SYMBOL_TOP_LEFT * row + self._symbol_rows.shape[1]
        symbol = table_row(self._symbol_rows, state.symbol)
        middle = jnp.where(symbol != 0, symbol, frame[top:bottom])
        frame = jnp.concatenate([frame[:top], middle, frame[bottom:]])
        return frame.reshape(SCREEN, SCREEN, 3)

    def debug(self, state, params, endless: bool) -> jax.Array:
        """The arena with the tile the agent must reach next painted green, and the agent
        (the endless variant at its sprite pose): uint8 ``(84, 84, 3)``."""
        pose = (state.sprite_rotation, state.sprite_pos) if endless else None
        rot, pos = pose if pose is not None else (state.rotation, state.pos)
        red = state.tiles_on & params.visual_feedback
        img = _arena(params.arena_size, state.target, red, debug=True)
        h = self._sprite_half
        return self._agent.draw(img, rot // 45, pos[0] - h, pos[1] - h)
