"""Searing Spotlights' extra drawing: SDL's surface-alpha blend, the chequerboard, the
exit's rounded rectangle and the spotlight outline.

Build-time helpers are NumPy (bitmaps fixed for the lifetime of an environment); the
blend and the chequerboard are JAX (they run in every step).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from engram.render.ops import circle_table, computed_once
from engram.render.raster import draw_circle, draw_rect


def alpha_blend(dst: jax.Array, src: jax.Array, alpha: jax.Array) -> jax.Array:
    """SDL 2.26's blit of an opaque surface with per-surface alpha ``alpha`` (0..255):
    every channel becomes ``d + trunc((s - d) * a / 255)`` (C integer division, which
    truncates toward zero).

    Measured on pygame 2.4.0 / SDL 2.26.4 for every ``d`` and ``a`` in 0..255 and ``s``
    in {0, 128, 255} (an 84×84 colour-keyed layer blitted onto the display). Note that
    the original's pygame blending (measured) gives ``floor(d * (256 - a) / 256)`` for a black
    layer; that formula is off by one for 7 of 8 alphas of the schedule (e.g. d = 7,
    a = 42 gives 6, not 5).

    Args:
        dst: uint8 ``(..., 3)`` destination pixels.
        src: uint8 broadcastable to ``dst``, the layer's colour.
        alpha: int32 scalar, the surface alpha.

    Returns:
        uint8 like ``dst``.
    """
    d = dst.astype(jnp.int32)
    q = (src.astype(jnp.int32) - d) * alpha
    # C's "/" truncates toward zero; jnp's floor_divide floors, so divide the magnitude.
    q = jnp.sign(q) * (jnp.abs(q) // 255)
    return (d + q).astype(jnp.uint8)


def chequerboard(tile: int, size: int = 84) -> np.ndarray:
    """bool ``(size, size)``: True on the tiles with ``(x // tile + y // tile)`` even (the
    white tiles of ``get_tiled_background_surface``; Memory Gym's tile is
    ``int(50 * 0.25) = 12`` px)."""
    i = np.arange(size) // tile
    return (i[:, None] + i[None, :]) % 2 == 0


def rounded_top_rect(size: int, radius: int) -> np.ndarray:
    """``pygame.draw.rect(surf, c, (0, 0, size, size), 0, 0, radius, radius, 0, 0)``: a
    square with rounded *top* corners. bool ``(size, size)``.

    Drawn by :func:`engram.render.raster.draw_rect` (pygame 2.4.0's ``draw_round_rect``),
    so it is exact for every size and radius; :func:`engram.render.sprites.exit_masks`
    gives both of the exit's masks (shape and black border) for any ``exit_scale``.
    """
    return draw_rect(np.zeros((size, size), bool), (0, 0, size, size), 0, 0, radius, radius, 0, 0)


def inner_border(mask: np.ndarray) -> np.ndarray:
    """The 1-px border of a shape: its pixels with a 4-neighbour outside it (or outside
    the array). bool like ``mask``.

    Not the exit's black border in general (that is ``pygame.draw.rect`` with width
    ``int(2 * scale)``: use :func:`engram.render.sprites.exit_masks`)."""
    p = np.pad(mask, 1)
    interior = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return mask & ~interior


def circle_outlines(max_radius: int) -> np.ndarray:
    """1-px outlines of pygame's filled circles (the border of each disc, see
    :func:`inner_border`) for radii ``0 .. max_radius``, centred at ``max_radius + 1``.

    Returns:
        bool ``(max_radius + 1, D, D)`` with ``D = 2 * max_radius + 2``; the circle of
        radius ``r`` centred at ``(cx, cy)`` is entry ``r`` placed with its top-left at
        ``(cx - max_radius - 1, cy - max_radius - 1)``.
    """
    d = 2 * max_radius + 2
    out = np.zeros((max_radius + 1, d, d), bool)
    for r in range(1, max_radius + 1):
        disc = draw_circle(np.zeros((d, d), bool), (max_radius + 1, max_radius + 1), r)
        out[r] = inner_border(disc)
    return out


def disc_table(max_radius: int) -> jax.Array:
    """:func:`engram.render.ops.circle_table` as a JAX array (for ``filled_circle_mask``)."""
    return jnp.asarray(circle_table(max_radius))


def disc_spans(cx, cy, radius, table: jax.Array, size: int = 84):
    """Row spans of pygame's filled circles, several at once.

    Args:
        cx, cy, radius: int32 ``(n,)`` centres and radii.
        table: :func:`engram.render.ops.circle_table` as a JAX array.

    Returns:
        (lo, width) int32 ``(n, size)``: circle ``i`` covers columns ``lo .. lo + width - 1``
        of row ``y`` (width 0: none); the same pixels as ``filled_circle_mask``.
    """
    max_r = table.shape[0] - 1
    # Row y of a circle centred at cy is its table entry y - cy + max_r: the size rows
    # are one contiguous window of the radius' table row, padded with size empty rows
    # each side (a dynamic slice per circle, where indexing each row gathers under vmap).
    padded = jnp.pad(table, ((0, 0), (size, size)))
    start = jnp.clip(size + max_r - cy, 0, padded.shape[1] - size)

    def window(r, at):
        return jax.lax.dynamic_slice(padded, (r, at), (1, size))[0]

    k = jax.vmap(window)(radius, start)
    return cx[:, None] - k, 2 * k


def spans_mask(lo: jax.Array, width: jax.Array, columns: int = 84) -> jax.Array:
    """bool ``(rows, columns)``: the union of row spans such as :func:`disc_spans`'
    (``lo``, ``width``: int32 ``(n, rows)``; span ``i`` covers columns ``lo .. lo + width -
    1`` of each row). Unrolled over the spans so that XLA fuses one vectorised pass; spans
    scaled by 3 with ``columns`` 252 give the mask of a frame's bytes (flat RGB rows)."""
    # The spans clipped to the row, [a, b) with 0 <= a <= b <= columns.
    a = jnp.clip(lo, 0, columns)
    b = jnp.clip(lo + jnp.maximum(width, 0), 0, columns)
    # In 8 bits when the row fits (columns <= 256): a vector then holds 4 times the bytes
    # of 32-bit comparisons (Searing Spotlights' frame at B=512: 24 -> 13 us, endless
    # 53 -> 30 us).
    dtype = jnp.uint8 if columns <= 256 else jnp.uint32
    # Computed once per row (see computed_once), not again for every byte.
    a, n = computed_once(jnp.stack([a, b - a]).astype(dtype))
    x = jnp.arange(columns, dtype=dtype)[None, :]
    out = jnp.zeros((lo.shape[1], columns), bool)
    for i in range(lo.shape[0]):
        # a <= x < b as one unsigned comparison: below a, x - a wraps around to
        # 2^bits + x - a >= columns - a >= n.
        out = out | (x - a[i][:, None] < n[i][:, None])
    return out
