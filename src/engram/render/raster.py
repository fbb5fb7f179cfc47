"""Build-time rasterisers in NumPy that reproduce pygame 2.4's drawing, pixel for pixel.

The Memory Gym pictures are drawn with ``pygame.draw`` and ``pygame.transform.rotate``.
Sprites and symbols are fixed for the lifetime of an environment, so engram rasterises them
once with these functions (plain integer arithmetic, no pygame needed) and the JAX step only
composites them (:mod:`engram.render.ops`).

Every function draws into a ``bool`` mask of shape ``(H, W)`` (row = y, column = x); colour is
applied afterwards with :func:`paint`. Coordinates follow pygame: a float centre or endpoint
is truncated toward zero (pygame's ``pg_IntFromObj`` casts with ``(int)``).

Checked against pygame 2.4.0 (the version the original pins): circles of radii 0-40 and
every width 0-6 (filled, the 1-px thin circle and rings) at float and clipped centres, and
rounded rectangles, are identical to drawings made with pygame 2.4.0
(``tests/fixtures/pygame24_raster.npz``, written by ``scripts/make_raster_fixtures.py``; the
tests are in ``tests/render/test_render.py``). Lines of widths 1-5 whose endpoints lie inside the
surface are identical too.
"""

from __future__ import annotations

import math

import numpy as np


def _set(mask: np.ndarray, x: int, y: int) -> None:
    """One pixel, dropped outside the surface (pygame's ``set_at`` clips to the surface)."""
    h, w = mask.shape
    if 0 <= x < w and 0 <= y < h:
        mask[y, x] = True


def _vspan(mask: np.ndarray, x: int, y1: int, y2: int) -> None:
    """Vertical run ``y1..y2`` (inclusive; empty if ``y2 < y1``) in column ``x``, clipped."""
    h, w = mask.shape
    if 0 <= x < w:
        a, b = max(y1, 0), min(y2, h - 1)
        if a <= b:
            mask[a : b + 1, x] = True


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
    for x, y, f in _midpoint_steps(radius):
        if f >= 0:  # the original draws these rows only before y steps down
            spans += [(y - 1, -x, x - 1), (-y, -x, x - 1)]
        spans += [(x - 1, -y, y - 1), (-x, -y, y - 1)]
    return spans


def _midpoint_steps(radius: int):
    """The midpoint loop shared by pygame's ``draw_circle_filled`` and
    ``draw_circle_bresenham_thin``: yields ``(x, y, f)`` after each step of the octant
    from the top (x = 0, y = r) while ``x < y``; ``f`` is the decision variable."""
    f, ddx, ddy, x, y = 1 - radius, 0, -2 * radius, 0, radius
    while x < y:
        if f >= 0:
            y -= 1
            ddy += 2
            f += ddy
        x += 1
        ddx += 2
        f += ddx + 1
        yield x, y, f


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


def _thin_circle(mask: np.ndarray, x0: int, y0: int, radius: int) -> None:
    """pygame's ``draw_circle_bresenham_thin`` (``width == 1``): the midpoint loop of
    :func:`circle_spans`, plotting after each step one pixel in each of the eight octants.
    Like the filled circle, its right and bottom halves are shifted by one pixel toward
    the centre (offsets ``x - 1`` / ``y - 1``), so it is the 1-px rim of a 2r-wide disc.
    """
    for x, y, _ in _midpoint_steps(radius):
        for px, py in (
            (x0 + x - 1, y0 + y - 1),
            (x0 - x, y0 + y - 1),
            (x0 + x - 1, y0 - y),
            (x0 - x, y0 - y),
            (x0 + y - 1, y0 + x - 1),
            (x0 + y - 1, y0 - x),
            (x0 - y, y0 + x - 1),
            (x0 - y, y0 - x),
        ):
            _set(mask, px, py)


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

    pygame's dispatch (``circle`` in ``src_c/draw.c``): a width of 0 or of at least the
    radius fills (``draw_circle_filled``), width 1 draws the thin 1-px circle
    (``draw_circle_bresenham_thin``), any other width a ring (``draw_circle_bresenham``).

    Raises:
        ValueError: for a negative ``width`` (pygame silently draws nothing).
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
        _thin_circle(mask, x0, y0, r)
    else:
        _ring(mask, x0, y0, r, width)
    return mask


