"""Searing Spotlights' frames as flat rows of bytes (see ``engram.render.ops``, "flat
frames"): a frame is uint8 ``(H, W * 3)``, one row of interleaved RGB bytes per screen
row, or that flattened.

XLA's CPU backend vectorises per-byte work on such rows (a minor dimension of 252), but
not on ``(H, W, 3)`` arrays (a minor dimension of 3), where the same select costs several
times more and a consumer that reads the frame as 32-bit words (a checksum, a copy) runs
as scalar code. Sprites are pre-drawn bands of rows copied in at their height, so their
cost follows their size, not the screen's.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from engram.render.ops import table_row


@dataclass(frozen=True)
class MaskedBands:
    """Colour-keyed ``D x D`` sprites pre-drawn at every horizontal position of a
    ``width``-px screen, as bands of ``D`` full rows with their opacity beside them.

    Unlike :class:`engram.render.ops.SpriteBands` any colour may be opaque (black
    included): each table row holds the band's colours, then a band of opacity bytes
    (255 opaque, 0 transparent).

    Attributes:
        table: uint8 ``(N * (width + D + 1), 2 * D * width * 3)``; row ``i * (width + D +
            1) + x + D`` is sprite ``i`` with its left edge at screen x (``-D <= x <=
            width``): colours, then opacity.
        size: D. width: the screen width in px.
    """

    table: jax.Array
    size: int
    width: int
    #: The opaque pixels of each sprite row as one run, ``(start, width)`` int32 ``(2, N,
    #: D)`` (offsets in px from the sprite's left edge; width 0: none); None when some row
    #: has two runs. See :meth:`row_spans`.
    runs: jax.Array | None = None

    @staticmethod
    def of(rgb: np.ndarray, mask: np.ndarray, width: int = 84) -> MaskedBands:
        """Host side, from uint8 ``(N, D, D, 3)`` colours and bool ``(N, D, D)`` opacity."""
        rgb, mask = np.asarray(rgb, np.uint8), np.asarray(mask, bool)
        n, d = mask.shape[:2]
        positions = width + d + 1
        colour = np.zeros((n, positions, d, width + 2 * d, 3), np.uint8)
        opaque = np.zeros_like(colour)
        for k in range(positions):  # left edge at x = k - d, i.e. column k
            colour[:, k, :, k : k + d] = np.where(mask[..., None], rgb, 0)
            opaque[:, k, :, k : k + d] = np.where(mask[..., None], 255, 0)
        rows = [a[:, :, :, d : d + width].reshape(n * positions, -1) for a in (colour, opaque)]
        runs = _runs(mask)
        return MaskedBands(
            jnp.asarray(np.concatenate(rows, axis=1)),
            d,
            width,
            None if runs is None else jnp.asarray(runs),
        )

    def row_spans(self, index, x, y, height: int = 84) -> tuple[jax.Array, jax.Array]:
        """The screen pixels sprite ``index`` covers at top-left ``(x, y)`` (clipped as
        :meth:`overlay` clips), as row spans for :func:`engram.render.blend.spans_mask`:
        ``(lo, width)`` int32 ``(height,)``, row ``y`` covered at columns ``lo .. lo +
        width - 1`` (width 0: none).

        Raises:
            ValueError: the sprite has a row of two runs (:attr:`runs` is None).
        """
        if self.runs is None:
            raise ValueError("row_spans: a sprite row has more than one run of opaque pixels")
        d = self.size
        x = jnp.clip(x, -d, self.width)
        y = jnp.clip(y, -d, height)
        # Screen row r is sprite row r - y: one window of the runs padded with `height`
        # empty rows each side (one dynamic slice, not a gather per row; the padded table
        # is a constant, as in engram.render.blend.disc_spans).
        padded = jnp.pad(self.runs, ((0, 0), (0, 0), (height, height)))
        window = jax.lax.dynamic_slice(padded, (0, index, height - y), (2, 1, height))
        return x + window[0, 0], window[1, 0]

    def overlay(self, frame: jax.Array, pad: int, index, x, y) -> jax.Array:
        """Draw sprite ``index`` (int32) with its top-left at ``(x, y)`` (px, clipped to the
        screen) over ``frame``, a flat uint8 screen with ``pad >= D`` blank rows above and
        below (``((H + 2 pad) * W * 3,)``)."""
        d, row = self.size, self.width * 3
        x = jnp.clip(x, -d, self.width)
        y = jnp.clip(y, -d, frame.shape[0] // row - 2 * pad)
        band = table_row(self.table, index * (self.width + d + 1) + x + d)
        colour, opaque = band[: d * row], band[d * row :]
        start = (y + pad) * row
        under = jax.lax.dynamic_slice(frame, (start,), (d * row,))
        return jax.lax.dynamic_update_slice(frame, jnp.where(opaque != 0, colour, under), (start,))


def _runs(mask: np.ndarray) -> np.ndarray | None:
    """``(start, width)`` int32 ``(2, N, D)`` of the opaque run of each row of bool ``(N,
    D, D)`` sprites (width 0 where a row is empty); None if a row has two runs."""
    n, d = mask.shape[:2]
    out = np.zeros((2, n, d), np.int32)
    for i in range(n):
        for r in range(d):
            cols = np.flatnonzero(mask[i, r])
            if cols.size == 0:
                continue
            if cols[-1] - cols[0] + 1 != cols.size:
                return None
            out[:, i, r] = cols[0], cols.size
    return out


def unpad_rows(frame: jax.Array, pad: int, width: int = 84) -> jax.Array:
    """The screen rows ``(H * W * 3,)`` of a flat frame with ``pad`` blank rows above and
    below."""
    m = pad * width * 3
    return frame[m : frame.shape[0] - m]


def bytes_of(mask: jax.Array) -> jax.Array:
    """A per-pixel mask bool ``(H, W)`` as a per-byte one, bool ``(H, W * 3)``."""
    return jnp.repeat(mask, 3, axis=1)


def darken(rows: jax.Array, alpha, light: jax.Array, white: jax.Array | None = None):
    """Searing Spotlights' darkness layer over flat rows: where ``light`` the rows show
    through, elsewhere they are blended with black (or white where ``white``) at surface
    alpha ``alpha``.

    The blend is :func:`engram.render.blend.alpha_blend` (SDL's ``d + trunc((s - d) a /
    255)``) for ``s`` 0 or 255, in 16-bit lanes: with ``f(d) = d - d a // 255``, black
    gives ``f(d)`` and white ``255 - f(255 - d)``; ``p // 255`` is ``(p + 1 + (p >> 8))
    >> 8`` for every ``p = d a <= 255 * 255`` (checked exhaustively), and that sum stays
    below 2**16.

    Args:
        rows: uint8 ``(H, W * 3)``. alpha: int32 scalar, 0..255.
        light, white: bool ``(H, W * 3)`` (per byte, see :func:`bytes_of`).

    Returns:
        uint8 ``(H, W * 3)``.
    """
    flip = jnp.uint8(0) if white is None else jnp.where(white, jnp.uint8(255), jnp.uint8(0))
    d = rows ^ flip
    p = d.astype(jnp.uint16) * jnp.asarray(alpha).astype(jnp.uint16)
    q = ((p + 1 + (p >> 8)) >> 8).astype(jnp.uint8)
    return jnp.where(light, rows, (d - q) ^ flip)
