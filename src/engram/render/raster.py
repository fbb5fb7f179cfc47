"""Build-time rasterisers in NumPy that reproduce pygame 2.4's drawing, pixel for pixel.

The Memory Gym pictures are drawn with ``pygame.draw`` and ``pygame.transform.rotate``.
Sprites and symbols are fixed for the lifetime of an environment, so engram rasterises them
once with these functions (plain integer arithmetic, no pygame needed) and the JAX step only
composites them (:mod:`engram.render.ops`).

Every function draws into a ``bool`` mask of shape ``(H, W)`` (row = y, column = x); colour is
applied afterwards with :func:`paint`. Coordinates follow pygame: a float centre or endpoint
is truncated toward zero (pygame's ``pg_IntFromObj`` casts with ``(int)``).

Checked against pygame 2.4.0 (the version the original pins): filled circles and rings for
radii 0-39 at random float centres, and lines of widths 1-5 whose endpoints lie inside the
surface, are identical (``tests/test_render.py`` checks the sprites built from them against
the recorded frames of the original).
"""

from __future__ import annotations

import math

import numpy as np


def _span(mask: np.ndarray, x1: int, x2: int, y: int) -> None:
    """Horizontal run ``x1..x2`` (inclusive, either order) on row ``y``, clipped."""
    h, w = mask.shape
    if 0 <= y < h:
        a, b = max(min(x1, x2), 0), min(max(x1, x2), w - 1)
        if a <= b:
            mask[y, a : b + 1] = True


def circle_spans(radius: int) -> list[tuple[int, int, int]]:
    """Rows of pygame's filled circle as ``(dy, dx_left, dx_right)`` offsets from the centre.

    pygame's ``draw_circle_filled`` (midpoint algorithm): a circle of radius r spans columns
    ``x0 - r .. x0 + r - 1`` and rows ``y0 - r .. y0 + r - 1``, i.e. it is 2r pixels wide and
    its centre sits on the lower-right of the middle four pixels.
    """
    spans = []
    f, ddx, ddy, x, y = 1 - radius, 0, -2 * radius, 0, radius
    while x < y:
        if f >= 0:
            y -= 1
            ddy += 2
            f += ddy
        x += 1
        ddx += 2
        f += ddx + 1
        if f >= 0:  # the original draws these rows only before y steps down
            spans += [(y - 1, -x, x - 1), (-y, -x, x - 1)]
        spans += [(x - 1, -y, y - 1), (-x, -y, y - 1)]
    return spans


def _filled_circle(mask: np.ndarray, x0: int, y0: int, radius: int) -> None:
    for dy, a, b in circle_spans(radius):
        _span(mask, x0 + a, x0 + b, y0 + dy)


class _MidpointCircle:
    """The state of one midpoint circle in pygame's ``draw_circle_bresenham`` (the ellipse
    form with ``a == b``), stepped from the top (x = 0, y = r) clockwise."""

    def __init__(self, radius: int):
        self.x, self.y = 0, radius
        self.r2 = radius * radius
        self.dr2 = 2 * self.r2
        self.dx, self.dy = 0, self.dr2 * radius
        self.d1 = self.r2 * (1.25 - radius)  # region 1 decision variable
        self.d2 = 0.0  # region 2 decision variable, set by region2_start

    def region1_advance(self) -> None:
        """Region 1 (slope above -1): move right while the midpoint is inside."""
        while self.d1 < 0:
            self.x += 1
            self.dx += self.dr2
            self.d1 += self.dx + self.r2

    def region1_diagonal(self) -> None:
        self.x += 1
        self.y -= 1
        self.dx += self.dr2
        self.dy -= self.dr2
        self.d1 += self.dx - self.dy + self.r2

    def region1_step(self) -> None:
        self.region1_advance()
        self.region1_diagonal()

    def region2_start(self) -> None:
        self.d2 = self.r2 * ((self.x + 0.5) ** 2 + (self.y - 1) ** 2 - self.r2)

    def region2_step(self) -> None:
        """Region 2 (slope below -1): one row down, and right if the midpoint is inside."""
        self.y -= 1
        self.dy -= self.dr2
        if self.d2 > 0:
            self.d2 += self.r2 - self.dy
        else:
            self.x += 1
            self.dx += self.dr2
            self.d2 += self.dx - self.dy + self.r2


def _ring(mask: np.ndarray, x0: int, y0: int, radius: int, thickness: int) -> None:
    """pygame's ``draw_circle_bresenham``: a midpoint circle of the outer radius, filled
    from its edge inwards up to a second midpoint circle of radius ``radius - thickness + 1``.
    """
    outer = _MidpointCircle(radius)
    ri = radius - thickness + 1
    inner = _MidpointCircle(ri)
    full_rows = True  # near the top and bottom the ring is still a solid run

    def rows():
        x, y, xi = outer.x, outer.y, inner.x
        if full_rows:
            _span(mask, x0 - x, x0 + x - 1, y0 - y)
            _span(mask, x0 - x, x0 + x - 1, y0 + y - 1)
        else:
            _span(mask, x0 - x, x0 - xi, y0 - y)
            _span(mask, x0 - x, x0 - xi, y0 + y - 1)
            _span(mask, x0 + x - 1, x0 + xi - 1, y0 - y)
            _span(mask, x0 + x - 1, x0 + xi - 1, y0 + y - 1)

    while outer.dx < outer.dy:  # region 1: slope above -1
        outer.region1_advance()
        rows()
        outer.region1_diagonal()
        full_rows = full_rows and outer.y >= ri
        if not full_rows:
            inner.region1_step()
    outer.region2_start()
    while outer.y >= 0:  # region 2
        rows()
        outer.region2_step()
        full_rows = full_rows and outer.y >= ri
        if not full_rows:
            if inner.dx < inner.dy:
                inner.region1_step()
            else:
                if inner.d2 == 0.0:  # as pygame: set on the inner circle's first region-2 step
                    inner.region2_start()
                inner.region2_step()