def draw_line(mask: np.ndarray, start, end, width: int = 1) -> np.ndarray:
    """``pygame.draw.line(surface, color, start, end, width)`` into ``mask`` (in place).

    Bresenham's line, thickened across its minor axis: ``width // 2`` pixels on one side and
    ``width // 2 - (1 - width % 2)`` on the other, so a 2-px line grows right or down
    (pygame 2.4.0's ``draw_line_width``, ``src_c/draw.c``).

    Clipping: pygame first clips the line's centre to the surface (``clip_line``, a
    Liang-Barsky clip to ``0 .. W`` and ``0 .. H``, both ends inclusive) and restarts the
    Bresenham walk from there, then clips each pixel. For a horizontal or vertical line
    (or a single point) that is the same as clipping each pixel, except that a line whose
    constant coordinate lies outside ``0 .. W`` (x) or ``0 .. H`` (y) draws nothing, even
    where its thickness would reach into the surface (so a line at ``y == H`` still shows
    its upper half, one at ``y == -1`` shows nothing). Those lines are reproduced exactly.

    Raises:
        ValueError: if ``width`` < 1, or a slanted line has an endpoint outside the
            surface (pygame's restart of a clipped slanted line is not reproduced).
    """
    h, w = mask.shape
    x1, y1, x2, y2 = int(start[0]), int(start[1]), int(end[0]), int(end[1])
    if width < 1:
        raise ValueError(f"draw_line: width must be >= 1, got {width}")
    if x1 == x2 or y1 == y2:
        if (x1 == x2 and not 0 <= x1 <= w) or (y1 == y2 and not 0 <= y1 <= h):
            return mask  # clip_line rejects it
    else:
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


