"""JAX compositing primitives used inside ``jit``-compiled environment steps.

Positions are traced int32 values; shapes are static. Images are uint8 ``(H, W, 3)`` with
row = y, column = x.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from engram.render.raster import circle_spans


def blit(canvas: jax.Array, rgb: jax.Array, mask: jax.Array, x, y) -> jax.Array:
    """Draw a colour-keyed sprite with its top-left corner at ``(x, y)``, clipped to the canvas.

    The equivalent of ``surface.blit(sprite, (x, y))`` for a sprite with a colour key.

    Args:
        canvas: uint8 ``(H, W, C)``.
        rgb: uint8 ``(h, w, C)`` sprite colours.
        mask: bool ``(h, w)``, True where the sprite is opaque.
        x, y: int32 scalars (may be traced), the sprite's top-left in canvas pixels; any
            part of the sprite outside the canvas is dropped.

    Returns:
        uint8 ``(H, W, C)``, the canvas with the sprite drawn over it.
    """
    h, w = mask.shape
    # Pad by the sprite size so that a dynamic slice never has to clamp its start, which
    # would shift a partly visible sprite instead of clipping it.
    padded = jnp.pad(canvas, ((h, h), (w, w), (0, 0)))
    x = jnp.clip(jnp.asarray(x, jnp.int32), -w, canvas.shape[1]) + w
    y = jnp.clip(jnp.asarray(y, jnp.int32), -h, canvas.shape[0]) + h
    region = jax.lax.dynamic_slice(padded, (y, x, 0), (h, w, canvas.shape[2]))
    region = jnp.where(mask[..., None], rgb.astype(canvas.dtype), region)
    padded = jax.lax.dynamic_update_slice(padded, region, (y, x, 0))
    return padded[h : h + canvas.shape[0], w : w + canvas.shape[1]]


def circle_table(max_radius: int) -> np.ndarray:
    """Half-widths of pygame's filled circles for radii ``0 .. max_radius``.

    Returns:
        int32 ``(max_radius + 1, 2 * max_radius)``: entry ``[r, dy + max_radius]`` is the
        half-width ``k`` of row ``dy`` of a radius-``r`` circle (columns ``x0 - k ..
        x0 + k - 1``), 0 where the row is empty.
    """
    table = np.zeros((max_radius + 1, 2 * max_radius), np.int32)
    for r in range(1, max_radius + 1):
        for dy, a, _ in circle_spans(r):
            table[r, dy + max_radius] = max(table[r, dy + max_radius], -a)
    return table


def filled_circle_mask(shape, cx, cy, radius, table: jax.Array) -> jax.Array:
    """Pixels of ``pygame.draw.circle(surface, colour, (cx, cy), radius)`` (filled).

    Args:
        shape: static ``(H, W)``.
        cx, cy: int32 centre (pygame truncates float centres; do so before calling).
        radius: int32 radius, at most the table's ``max_radius``.
        table: :func:`circle_table` as a JAX array.

    Returns:
        bool ``(H, W)``.
    """
    max_r = table.shape[0] - 1
    dy = jnp.arange(shape[0]) - cy
    dx = jnp.arange(shape[1]) - cx
    row = table[radius, jnp.clip(dy + max_r, 0, 2 * max_r - 1)]
    row = jnp.where((dy >= -max_r) & (dy < max_r), row, 0)
    return (dx[None, :] >= -row[:, None]) & (dx[None, :] < row[:, None])