def draw_circle(mask: np.ndarray, center, radius, width: int = 0) -> np.ndarray:
    """``pygame.draw.circle(surface, color, center, radius, width)`` into ``mask`` (in place).

    Args:
        mask: bool ``(H, W)``, modified in place and returned.
        center: ``(x, y)`` in px; floats are truncated toward zero as pygame does.
        radius: px; truncated. A radius below 1 draws nothing.
        width: 0 fills; otherwise the ring's thickness in px, capped at ``radius``.

    Raises:
        ValueError: for a negative ``width`` or a width of exactly 1 (pygame's thin-circle
            routine is not reproduced; no Memory Gym picture uses it).
    """
    x0, y0, r, width = int(center[0]), int(center[1]), int(radius), int(width)
    if width < 0:
        raise ValueError(f"draw_circle: width must be >= 0, got {width}")
    if r < 1:
        return mask
    width = min(width, r)
    if width in (0, r):
        _filled_circle(mask, x0, y0, r)
    elif width == 1:
        raise ValueError("draw_circle: width 1 (pygame's thin circle) is not supported")
    else:
        _ring(mask, x0, y0, r, width)
    return mask


def draw_line(mask: np.ndarray, start, end, width: int = 1) -> np.ndarray:
    """``pygame.draw.line(surface, color, start, end, width)`` into ``mask`` (in place).

    Bresenham's line, thickened across its minor axis: ``width // 2`` pixels on one side and
    ``width // 2 - (1 - width % 2)`` on the other, so a 2-px line grows right or down.

    Raises:
        ValueError: if ``width`` < 1 or an endpoint lies outside the surface (pygame clips
            such lines with its own Bresenham restart, which is not reproduced).
    """
    h, w = mask.shape
    x1, y1, x2, y2 = int(start[0]), int(start[1]), int(end[0]), int(end[1])
    if width < 1:
        raise ValueError(f"draw_line: width must be >= 1, got {width}")
    for x, y in ((x1, y1), (x2, y2)):
        if not (0 <= x < w and 0 <= y < h):
            raise ValueError(f"draw_line: endpoint {(x, y)} outside the {w}x{h} surface")
    half, extra = width // 2, 1 - width % 2
    across_x = abs(x1 - x2) <= abs(y1 - y2)  # steep lines thicken along x
    dx, sx = abs(x2 - x1), (1 if x1 < x2 else -1)
    dy, sy = abs(y2 - y1), (1 if y1 < y2 else -1)
    err = int((dx if dx > dy else -dy) / 2)  # C division truncates toward zero
    while True:
        for k in range(-half + extra, half + 1):
            xx, yy = (x1 + k, y1) if across_x else (x1, y1 + k)
            if 0 <= xx < w and 0 <= yy < h:
                mask[yy, xx] = True
        if x1 == x2 and y1 == y2:
            return mask
        e2 = err
        if e2 > -dx:
            err -= dy
            x1 += sx
        if e2 < dy:
            err += dx
            y1 += sy


def rotate(image: np.ndarray, angle: float) -> np.ndarray:
    """``pygame.transform.rotate`` (counter-clockwise, degrees) of an ``(H, W, ...)`` array.

    Multiples of 90 degrees are exact quarter turns. Other angles use pygame's nearest-
    neighbour sampler in 16.16 fixed point on a canvas enlarged to the rotated bounding box;
    pixels that sample outside the source get ``0`` / ``False`` (pygame fills them with the
    surface's colour key, which is transparent).
    """
    if angle % 90 == 0:
        return np.rot90(image, int(angle // 90) % 4).copy()
    h, w = image.shape[:2]
    rad = angle * 0.01745329251994329
    s, c = math.sin(rad), math.cos(rad)
    nw = int(max(abs(c * w + s * h), abs(c * w - s * h), abs(-c * w + s * h), abs(-c * w - s * h)))
    nh = int(max(abs(s * w + c * h), abs(s * w - c * h), abs(-s * w + c * h), abs(-s * w - c * h)))
    out = np.zeros((nh, nw) + image.shape[2:], image.dtype)
    cy = nh // 2
    xd, yd = (w - nw) << 15, (h - nh) << 15
    isin, icos = int(s * 65536), int(c * 65536)
    ax = (nw << 15) - int(c * ((nw - 1) << 15))
    ay = (nh << 15) - int(s * ((nw - 1) << 15))
    xmax, ymax = (w << 16) - 1, (h << 16) - 1
    for y in range(nh):
        sxf = ax + isin * (cy - y) + xd
        syf = ay - icos * (cy - y) + yd
        for x in range(nw):
            if 0 <= sxf <= xmax and 0 <= syf <= ymax:
                out[y, x] = image[syf >> 16, sxf >> 16]
            sxf += icos
            syf += isin
    return out


def paint(rgb: np.ndarray, mask: np.ndarray, color) -> np.ndarray:
    """Set the pixels of ``rgb`` (uint8 ``(H, W, 3)``) under ``mask`` to ``color`` (in place)."""
    rgb[mask] = np.asarray(color, np.uint8)
    return rgb