def _cdiv(a: int, b: int) -> int:
    """C's integer division: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _fill_polygon(mask: np.ndarray, xs: list[int], ys: list[int]) -> None:
    """pygame's ``draw_fillpoly``: a scanline fill of the closed polygon ``(xs[i], ys[i])``.

    Each row ``y`` from the top vertex to the bottom one meets every non-horizontal edge
    with ``y1 <= y < y2`` (and, on the bottom row, every edge ending there) at
    ``x1 + (y - y1) * (x2 - x1) / (y2 - y1)`` in C integer division; the sorted crossings
    are filled pairwise. Afterwards the horizontal edges strictly between the top and the
    bottom row are drawn as well. A polygon one row high is the span of its x range.
    """
    n = len(xs)
    miny, maxy = min(ys), max(ys)
    if miny == maxy:
        _span(mask, min(xs), max(xs), miny)
        return
    for y in range(miny, maxy + 1):
        cross = []
        for i in range(n):
            j = i - 1 if i else n - 1  # the previous vertex
            if ys[j] < ys[i]:
                x1, y1, x2, y2 = xs[j], ys[j], xs[i], ys[i]
            elif ys[j] > ys[i]:
                x1, y1, x2, y2 = xs[i], ys[i], xs[j], ys[j]
            else:
                continue
            if y1 <= y < y2 or (y == maxy and y2 == maxy):
                cross.append(_cdiv((y - y1) * (x2 - x1), y2 - y1) + x1)
        cross.sort()
        for k in range(0, len(cross) - 1, 2):
            _span(mask, cross[k], cross[k + 1], y)
    for i in range(n):
        j = i - 1 if i else n - 1
        if miny < ys[i] < maxy and ys[j] == ys[i]:
            _span(mask, xs[i], xs[j], ys[i])


def _circle_quadrant(
    mask: np.ndarray, x0: int, y0: int, radius: int, thickness: int, corner: str
) -> None:
    """pygame's ``draw_circle_quadrant`` for one quarter (``corner`` one of ``"tr"``,
    ``"tl"``, ``"bl"``, ``"br"``), as the rounded corners of ``pygame.draw.rect`` use it.

    The midpoint loop of :func:`circle_spans`. ``thickness == 0`` fills the quarter with
    vertical runs from the centre row outwards (the top quarters include row ``y0``, the
    bottom ones start there); otherwise it draws ``thickness`` pixels inwards from the rim,
    where after the first step a thickness above 1 becomes the distance to a second
    midpoint circle of radius ``radius - thickness`` (and keeps that value once it drops to
    1 or below). Radius 1 is a single pixel next to the centre; radius 0 draws nothing.
    """
    if radius == 1:
        dx, dy = {"tr": (0, -1), "tl": (-1, -1), "bl": (-1, 0), "br": (0, 0)}[corner]
        _set(mask, x0 + dx, y0 + dy)
        return
    f, ddx, ddy, x, y = 1 - radius, 0, -2 * radius, 0, radius
    iy = radius - thickness
    i_f, i_ddx, i_ddy = 1 - iy, 0, -2 * iy
    while x < y:
        if f >= 0:
            y -= 1
            ddy += 2
            f += ddy
        if thickness != 0 and i_f >= 0:
            iy -= 1
            i_ddy += 2
            i_f += i_ddy
        x += 1
        ddx += 2
        f += ddx + 1
        if thickness == 0:
            if corner == "tr":
                _vspan(mask, x0 + y - 1, y0 - x, y0)
                _vspan(mask, x0 + x - 1, y0 - y, y0)
            elif corner == "tl":
                _vspan(mask, x0 - y, y0 - x, y0)
                _vspan(mask, x0 - x, y0 - y, y0)
            elif corner == "bl":
                _vspan(mask, x0 - y, y0, y0 + x - 1)
                _vspan(mask, x0 - x, y0, y0 + y - 1)
            else:
                _vspan(mask, x0 + y - 1, y0, y0 + x - 1)
                _vspan(mask, x0 + x - 1, y0, y0 + y - 1)
            continue
        i_ddx += 2
        i_f += i_ddx + 1
        if thickness > 1:
            thickness = y - iy
        for i in range(thickness):
            y1 = y - i
            # pixel pairs of the two octants of the quarter; the comparisons keep the
            # octants from overlapping on the diagonal
            if corner == "tr":
                pairs = (((x0 + x - 1, y0 - y1), y1 > x), ((x0 + y1 - 1, y0 - x), y1 >= x))
            elif corner == "tl":
                pairs = (((x0 - x, y0 - y1), y1 >= x), ((x0 - y1, y0 - x), y1 > x))
            elif corner == "bl":
                pairs = (((x0 - y1, y0 + x - 1), y1 >= x), ((x0 - x, y0 + y1 - 1), y1 > x))
            else:
                pairs = (
                    ((x0 + x - 1, y0 + y1 - 1), y1 >= x),
                    ((x0 + y1 - 1, y0 + x - 1), y1 > x),
                )
            for (px, py), on in pairs:
                if on:
                    _set(mask, px, py)


def draw_rect(
    mask: np.ndarray,
    rect,
    width: int = 0,
    border_radius: int = 0,
    border_top_left_radius: int = -1,
    border_top_right_radius: int = -1,
    border_bottom_left_radius: int = -1,
    border_bottom_right_radius: int = -1,
) -> np.ndarray:
    """``pygame.draw.rect(surface, color, rect, width, border_radius, top_left, top_right,
    bottom_left, bottom_right)`` into ``mask`` (in place), as pygame 2.4.0's ``rect`` and
    ``draw_round_rect`` (``src_c/draw.c``) draw it.

    * No corner radius above 0 (a corner radius of -1 means ``border_radius``), or a side
      shorter than 2 px: a plain rectangle, clipped to the surface; filled when ``width``
      is 0 or ``2 * width`` is not below both clipped sides, else a frame ``width`` px
      thick (drawn from the unclipped rectangle).
    * Otherwise a rounded rectangle: a negative side is flipped, ``width`` is capped at
      half a side, and corner radii that do not fit are scaled down together by a float32
      factor and truncated. ``width == 0`` fills an octagon (:func:`_fill_polygon`) plus a
      filled quarter circle per corner; otherwise four ``width``-px lines
      (:func:`draw_line`) plus a ``width``-thick quarter circle per corner
      (:func:`_circle_quadrant`). A corner's quarter circle is centred at
      ``(x1 + r, y1 + r)`` (top left), ``(x2 - r + 1, y1 + r)`` (top right),
      ``(x1 + r, y2 - r + 1)`` (bottom left) and ``(x2 - r + 1, y2 - r + 1)`` (bottom
      right), with ``x2 = x + w - 1`` and ``y2 = y + h - 1``.

    Args:
        mask: bool ``(H, W)``, modified in place and returned.
        rect: ``(x, y, w, h)`` in px; floats are truncated.
        width, border_radius, border_*_radius: px, as pygame's arguments.

    Raises:
        ValueError: for a negative ``width`` (pygame draws nothing).
    """
    x, y, w, h = (int(v) for v in rect)
    width, radius = int(width), int(border_radius)
    tl, tr, bl, br = (
        int(border_top_left_radius),
        int(border_top_right_radius),
        int(border_bottom_left_radius),
        int(border_bottom_right_radius),
    )
    if width < 0:
        raise ValueError(f"draw_rect: width must be >= 0, got {width}")
    mh, mw = mask.shape
    if (radius <= 0 and max(tl, tr, bl, br) <= 0) or abs(w) < 2 or abs(h) < 2:
        # SDL_IntersectRect with the surface: empty for a side <= 0
        cx1, cy1 = max(x, 0), max(y, 0)
        cx2, cy2 = min(x + w, mw), min(y + h, mh)
        if w <= 0 or h <= 0 or cx2 <= cx1 or cy2 <= cy1:
            return mask
        if width > 0 and 2 * width < cx2 - cx1 and 2 * width < cy2 - cy1:
            x2, y2 = x + w - 1, y + h - 1
            for i in range(width):  # pygame's draw_rect: top and bottom bands, then sides
                _span(mask, x, x2, y + i)
                _span(mask, x, x2, y2 - i)
            for i in range(y2 - y - 2 * width + 1):
                _span(mask, x, x + width - 1, y + width + i)
                _span(mask, x2 - width + 1, x2, y + width + i)
        else:
            mask[cy1:cy2, cx1:cx2] = True
        return mask
    if w < 0:
        x, w = x + w, -w
    if h < 0:
        y, h = y + h, -h
    if width > w // 2 or width > h // 2:
        width = max(w // 2, h // 2)
    tl, tr, bl, br = (radius if c < 0 else c for c in (tl, tr, bl, br))
    x1, y1, x2, y2 = x, y, x + w - 1, y + h - 1
    if tl + tr > w or bl + br > w or tl + bl > h or tr + br > h:

        def ratio(side: int, pair: int) -> np.float32:
            return np.float32(side) / np.float32(pair) if pair else np.float32(np.inf)

        f = min(ratio(w, tl + tr), ratio(h, tl + bl), ratio(w, bl + br), ratio(h, tr + br))
        tl, tr, bl, br = (int(np.float32(c) * f) for c in (tl, tr, bl, br))
    centres = {
        "tr": (x2 - tr + 1, y1 + tr, tr),
        "tl": (x1 + tl, y1 + tl, tl),
        "bl": (x1 + bl, y2 - bl + 1, bl),
        "br": (x2 - br + 1, y2 - br + 1, br),
    }
    if width == 0:
        xs = [x1, x1 + tl, x2 - tr, x2, x2, x2 - br, x1 + bl, x1]
        ys = [y1 + tl, y1, y1, y1 + tr, y2 - br, y2, y2, y2 - bl]
        _fill_polygon(mask, xs, ys)
    else:
        half, odd = width // 2, width % 2
        if x2 - tr == x1 + tl:  # top side: a gap of one column when the radii meet
            _vspan(mask, x1 + tl, y1, y1 + width - 1)
        else:
            yy = y1 + half - 1 + odd
            draw_line(mask, (x1 + tl, yy), (x2 - tr, yy), width)
        if y2 - bl == y1 + tl:  # left side
            _span(mask, x1, x1 + width - 1, y1 + tl)
        else:
            xx = x1 + half - 1 + odd
            draw_line(mask, (xx, y1 + tl), (xx, y2 - bl), width)
        if x2 - br == x1 + bl:  # bottom side
            _vspan(mask, x1 + bl, y2 - width + 1, y2)
        else:
            draw_line(mask, (x1 + bl, y2 - half), (x2 - br, y2 - half), width)
        if y2 - br == y1 + tr:  # right side
            _span(mask, x2 - width + 1, x2, y1 + tr)
        else:
            draw_line(mask, (x2 - half, y1 + tr), (x2 - half, y2 - br), width)
    for corner, (cx, cy, r) in centres.items():
        _circle_quadrant(mask, cx, cy, r, width, corner)
    return mask


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
