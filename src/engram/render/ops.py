"""JAX compositing primitives used inside ``jit``-compiled environment steps.

Positions are traced int32 values; shapes are static. Images are uint8 ``(H, W, 3)`` with
row = y, column = x.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from engram.render.raster import circle_spans

Colour = tuple[int, int, int]


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


def palette_sprite(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Host-side: a colour-keyed sprite as palette codes.

    Args:
        rgb: uint8 ``(..., h, w, 3)``. mask: bool ``(..., h, w)``, True where opaque.

    Returns:
        (codes uint8 ``(..., h, w)``: 0 transparent, ``k`` colour ``palette[k - 1]``;
        palette: tuple of RGB tuples).
    """
    rgb, mask = np.asarray(rgb, np.uint8), np.asarray(mask, bool)
    palette, inv = np.unique(rgb[mask].reshape(-1, 3), axis=0, return_inverse=True)
    codes = np.zeros(mask.shape, np.uint8)
    codes[mask] = inv.reshape(-1) + 1
    return codes, tuple(tuple(int(c) for c in col) for col in palette)


def bit_rows(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Host-side: code sprites ``(..., h, w)`` as bit planes for :func:`place`: uint32
    ``(..., n_codes, h, words)``, bit ``b`` of word ``j`` of plane ``k - 1`` set where
    column ``32 j + b`` has code ``k``."""
    codes = np.asarray(codes)
    w = codes.shape[-1]
    words = -(-w // 32)
    out = np.zeros(codes.shape[:-2] + (n_codes, codes.shape[-2], words), np.uint32)
    for k in range(1, n_codes + 1):
        on = (codes == k).astype(np.uint64)
        for j in range(words):
            part = on[..., 32 * j : 32 * (j + 1)]
            weights = np.uint64(1) << np.arange(part.shape[-1], dtype=np.uint64)
            out[..., k - 1, :, j] = (part * weights).sum(-1).astype(np.uint32)
    return out


def place(bits: jax.Array, width: int, x, y, size: int = 84) -> jax.Array:
    """Bit-plane sprites (:func:`bit_rows`, ``(P, h, words)``) with their top-left at
    ``(x, y)`` on a blank ``size × size`` canvas, clipped: bool ``(P, size, size)``.

    Same pixels as :func:`engram.render.ops.blit`, but made of one small row gather and
    per-pixel shifts, instead of a padded canvas and a dynamic update slice (which
    under ``vmap`` becomes a scatter over the whole canvas and dominated the frame time).
    """
    _, h, words = bits.shape
    dy = jnp.arange(size) - y
    rows = bits[:, jnp.clip(dy, 0, h - 1)]  # (P, size, words)
    rows = jnp.where(((dy >= 0) & (dy < h))[None, :, None], rows, jnp.uint32(0))
    dx = jnp.arange(size) - x
    col = jnp.clip(dx, 0, width - 1)
    word = rows[..., 0][..., None]
    for j in range(1, words):
        word = jnp.where((col >= 32 * j)[None, None, :], rows[..., j][..., None], word)
    bit = (word >> (col % 32).astype(jnp.uint32)[None, None, :]) & jnp.uint32(1)
    return (bit != 0) & ((dx >= 0) & (dx < width))[None, None, :]


def paint_planes(img: jax.Array, planes: jax.Array, colours) -> jax.Array:
    """Colour ``img`` (uint8 ``(H, W, 3)``) where the bool planes ``(P, H, W)`` are set:
    plane ``k`` gets ``colours[k]`` (later planes over earlier ones). One select per plane,
    all fused by XLA into a single pass over the pixels."""
    for k, colour in enumerate(colours):
        img = jnp.where(planes[k][..., None], jnp.asarray(colour, jnp.uint8), img)
    return img


@dataclass(frozen=True)
class BitSprites:
    """A set of colour-keyed sprites of equal size, stored as bit planes for drawing under
    ``vmap`` without scatters (:func:`place`).

    Attributes:
        bits: uint32 ``(N, P, h, words)``: sprite ``i``'s plane ``k`` marks the pixels of
            colour ``palette[k]`` (:func:`bit_rows`).
        width: sprite width in px. palette: ``P`` RGB colours.
    """

    bits: jax.Array
    width: int
    palette: tuple[Colour, ...]

    @staticmethod
    def of(rgb: np.ndarray, mask: np.ndarray) -> BitSprites:
        """Host side: from uint8 ``(N, h, w, 3)`` colours and bool ``(N, h, w)`` opacity."""
        codes, palette = palette_sprite(rgb, mask)
        return BitSprites(jnp.asarray(bit_rows(codes, len(palette))), codes.shape[-1], palette)

    def draw(self, img: jax.Array, index, x, y, visible=True) -> jax.Array:
        """``img`` with sprite ``index`` (int32, may be traced) drawn with its top-left at
        ``(x, y)`` (clipped), where ``visible`` (bool scalar) holds."""
        planes = place(self.bits[index], self.width, x, y, img.shape[0]) & visible
        return paint_planes(img, planes, self.palette)


# ------------------------------------------------------------------ flat frames
# XLA on CPU turns per-pixel work on (H, W, 3) uint8 frames under vmap into slow
# element-wise loops (gathers and scatters even more so), but copies contiguous runs of
# bytes at memory speed: a dynamic slice of a table row and a dynamic update of a run of
# whole rows are both contiguous in a frame flattened to (H * W * 3,). The helpers below
# build frames that way: pictures chosen from precomputed tables, and sprites as
# precomputed full-width bands of rows, one per horizontal position, dropped in at their
# row and composited with one select over the band only.


def computed_once(x: jax.Array) -> jax.Array:
    """``x`` (an integer array) unchanged, but computed once, into a buffer of its own,
    before the per-pixel passes that read it.

    XLA's CPU backend fuses cheap elementwise producers into every consumer, so a small
    value read in a pass over the pixels (a spotlight's centre, the end of double-float
    path arithmetic and of ``AutoReset``'s selects) is recomputed for every pixel: that
    made a frame cost milliseconds. ``lax.optimization_barrier`` does not stop it (the
    CPU pipeline removes barriers before fusing), but under ``vmap`` a reduction is not
    fused into its consumers: ``x`` is written as the maximum of itself and its type's
    smallest value (XLA does not simplify that reduction away). Without ``vmap`` XLA did
    fuse it into a frame-sized consumer (a whole frame passed through it, one Searing
    Spotlights environment); for a frame drawn into see :func:`settled`."""
    low = jnp.full_like(x, jnp.iinfo(x.dtype).min)
    return jnp.max(jnp.stack([x, low]), axis=0)


def settled(frame: jax.Array) -> jax.Array:
    """``frame`` (uint8 ``(N,)``, a flat frame whose first byte lies in a blank margin that
    is never shown, :meth:`SpriteBands.pad`) with that byte set to 0, same shape and
    dtype: call it on a frame just drawn into, before an element-wise pass over its
    screen rows.

    XLA's CPU backend fuses the last dynamic update of a flat frame (a sprite's band,
    :meth:`SpriteBands.overlay`) into an element-wise reader of the frame (the screen's
    slice, Searing Spotlights' darkness). For one environment (no ``vmap``, where the
    update is a scatter and stays apart) every byte of the screen then tests the sprite's
    window and reads its table in a loop that is not vectorised: Searing Spotlights'
    picture took 150-230 microseconds instead of 60-80, Mystery Path's 30-50 instead of
    15-22 (one environment, one core). Written last, this one-byte update is what XLA fuses
    into the reader, and the sprite is drawn in place, over its own rows.
    Not for Mortar Mayhem's picture: its frame is already read apart, and under ``vmap``
    the extra update cost it 30 microseconds an environment.

    The same write makes a frame that is still an expression a buffer before a sprite is
    drawn on it: under ``vmap`` the slice of the rows under the sprite is a gather, into
    which XLA fused the computation of those rows, in a pass over the rows' bytes that
    recomputed per byte what varies per row and did not vectorise (Endless Mystery Path,
    B=512: 9 of its 17 microseconds a frame; with ``settled`` first, under 1)."""
    return jax.lax.dynamic_update_slice(frame, jnp.zeros((1,), frame.dtype), (0,))


def table_row(table: jax.Array, index) -> jax.Array:
    """Row ``index`` (int32, may be traced) of a 2-D table, as a contiguous dynamic slice
    (under ``vmap`` XLA copies it as one block, where ``table[index]`` would gather each
    element)."""
    return jax.lax.dynamic_slice(table, (index, 0), (1, table.shape[1]))[0]


@dataclass(frozen=True)
class SpriteBands:
    """Colour-keyed sprites of size ``D x D`` pre-drawn at every horizontal position of a
    ``size``-wide screen, as bands of ``D`` full rows (flat uint8 ``(D * size * 3,)``).

    Byte 0 is transparent, channel by channel, so every opaque colour must have no zero
    channel (checked when built).

    Attributes:
        bands: uint8 ``(N * (size + D + 1), D * size * 3)``; row ``i * (size + D + 1) +
            x + D`` is sprite ``i`` with its left edge at screen x (``-D <= x <= size``).
        size: D. width: the screen width in px.
    """

    bands: jax.Array
    size: int
    width: int

    @staticmethod
    def of(rgb: np.ndarray, mask: np.ndarray, width: int = 84) -> SpriteBands:
        """Host side, from uint8 ``(N, D, D, 3)`` colours and bool ``(N, D, D)`` opacity.

        Raises:
            ValueError: an opaque pixel has a zero channel (it would read as transparent).
        """
        rgb, mask = np.asarray(rgb, np.uint8), np.asarray(mask, bool)
        n, d = mask.shape[:2]
        if (rgb[mask] == 0).any():
            raise ValueError("SpriteBands: an opaque colour has a zero channel")
        sprite = np.where(mask[..., None], rgb, 0)
        positions = width + d + 1
        wide = np.zeros((n, positions, d, width + 2 * d, 3), np.uint8)
        for k in range(positions):  # left edge at x = k - d, i.e. column k of `wide`
            wide[:, k, :, k : k + d] = sprite
        bands = wide[:, :, :, d : d + width].reshape(n * positions, d * width * 3)
        return SpriteBands(jnp.asarray(bands), d, width)

    def overlay(self, frame: jax.Array, index, x, y) -> jax.Array:
        """Draw sprite ``index`` with its top-left at ``(x, y)`` over ``frame``, a flat
        uint8 screen with ``D`` blank rows above and below (``((H + 2 D) * W * 3,)``, see
        :meth:`pad` / :meth:`unpad`). Parts outside the screen are clipped.

        Where ``frame`` is still an expression (a pass that has not been written yet), pass
        ``settled(frame)`` (:func:`settled`): under ``vmap`` the slice of the rows under
        the sprite is a gather, and XLA fuses the frame's whole computation into it."""
        d, row = self.size, self.width * 3
        x = jnp.clip(x, -d, self.width)
        y = jnp.clip(y, -d, frame.shape[0] // row - 2 * d)
        band = table_row(self.bands, index * (self.width + d + 1) + x + d)
        start = (y + d) * row
        under = jax.lax.dynamic_slice(frame, (start,), (d * row,))
        return jax.lax.dynamic_update_slice(frame, jnp.where(band != 0, band, under), (start,))

    def pad(self, frames: np.ndarray) -> np.ndarray:
        """Host side: flat screens ``(..., H * W * 3)`` with ``D`` blank rows added above
        and below (the layout :meth:`overlay` draws on)."""
        m = self.size * self.width * 3
        return np.pad(np.asarray(frames), [(0, 0)] * (np.ndim(frames) - 1) + [(m, m)])

    def unpad(self, frame: jax.Array) -> jax.Array:
        """The screen rows of a padded flat frame, ``(H * W * 3,)``."""
        m = self.size * self.width * 3
        return frame[m : frame.shape[0] - m]
