"""Mystery Path's pictures: the observation and the debug view of the finite, grid and
endless variants, drawn as the original draws them, pixel for pixel (the rules are
:mod:`engram.envs.mystery_path.env`).

Frames are built from flat tables (:mod:`engram.render.ops`, "flat frames"): rows of
tiles (finite), the agent's band of rows, the X's band of rows, each copied in as a
contiguous block where a blit would scatter under ``vmap``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from engram.envs.mystery_path.geometry import (
    SCREEN,
    SEGMENT_COLUMNS,
    SEGMENT_SLOTS,
    TILE,
    camera_offset,
)
from engram.envs.mystery_path.path_search import GRID, cells_of_mask
from engram.render import agent_sprites, draw_line
from engram.render.ops import SpriteBands, computed_once, settled, table_row

if TYPE_CHECKING:
    from engram.envs.mystery_path.env import EndlessState, Params, State, Variant

# Colours (mystery_path.py / pygame_assets.py).
_ORIGIN = (0, 0, 255)  # show_origin
_GOAL = (0, 255, 0)  # show_goal
_PATH = (255, 255, 255)  # debug path; endless past path
_WALL = (255, 0, 0)  # debug walls (Node.draw_to_surface)
_BORDER = (210, 210, 210)  # endless past-path tile border, ice-tile border
_ICE = (125, 177, 250)  # endless background tile (draw_icy_surface)
_X_RED = (255, 0, 0)  # fall-off marker
_STAMINA = ((0, 255, 0), (255, 0, 0))  # stamina bar: remaining, spent

# Endless frames are drawn on flat rows, uint8 (84, 84 * 3): per byte column, the ice's
# colour and the stamina bar's colours (remaining, spent).
_ICE_BYTES = np.tile(np.uint8(_ICE), SCREEN)
ROWS = SCREEN // TILE  # rows of tiles on the screen
_BAR_BYTES = np.stack([np.tile(np.uint8(c), SCREEN) for c in _STAMINA])
_BAR_LEFT = (SCREEN - 4) * 3  # the stamina bar's first byte in a row (x = 80)


def _tile_bands() -> np.ndarray:
    """Host side: uint8 (64, 12 * 84 * 3), the finite background's 12-px rows of tiles:
    black, the tile in column ``bx`` blue (origin) and the one in column ``gx`` green
    (goal) in row ``8 bx + gx`` (7: none). The origin is drawn over the goal, as
    ``MysteryPath.draw_to_surface`` draws the path from the end to the start."""
    out = np.zeros((8, 8, TILE, SCREEN, 3), np.uint8)
    for bx in range(8):
        for gx in range(8):
            if gx < GRID:
                out[bx, gx, :, TILE * gx : TILE * (gx + 1)] = _GOAL
            if bx < GRID:
                out[bx, gx, :, TILE * bx : TILE * (bx + 1)] = _ORIGIN
    return out.reshape(64, -1)


def _marker_bands(size: int, half: int) -> SpriteBands:
    """The fall-off X as opaque bands for :func:`_overlay_marker`: sprite 0 blank,
    sprite 1 the X, each on a ``size``-px square whose top-left is the X's centre minus
    ``half`` (the agent sprite's square, so that both are placed alike)."""
    _, x_mask = _fall_marker()
    d = x_mask.shape[0]
    mask = np.zeros((2, size, size), bool)
    at = half - d // 2
    mask[1, at : at + d, at : at + d] = x_mask
    return SpriteBands.of(np.full((2, size, size, 3), 255, np.uint8), mask)


def _overlay_marker(frame, bands: SpriteBands, show, x, y):
    """:meth:`SpriteBands.overlay` of the X (sprite 1 where ``show``, else the blank
    sprite 0) in ``_X_RED``, which has zero channels, so the bands only mark where."""
    d, row = bands.size, bands.width * 3
    x = jnp.clip(x, -d, bands.width)
    y = jnp.clip(y, -d, frame.shape[0] // row - 2 * d)
    band = table_row(bands.bands, show.astype(jnp.int32) * (bands.width + d + 1) + x + d)
    start = (y + d) * row
    under = jax.lax.dynamic_slice(frame, (start,), (d * row,))
    red = jnp.asarray(np.tile(np.uint8(_X_RED), d * bands.width))
    return jax.lax.dynamic_update_slice(frame, jnp.where(band != 0, red, under), (start,))


def _columns(table, pcol):
    """Endless frames: bool (84, 7) [x, tile row] of a bool (9, 7) table of the tiles on
    screen, by column and row: screen x takes ``table[pcol[x]]`` (int32 (84,) ``pcol``,
    0..9; 9 reads False). One select per column of tiles, where indexing by ``pcol``
    would gather under vmap, and ``any`` over the 9 inside a fused pass runs as a scalar
    loop per element on XLA's CPU backend (twice the time at B=64, ``jax.profiler``)."""
    out = jnp.zeros((pcol.shape[0], table.shape[1]), bool)
    for i in range(table.shape[0]):
        out = out | ((pcol == i)[:, None] & table[None, i])
    return out


def _fall_marker() -> tuple[np.ndarray, np.ndarray]:
    """The fall-off X: a 10×10 surface (``40 * 0.25``), two red diagonals of width 3
    (``int(12 * 0.25)``), black colour key. Returns rgb uint8 (10, 10, 3), mask bool."""
    dim = int(40 * 0.25)
    mask = np.zeros((dim, dim), bool)
    draw_line(mask, (0, 0), (dim - 1, dim - 1), int(12 * 0.25))
    draw_line(mask, (dim - 1, 0), (0, dim - 1), int(12 * 0.25))
    rgb = np.zeros((dim, dim, 3), np.uint8)
    rgb[mask] = _X_RED
    return rgb, mask


def _tile_pixels():
    """Per-pixel tile index and whether the pixel lies on a tile's 1-px border."""
    p = np.arange(SCREEN)
    return p // TILE, (p % TILE == 0) | (p % TILE == TILE - 1)


class Picture:
    """The pictures of one :class:`~engram.envs.mystery_path.env.Variant` (its agent
    size, finite or endless): tables built once, then each frame is a few contiguous
    copies (no scatter under ``vmap``).

    Args:
        variant: the environment's variant.
        radius: the agent's radius in px (``CharacterController.radius``): the endless
            agent is drawn at the screen x of its reset position.
    """

    def __init__(self, variant: Variant, radius: int):
        self._variant = variant
        sprite_rgb, sprite_mask = agent_sprites(variant.agent_scale)
        # Frames are built from flat tables (engram.render.ops, "flat frames"): rows of
        # tiles (finite), the agent's band of rows, the X's band of rows.
        self._agent_bands = SpriteBands.of(sprite_rgb, sprite_mask)
        self._marker_bands = _marker_bands(sprite_rgb.shape[1], sprite_rgb.shape[1] // 2)
        self._tile_bands = jnp.asarray(_tile_bands())
        self._sprite_half = sprite_rgb.shape[1] // 2  # rect.topleft = center - 14
        self._radius = radius

    def observation(self, state: State | EndlessState, params: Params) -> jax.Array:
        """The observation of ``state``: uint8 (84, 84, 3).

        Finite and grid: the background (black; with ``show_goal`` the end tile green,
        with ``show_origin`` the start tile blue), the agent and, in the frame of a fall
        (with ``visual_feedback``), the X over it. Made of contiguous copies
        (engram.render.ops, "flat frames"): each 12-px row of tiles from a table, the
        agent's and the X's pre-drawn bands of rows at their height. Endless:
        :meth:`_observation_endless`."""
        if self._variant.endless:
            return self._observation_endless(state, params)
        rows = []
        for ty in range(GRID):
            bx = jnp.where(params.show_origin & (state.start[1] == ty), state.start[0], GRID)
            gx = jnp.where(params.show_goal & (state.end[1] == ty), state.end[0], GRID)
            rows.append(table_row(self._tile_bands, bx * 8 + gx))
        return self._with_sprites(jnp.concatenate(rows), state, params)

    def _with_sprites(self, background: jax.Array, state: State, params: Params):
        """The flat uint8 (84 * 84 * 3,) ``background`` with the agent centred at its
        position and, in the frame of a fall (with ``visual_feedback``), the X over it
        (``fall_off_rect.center`` = the agent's rect centre): uint8 (84, 84, 3)."""
        bands = self._agent_bands
        margin = jnp.zeros(bands.size * SCREEN * 3, jnp.uint8)
        frame = jnp.concatenate([margin, background, margin])
        h = self._sprite_half
        x, y = state.pos[0] - h, state.pos[1] - h
        frame = bands.overlay(frame, state.rotation // 45, x, y)
        show = state.off_path & params.visual_feedback
        frame = _overlay_marker(frame, self._marker_bands, show, x, y)
        return self._screen(frame)

    def _screen(self, frame: jax.Array) -> jax.Array:
        """The screen of a flat frame padded for the agent's bands, once its last sprite is
        drawn (see :func:`engram.render.ops.settled`): uint8 (84, 84, 3)."""
        return self._agent_bands.unpad(settled(frame)).reshape(SCREEN, SCREEN, 3)

    def _debug_tiles(self, state: State):
        """The debug background: black, the path white, the walls red, the end green and
        the start blue (``draw_to_surface`` with every flag on): uint8 (84, 84, 3)."""
        tile, _ = _tile_pixels()
        tile = jnp.asarray(tile)
        cell = tile[None, :] * GRID + tile[:, None]  # [y, x] -> cell index
        is_start = (tile[None, :] == state.start[0]) & (tile[:, None] == state.start[1])
        is_end = (tile[None, :] == state.end[0]) & (tile[:, None] == state.end[1])
        colors = jnp.asarray([(0, 0, 0), _PATH, _WALL, _ORIGIN, _GOAL], jnp.uint8)
        which = jnp.where(cells_of_mask(state.on_path)[cell], 1, 0)
        which = jnp.where(cells_of_mask(state.walls)[cell], 2, which)
        which = jnp.where(is_end, 4, which)
        which = jnp.where(is_start, 3, which)
        return colors[which]

    def debug(self, state: State | EndlessState, params: Params) -> jax.Array:
        """The observation with the hidden path made visible: uint8 (84, 84, 3).

        Finite and grid: start (blue), end (green), the rest of the path (white) and the
        walls (red), as the original's debug surface. Endless: every built path tile in
        grey (200, 200, 200) under the past path the agent sees.
        """
        if self._variant.endless:
            return self._observation_endless(state, params, debug=True)
        return self._with_sprites(self._debug_tiles(state).reshape(-1), state, params)

    def _observation_endless(self, st: EndlessState, params: Params, debug=False):
        """Background (black or scrolling ice), the past path, the agent at a fixed
        screen x, the stamina bar, the X (``EndlessMysteryPathEnv._draw_surfaces``).

        Drawn on flat rows (uint8 (84, 252), "flat frames" in :mod:`engram.render.ops`):
        what varies along a row (the ice's and the tiles' border columns, which column of
        tiles a pixel shows) is computed once per byte column, so each layer is one
        vectorised pass over the frame's bytes."""
        v = self._variant
        n_cols = SEGMENT_COLUMNS * v.max_segments
        px = py = jnp.arange(SCREEN)  # screen x of each column, y of each row
        # A tile of column x is drawn at trunc(12 x - camera_x) (pygame truncates float
        # rects toward zero): at 12 x - ceil(camera_x) when that is >= 0, and at
        # 12 x - floor(camera_x) for the tile that starts left of the screen. With a
        # fractional camera (e.g. camera_offset_scale 3.29) that first tile therefore
        # ends one px further right, where its right border covers the next tile's left
        # border column (``overlap`` below).
        cam_lo = jnp.floor(st.camera_x).astype(jnp.int32)
        cam_hi = jnp.ceil(st.camera_x).astype(jnp.int32)

        # Past path: from current_node's previous node back to the first node in
        # column past_x = max(0, x - int(camera_offset_scale)), x = agent column - 1.
        x = jnp.floor_divide(st.pos[0], TILE) - 1
        past_x = jnp.maximum(0, x - params.camera_offset_scale.astype(jnp.int32))
        c = st.current
        k = c // SEGMENT_SLOTS
        prev_last = SEGMENT_SLOTS * (k - 1) + st.seg_len[jnp.maximum(k - 1, 0)] - 1
        prev = jnp.where(c == SEGMENT_SLOTS * k, prev_last, c - 1)
        sk = jnp.clip(past_x // SEGMENT_COLUMNS, 0, v.max_segments - 1)
        seg_x = jax.lax.dynamic_slice(st.node_x, (SEGMENT_SLOTS * sk,), (SEGMENT_SLOTS,))
        slots = SEGMENT_SLOTS * sk + jnp.arange(SEGMENT_SLOTS)
        hit = (seg_x == past_x) & (slots < c)
        first = jnp.where(jnp.any(hit), jnp.max(jnp.where(hit, slots, -1)), 0)
        # A walk that starts left of past_x stops after its first node.
        first = jnp.where(st.node_x[jnp.maximum(prev, 0)] < past_x, prev, first)
        # Nothing is drawn at the reset (current_node is the first node there).
        draw = params.show_past_path & (x >= 0) & (c > 0)

        c0 = jnp.floor_divide(cam_lo, TILE)  # the column of the tile at screen x = 0
        cols = c0 + jnp.arange(SCREEN // TILE + 2)
        valid = (cols >= 0) & (cols < n_cols)
        nodes = st.cell_node[jnp.clip(cols, 0, n_cols - 1)]  # (9, 7)
        nodes = jnp.where(valid[:, None], nodes, -1)
        past = draw & (nodes >= first) & (nodes < c) & (nodes >= 0)
        # Per screen x: the column of tiles it shows, whether the first tile's right
        # border overlaps it, whether the tiles have a border column there.
        first_tile = jnp.floor_divide(px + cam_lo, TILE) == c0
        wx = jnp.where(first_tile, px + cam_lo, px + cam_hi)  # world x of each screen x
        pcol = jnp.floor_divide(wx, TILE) - c0
        overlap = first_tile & (cam_lo != cam_hi) & (wx % TILE == TILE - 1)
        columns = [
            (wx % TILE == 0) | (wx % TILE == TILE - 1),
            *(_columns(past, pcol) | (overlap[:, None] & _columns(past, pcol + 1))).T,
        ]
        if debug:
            columns += list(_columns(nodes >= 0, pcol).T)
        # Then per byte column (each x's three bytes), once (see computed_once): the
        # ice's colour off its border rows (its border columns shift with bg_scroll),
        # the tiles' border columns, which of the 7 tile rows the past path (and, in the
        # debug view, any built tile) covers. Path tiles are white and every border
        # (210, 210, 210), the same in each channel.
        ice_col = ((px - st.bg_scroll) % TILE == 0) | ((px - st.bg_scroll) % TILE == TILE - 1)
        by_x = computed_once(jnp.stack([ice_col, *columns]).astype(jnp.uint8))
        table = computed_once(jnp.repeat(by_x, 3, axis=1))
        ice = jnp.where(table[0] != 0, jnp.uint8(_BORDER[0]), jnp.asarray(_ICE_BYTES))
        tile_col, past_rows = table[1] != 0, table[2 : 2 + ROWS] != 0
        built_rows = table[2 + ROWS :] != 0
        border = jnp.uint8(_BORDER[0])

        # The screen before the sprites and the stamina bar.
        by_row = lambda t: jnp.repeat(t, TILE, axis=0)  # noqa: E731
        row_border = ((py % TILE == 0) | (py % TILE == TILE - 1))[:, None]
        img = jnp.where(row_border, border, ice[None, :])
        img = jnp.where(params.show_background, img, jnp.uint8(0))
        if debug:
            img = jnp.where(by_row(built_rows), jnp.uint8(200), img)
        tile = jnp.where(row_border | tile_col[None, :], border, jnp.uint8(_PATH[0]))
        screen = jnp.where(by_row(past_rows), tile, img)
        # Sprites go on the flat frame with blank bands above and below
        # (SpriteBands.overlay): contiguous copies, where a blit scatters under vmap. The
        # frame is settled first: slicing the rows under the agent from the unwritten
        # frame made XLA compute them again, byte by byte, in a slow loop (settled).
        bands = self._agent_bands
        margin = jnp.zeros((bands.size, SCREEN * 3), jnp.uint8)
        frame = settled(jnp.concatenate([margin, screen, margin]).reshape(-1))
        # The agent is always drawn at the screen x of the reset: agent_draw_x =
        # rect.left - camera_offset (52 with the defaults).
        offset = camera_offset(params.camera_offset_scale)
        left = jnp.trunc(self._radius - self._sprite_half - offset).astype(jnp.int32)
        h = self._sprite_half
        frame = bands.overlay(frame, st.rotation // 45, left, st.pos[1] - h)
        # Stamina bar: 4 px wide at x = 80, red for the spent part from the top:
        # int(84 * (1 - min(stamina, level) / level)) in float64: the integer floor,
        # one less where float64 rounds an exact integer down (stamina_bar_round_down).
        # Drawn over the agent, whose sprite reaches x = 80 at large camera offsets.
        level = jnp.maximum(params.stamina_level, 1)
        spent = (SCREEN * (level - jnp.clip(st.stamina, 0, level))) // level
        exact = (SCREEN * (level - jnp.clip(st.stamina, 0, level))) % level == 0
        spent = computed_once(spent - (exact & params.stamina_round_down[spent]))
        # Only the bar's 12 bytes of each row are computed: a where() over the whole
        # frame made one environment's program (gym.make: the rules and the picture in
        # one program) recompute the stamina rule for each of its 35,280 bytes (86 of
        # 447 microseconds of kernels, jax.profiler). The concatenate copies the rest.
        padded_y = jnp.arange(SCREEN + 2 * bands.size) - bands.size  # screen y of each row
        frame = frame.reshape(-1, SCREEN * 3)
        strip = frame[:, _BAR_LEFT:]
        bar = jnp.where(
            (padded_y < spent)[:, None],
            jnp.asarray(_BAR_BYTES[1, _BAR_LEFT:]),
            jnp.asarray(_BAR_BYTES[0, _BAR_LEFT:]),
        )
        strip = jnp.where(params.show_stamina, bar, strip)
        frame = jnp.concatenate([frame[:, :_BAR_LEFT], strip], axis=1).reshape(-1)
        # The X: fall_off_rect.center = (agent x - camera_x, agent y), rounded by the Rect.
        mx = st.pos[0].astype(jnp.float32) - st.camera_x
        mx = (jnp.sign(mx) * jnp.floor(jnp.abs(mx) + 0.5)).astype(jnp.int32)
        show = st.off_path & params.visual_feedback
        frame = _overlay_marker(frame, self._marker_bands, show, mx - h, st.pos[1] - h)
        return self._screen(frame)
