"""Searing Spotlights' pictures: the observation and the debug view of the finite and
endless variants, drawn as the original draws them, pixel for pixel (the rules are
:mod:`engram.envs.searing_spotlights.env`).

Frames are flat (``engram.render.spotlights``): the floor is picked from two pre-drawn
ones, the sprites are copied in as masked bands of rows, then one pass over the screen
draws the darkness and the spotlights' holes (:mod:`engram.render.spotlights` holds those
primitives) and the top bar replaces the first rows, in the original's layer order
(:func:`_layer_order`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from engram.core import dfloat
from engram.envs.searing_spotlights.geometry import BAR, SCREEN, spot_location
from engram.render import agent_sprites, blit, coin_masks, exit_masks, filled_circle_mask
from engram.render.blend import (
    chequerboard,
    circle_outlines,
    disc_spans,
    disc_table,
    spans_mask,
)
from engram.render.ops import computed_once, settled, table_row
from engram.render.spotlights import MaskedBands, bytes_of, darken, unpad_rows

if TYPE_CHECKING:
    from engram.core.params import Params
    from engram.envs.searing_spotlights.env import State, Variant

TILE = 12  # px; get_tiled_background_surface: int(50 * 0.25)

_WHITE, _BLUE, _RED, _BLACK = (255, 255, 255), (0, 0, 255), (255, 0, 0), (0, 0, 0)
_GREY = (50, 50, 50)  # top bar base and "no positive reward"
_GREEN, _YELLOW = (0, 255, 0), (255, 255, 0)
_ACTION_COLORS = ((120, 120, 120), (116, 1, 113), (255, 94, 14))  # action_colors
_COIN_YELLOW, _COIN_ORANGE = (255, 255, 0), (255, 165, 0)
_EXIT_OPEN, _EXIT_CLOSED = (48, 141, 70), (55, 55, 55)


def _layer_order(v: Variant) -> tuple[str, ...]:
    """The original's draw order: ``[bg, spot, top]`` with coins, exit and agent inserted
    below the darkness, or at ``index + 1`` / ``+ 2`` / ``+ 3`` when visible (so
    ``exit_visible`` and ``agent_visible`` can even land above the top bar). Endless: the
    coin goes above the darkness while it is shown; both placements are returned as
    ``coin_hidden`` and ``coin_shown`` (each drawn only in its case)."""
    layers = ["bg", "spot", "top"]
    sid = 1
    entities = [("coin", v.coins_visible)]
    if not v.endless:
        entities.append(("exit", v.exit_visible))
    entities.append(("agent", v.agent_visible))
    for k, (name, visible) in enumerate(entities):
        if v.endless and name == "agent":
            k = 2  # the endless agent is inserted at spot_surface_id + 3 as well
        if visible:
            layers.insert(sid + k + 1, name)
        else:
            layers.insert(sid, name)
            sid += 1
    if v.endless and not v.coins_visible:
        layers[layers.index("coin")] = "coin_hidden"
        layers.insert(layers.index("spot") + 1, "coin_shown")
    return tuple(layers)


def _rgb_row(colour) -> np.ndarray:
    """uint8 (84 * 3,): one screen row of ``colour``, as flat frames hold it."""
    return np.tile(np.asarray(colour, np.uint8), SCREEN)


def _floors(v: Variant, pad: int) -> np.ndarray:
    """The floor, plain and on a hit (``visual_feedback``), as flat screens with ``pad``
    blank rows above and below: uint8 (2, (84 + 2 pad) * 84 * 3).

    ``get_tiled_background_surface``: 12-px tiles, white where ``x // 12 + y // 12`` is
    even, else blue (red on a hit); black with ``black_background``, white with
    ``hide_chessboard``."""
    out = []
    for other in (_BLUE, _RED):
        if v.black_background:
            img = np.zeros((SCREEN, SCREEN, 3), np.uint8)
        elif v.hide_chessboard:
            img = np.full((SCREEN, SCREEN, 3), 255, np.uint8)
        else:
            img = np.where(chequerboard(TILE)[..., None], _WHITE, other).astype(np.uint8)
        out.append(np.pad(img.reshape(SCREEN, -1), ((pad, pad), (0, 0))).reshape(-1))
    return np.stack(out)


class Picture:
    """The pictures of one :class:`~engram.envs.searing_spotlights.env.Variant` (its
    sprites, layer order and floor): tables built once, then each frame is drawn on a
    flat frame (``engram.render.spotlights``).

    Args:
        variant: the environment's variant.
        coin_radius: a coin's radius in px; a coin is drawn with its top-left at its
            centre minus this.
    """

    def __init__(self, variant: Variant, coin_radius: int):
        v = variant
        self._variant = v
        self._order = _layer_order(v)
        # Sprites as masked bands of rows (engram.render.spotlights): drawing one under
        # vmap is a contiguous copy the size of the sprite.
        sprite_rgb, sprite_mask = agent_sprites(v.agent_scale)
        self._agent = MaskedBands.of(sprite_rgb, sprite_mask)
        self._sprite_half = sprite_rgb.shape[1] // 2
        # Coin: a yellow disc of radius int(10 * scale), then an orange outline of width
        # int(2 * scale) (0 below scale 0.5: pygame fills, an orange disc).
        self._coin_radius = coin_radius
        fill, outline = coin_masks(v.coin_scale)
        coin = np.where(outline[..., None], _COIN_ORANGE, _COIN_YELLOW)
        self._coin = MaskedBands.of(coin[None], (fill | outline)[None])
        # Exit: a 20*scale square with rounded top corners (radius int(10*scale)) and a
        # black border of width int(2*scale) (0 below scale 0.5: all black). Sprite 0
        # closed, 1 open.
        shape, border = exit_masks(v.exit_scale)
        self._exit_size = shape.shape[0]
        exits = [np.where(border[..., None], _BLACK, c) for c in (_EXIT_CLOSED, _EXIT_OPEN)]
        self._exit = MaskedBands.of(np.stack(exits), np.stack([shape | border] * 2))
        # Blank rows above and below the screen while sprites are drawn (>= each size).
        self._pad = max(b.size for b in (self._agent, self._coin, self._exit))
        self._floors = jnp.asarray(_floors(v, self._pad))
        self._disc_table = disc_table(v.max_radius)
        self._outlines = jnp.asarray(circle_outlines(v.max_radius))
        self._lifted_order, self._lifted = self._lift_over_darkness()

    def _bands(self, layer: str) -> MaskedBands:
        return {"exit": self._exit, "agent": self._agent}.get(layer, self._coin)

    def _lift_over_darkness(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The observation's layer order with the sprites right above the darkness drawn
        just below it instead, and those sprites: the darkness then leaves their opaque
        pixels as they are (its ``exempt`` spans), the same frame. Putting the darkened
        screen back into the padded frame to draw a sprite over it cost Endless Searing
        Spotlights' shown coin 16 of a frame's 27 microseconds at B=512. Only sprites
        whose opaque pixels are one run per row (:attr:`MaskedBands.runs`) move."""
        order = self._order
        spot = order.index("spot")
        lifted = []
        for layer in order[spot + 1 :]:
            if layer == "exit" and not self._variant.use_exit:
                continue  # never drawn
            if layer == "top" or self._bands(layer).runs is None:
                break
            lifted.append(layer)
        rest = [layer for layer in order[spot + 1 :] if layer not in lifted]
        return (*order[:spot], *lifted, "spot", *rest), tuple(lifted)

    def _health_width(self, state: State, params: Params):
        """Red bar: ``int(84 // 2 * (1 - health / agent_health))`` (see
        :func:`engram.envs.searing_spotlights.env.health_tables`)."""
        return params.hit_width[state.hits]

    def observation(self, state: State, params: Params) -> jax.Array:
        """The frame of ``state``: uint8 (84, 84, 3).

        Drawn in the original's layer order (:func:`_layer_order`) on a flat frame
        (``engram.render.spotlights``): the floor picked from two pre-drawn ones, the
        sprites copied in as bands of rows, then one pass over the screen for the
        darkness and the spotlights' holes, the top bar replacing the first rows."""
        # Not through computed_once: its reduction took the darkness and the bar into one
        # loop that XLA's CPU backend does not vectorise, and a frame returned as it is
        # (a Gymnasium step, a rollout's observations) cost 2-3 times the frame folded
        # into a checksum (B=512: 24-37 against 12 us per environment; 12 without it;
        # the checksum the same).
        return self._frame(state, params, debug=False).reshape(SCREEN, SCREEN, 3)

    def debug(self, state: State, params: Params) -> jax.Array:
        """The frame without darkness: floor, coin(s), exit, agent, the outline of every
        spotlight (red, where it will be drawn next) and the top bar (showing the last
        action and reward).

        Returns uint8 (84, 84, 3).
        """
        return self._frame(state, params, debug=True).reshape(SCREEN, SCREEN, 3)

    def _frame(self, state: State, params: Params, debug: bool) -> jax.Array:
        """The frame (or debug view) as flat rows: uint8 (84, 252).

        Sprites are drawn on the flat frame with blank rows around the screen; the
        whole-screen layers (darkness, top bar) work on the screen rows, which go back
        into the padded frame only when a sprite is drawn over them."""
        pad = self._pad
        red = state.hit & params.visual_feedback
        frame = table_row(self._floors, red.astype(jnp.int32))
        rows = None  # the screen rows after a whole-screen layer
        for layer in self._order if debug else self._lifted_order:
            if layer == "spot":
                rows = self._screen(frame) if rows is None else rows
                if debug:
                    rows = self._draw_outlines(rows, state)
                else:
                    rows = self._draw_darkness(rows, state, self._exempt(state, params))
            elif layer == "top":
                rows = self._screen(frame) if rows is None else rows
                rows = self._draw_bar(rows, state, params, debug)
            elif layer == "bg" or (layer == "exit" and not self._variant.use_exit):
                continue
            else:
                if rows is not None:
                    m = pad * SCREEN * 3
                    frame = jnp.concatenate([frame[:m], rows.reshape(-1), frame[-m:]])
                    rows = None
                frame = self._draw_sprite(frame, state, params, layer)
        return self._screen(frame) if rows is None else rows

    def _screen(self, frame: jax.Array) -> jax.Array:
        """The screen rows of a flat, padded frame: uint8 (84, 252)."""
        return unpad_rows(settled(frame), self._pad).reshape(SCREEN, -1)

    def _draw_sprite(self, frame, state, params, layer):
        """The coin(s), exit or agent (``layer``) over a flat, padded frame."""
        bands = self._bands(layer)
        for index, x, y in self._places(state, params, layer):
            frame = bands.overlay(frame, self._pad, index, x, y)
        return frame

    def _places(self, state, params, layer) -> list:
        """Where ``layer``'s sprites go: ``(sprite index, x, y)`` (int32, top-left in px)
        each. Coins (finite: each one not yet collected; endless: the current one, where
        ``layer`` is drawn in this frame) have their top-left at centre - radius; one not
        drawn is placed left of the screen."""
        v = self._variant
        if layer == "exit":
            n = self._exit_size
            x, y = state.exit_pos[0] - n // 2, state.exit_pos[1] - n // 2
            return [(state.exit_open.astype(jnp.int32), x, y)]
        if layer == "agent":
            h = self._sprite_half
            return [(state.sprite_rotation // 45, state.pos[0] - h, state.pos[1] - h)]
        r = self._coin_radius
        hidden = jnp.int32(-self._coin.size)
        if v.endless:
            show = state.coin_t < params.coin_show_duration
            cond = {"coin": True, "coin_hidden": ~show, "coin_shown": show}[layer]
            coin = state.coin_pos[state.coin_index % v.coins]
            return [(0, jnp.where(cond, coin[0] - r, hidden), coin[1] - r)]
        places = []
        for i in range(v.coins):
            c = state.coin_pos[i]
            places.append((0, jnp.where(state.coin_alive[i], c[0] - r, hidden), c[1] - r))
        return places

    def _exempt(self, state, params) -> tuple[jax.Array, jax.Array] | None:
        """The pixels of the sprites drawn below the darkness in place of above it
        (:meth:`_lift_over_darkness`), which it leaves as they are: row spans ``(lo,
        width)`` int32 ``(n, 84)`` in px, or None."""
        spans = [
            self._bands(layer).row_spans(index, x, y)
            for layer in self._lifted
            for index, x, y in self._places(state, params, layer)
        ]
        if not spans:
            return None
        return jnp.stack([lo for lo, _ in spans]), jnp.stack([w for _, w in spans])

    def _draw_darkness(self, rows, state, exempt=None):
        """The darkness layer over the screen rows uint8 (84, 252), lit where this step's
        spotlights are drawn; the pixels of the ``exempt`` row spans (``(lo, width)`` int32
        ``(n, 84)``, px) are left as they are."""
        alpha = computed_once(state.alpha)
        if not self._variant.black_background:
            # Without rings the layer is the union of the discs: their row spans, then one
            # pass over the bytes with the spans in byte columns (3 per pixel). A per-pixel
            # mask widened to bytes (bytes_of) cost 2-3 times the whole pass.
            centre, drawn = state.spot_centre, state.spot_drawn
            geometry = jnp.stack([centre[:, 0], centre[:, 1], state.spot_radius, drawn], axis=1)
            cx, cy, r, on = computed_once(geometry.astype(jnp.int32)).T
            lo, width = disc_spans(cx, cy, r, self._disc_table)
            width = jnp.where(on[:, None] != 0, width, 0)
            if exempt is not None:
                lo, width = jnp.concatenate([lo, exempt[0]]), jnp.concatenate([width, exempt[1]])
            spans = computed_once(jnp.stack([3 * lo, 3 * width]))  # see computed_once
            return darken(rows, alpha, spans_mask(spans[0], spans[1], SCREEN * 3))
        hole, ring = self._spot_layer(state)
        # Computed once per pixel (see computed_once), read per byte.
        light, ring = bytes_of(computed_once(hole.astype(jnp.uint8)) != 0), bytes_of(ring)
        if exempt is not None:
            spans = computed_once(jnp.stack([3 * exempt[0], 3 * exempt[1]]))
            kept = spans_mask(spans[0], spans[1], SCREEN * 3)
            light, ring = light | kept, ring & ~kept
        return darken(rows, alpha, light, ring)

    def _spot_layer(self, state):
        """Hole (bool (84, 84), the red colour key) and white ring (1-px border) of
        black_background's darkness layer, from the spotlights drawn in this step."""
        v = self._variant
        centre, drawn = state.spot_centre, state.spot_drawn
        hole = jnp.zeros((SCREEN, SCREEN), bool)
        ring = jnp.zeros((SCREEN, SCREEN), bool)
        order = (state.spawned + jnp.arange(v.slots)) % v.slots
        for j in range(v.slots):
            i = order[j]
            disc = filled_circle_mask(
                (SCREEN, SCREEN), centre[i, 0], centre[i, 1], state.spot_radius[i], self._disc_table
            )
            hole = hole | (disc & drawn[i])
            out = self._outline_mask(centre[i], state.spot_radius[i]) & drawn[i]
            ring = (ring & ~(disc & drawn[i])) | out
        return hole & ~ring, ring

    def _outline_mask(self, c, r):
        m = self._variant.max_radius
        canvas = jnp.zeros((SCREEN, SCREEN, 1), jnp.uint8)
        sprite = self._outlines[r]
        out = blit(canvas, sprite[..., None].astype(jnp.uint8), sprite, c[0] - m - 1, c[1] - m - 1)
        return out[..., 0] > 0

    def _draw_outlines(self, rows, state):
        """Debug view: the outline of every spotlight (where it is drawn next) in red."""
        loc = dfloat.trunc(spot_location(state))
        for i in range(self._variant.slots):
            m = self._outline_mask(loc[i], state.spot_radius[i]) & state.spot_alive[i]
            rows = jnp.where(bytes_of(m), jnp.asarray(_rgb_row(_RED)), rows)
        return rows

    def _draw_bar(self, rows, state, params, debug):
        """The 84×4 top bar over the screen rows uint8 (84, 252): grey base (finite
        only), green health over x < 42 with the lost part red from x = 0, the previous
        action (x 42..62 horizontal, 63..83 vertical) and, from the first step on, x
        57..66 yellow if the previous reward was positive, else grey (x 42..83 without
        the action display). The debug view shows the last action and reward."""
        v = self._variant
        g = jnp.arange(SCREEN)
        row = jnp.zeros((SCREEN, 3), jnp.uint8)
        if not v.endless:
            row = jnp.broadcast_to(jnp.asarray(_GREY, jnp.uint8), (SCREEN, 3))
        row = jnp.where((g < 42)[:, None], jnp.asarray(_GREEN, jnp.uint8), row)
        colors = jnp.asarray(_ACTION_COLORS, jnp.uint8)
        action = state.last_action if debug else state.shown_action
        if v.show_last_action:
            row = jnp.where(((g >= 42) & (g < 63))[:, None], colors[action[0]], row)
            row = jnp.where((g >= 63)[:, None], colors[action[1]], row)
        # Red is drawn in the hit step after the action rects; only a width over 42
        # (health below 0, the last frame) reaches them.
        width = self._health_width(state, params)
        row = jnp.where((g < width)[:, None], jnp.asarray(_RED, jnp.uint8), row)
        if v.show_last_positive_reward:
            lo, hi = (57, 67) if v.show_last_action else (42, 84)
            positive = state.last_reward > 0 if debug else state.shown_positive
            c = jnp.where(positive, jnp.asarray(_YELLOW, jnp.uint8), jnp.asarray(_GREY, jnp.uint8))
            shown = (g >= lo) & (g < hi) & (debug | (state.t > 0))
            row = jnp.where(shown[:, None], c, row)
        top = jnp.asarray(np.arange(SCREEN) < BAR)[:, None]
        return jnp.where(top, computed_once(row.reshape(1, -1)), rows)
