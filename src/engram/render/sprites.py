"""The fixed pictures of Memory Gym, rasterised once per environment with :mod:`.raster`.

Each function returns ``(rgb, mask)``: uint8 colour and a bool mask of the opaque pixels (the
original uses colour-keyed pygame surfaces; the mask is that colour key inverted).
"""

from __future__ import annotations

import math

import numpy as np

from engram.render.raster import draw_circle, draw_line, draw_rect, paint, rotate

# Colours of Memory Gym's CharacterController.create_character_sprites.
BODY_COLOR = (250, 204, 153)
HAND_COLOR = (250, 250, 250)
HAND_OUTLINE_COLOR = (50, 50, 50)

# Order of Mortar Mayhem's ``Command.COMMANDS``; index 9 is the blank symbol.
COMMANDS = ("right", "down", "left", "up", "stay", "right_down", "right_up", "left_down", "left_up")
# Counter-clockwise rotation of the right-pointing arrow, from Memory Gym's Command class.
_ARROW_ANGLE = {
    "right": 0,
    "up": 90,
    "left": 180,
    "down": 270,
    "right_up": 45,
    "left_up": 135,
    "left_down": 225,
    "right_down": 315,
}


def _rotate_vector(x: float, y: float, degrees: float) -> tuple[float, float]:
    """pygame's ``Vector2.rotate_ip``: exact for multiples of 90 degrees, else sin/cos of
    ``degrees * pi / 180`` (pygame 2.4's ``DEG2RAD``, ``src_c/math.c``)."""
    eps = 1e-6
    if math.fmod(degrees + eps, 90.0) < 2 * eps:
        quarter = int((degrees + eps) / 90) % 4
        return [(x, y), (-y, x), (-x, -y), (y, -x)][quarter]
    rad = degrees * math.pi / 180.0
    s, c = math.sin(rad), math.cos(rad)
    return c * x - s * y, s * x + c * y


def agent_sprites(scale: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """The agent's 8 sprites, as Memory Gym's ``CharacterController.create_character_sprites``.

    A body circle (radius ``int(25 * scale)``) with two hands rotated about the centre; index
    ``i`` is the sprite for ``rotation = 45 * i`` degrees (the original builds them for
    ``reversed(range(45, 405, 45))`` and looks them up with ``rotation // 45``, so index ``i``
    shows the hands turned by ``360 - 45 * i`` degrees counter-clockwise in screen space).
    Each hand is a disc of :data:`HAND_COLOR` (radius ``int(10 * scale)``) outlined in
    :data:`HAND_OUTLINE_COLOR` with ``pygame.draw.circle``'s width ``int(3 * scale)``: 0
    (``scale < 1/3``) fills the hand grey, 1 (``scale`` in ``[1/3, 2/3)``) is pygame's thin
    circle. Checked against pygame 2.4.0's own sprites for every scale 0.05..2.00 in steps
    of 0.01 (``scripts/make_raster_fixtures.py``).

    Returns:
        ``rgb`` uint8 ``(8, D, D, 3)`` and ``mask`` bool ``(8, D, D)`` with
        ``D = 2 * int(25 * scale) + int(10 * scale) + 14`` (28 at the default scale).
    """
    radius = int(25 * scale)
    hands_dx, hand_dy = int(18 * scale), int(12 * scale)
    hand_radius, hand_outline = int(10 * scale), int(3 * scale)
    extension = 14
    dim = radius * 2 + hand_radius + extension
    c = dim // 2
    hands = [(c - hands_dx, hand_dy + extension // 2), (c + hands_dx, hand_dy + extension // 2)]
    rgbs, masks = [], []
    for angle in reversed(range(45, 405, 45)):
        rgb = np.zeros((dim, dim, 3), np.uint8)
        opaque = np.zeros((dim, dim), bool)
        body = draw_circle(np.zeros_like(opaque), (c, c), radius)
        paint(rgb, body, BODY_COLOR)
        opaque |= body
        for hx, hy in hands:
            rx, ry = _rotate_vector(hx - c, hy - c, angle)
            centre = (rx + c, ry + c)
            # The original fills each hand (250, 250, 250) and then draws the outline with
            # width int(3 * scale); at the default scale that width is 0, which pygame
            # treats as "filled", so the hands come out solid outline-grey.
            for colour, width in ((HAND_COLOR, 0), (HAND_OUTLINE_COLOR, hand_outline)):
                hand = draw_circle(np.zeros_like(opaque), centre, hand_radius, width)
                paint(rgb, hand, colour)
                opaque |= hand
        rgbs.append(rgb)
        masks.append(opaque)
    return np.stack(rgbs), np.stack(masks)


def command_symbols(scale: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Mortar Mayhem's command symbols, as its ``Command`` class draws them.

    White lines of width ``int(8 * scale)`` on a ``88 * scale`` px square: an arrow pointing
    right, rotated counter-clockwise by 0/90/180/270 or 45/135/225/315 degrees (the diagonal
    ones grow to 31 px at the default scale, and the original still blits them at the 22-px
    square's top-left), and "stay", a ring with a horizontal bar. Order: :data:`COMMANDS`,
    then the blank symbol shown between commands.

    Returns:
        ``rgb`` uint8 ``(10, S, S, 3)`` and ``mask`` bool ``(10, S, S)``, each symbol at the
        top-left of its ``S x S`` slot (S = the largest rotated size, 31 at the default scale).
    """
    dim = 88 * scale
    size = int(dim)
    width = int(8 * scale)
    masks = []
    for name in COMMANDS:
        m = np.zeros((size, size), bool)
        if name == "stay":
            radius = dim // 2 - 4 * scale
            bar_end, bar_y = dim - 12 * scale, dim // 2 - 8 * scale
            draw_circle(m, (radius, radius), radius, width)
            draw_line(m, (0, bar_y), (bar_end, bar_y), width)
        else:
            x1, x2, y1, y2 = 2 * scale, 80 * scale, 40 * scale, 0
            draw_line(m, (x1, y1), (x2, y1), width)
            draw_line(m, (x2, y1), (y1, y2), width)
            draw_line(m, (x2, y1), (y1, x2), width)
            m = rotate(m, _ARROW_ANGLE[name])
        masks.append(m)
    masks.append(np.zeros((size, size), bool))
    slot = max(m.shape[0] for m in masks)
    out = np.zeros((len(masks), slot, slot), bool)
    for i, m in enumerate(masks):
        out[i, : m.shape[0], : m.shape[1]] = m
    rgb = np.repeat(out[..., None], 3, axis=-1).astype(np.uint8) * np.uint8(255)
    return rgb, out


def coin_masks(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Searing Spotlights' coin, as Memory Gym's ``Coin.draw`` (``pygame_assets.py``): a
    yellow disc of radius ``r = int(10 * scale)``, then an orange ``pygame.draw.circle``
    of the same radius with width ``int(2 * scale)`` on top (width 0 fills, so below
    ``scale = 0.5`` the coin is all orange; in ``[0.5, 1)`` the outline is pygame's 1-px
    thin circle).

    Returns:
        ``(fill, outline)``, bool ``(D, D)`` each with ``D = 2 * r + 2``, centre at
        ``(r, r)`` (the coin at location ``(x, y)`` has its top-left at ``(x - r, y - r)``):
        ``fill`` the yellow disc's pixels, ``outline`` the orange ones (drawn last, so the
        visible yellow is ``fill & ~outline``). Opaque pixels are ``fill | outline``: a
        ring can reach one pixel beyond pygame's disc (e.g. ``scale`` 1.1 .. 1.19, radius
        11 with width 2). Both empty when ``r == 0``. Checked against pygame 2.4.0 for
        every scale 0.05..2.00 in steps of 0.01.
    """
    r = int(10 * scale)
    d = 2 * r + 2
    fill = draw_circle(np.zeros((d, d), bool), (r, r), r)
    outline = draw_circle(np.zeros((d, d), bool), (r, r), r, int(2 * scale))
    return fill, outline


def exit_masks(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Searing Spotlights' exit, as Memory Gym's ``Exit`` (``pygame_assets.py``): on a
    ``pygame.Surface((20 * scale, 20 * scale))`` (pygame truncates the size to
    ``n = int(20 * scale)``), colour-keyed, ``pygame.draw.rect(surface, colour, rect, 0, 0,
    k, k, 0, 0)`` with ``k = int(10 * scale)`` (a square with rounded top corners, in the
    open or closed colour), then the same rect in black with width ``int(2 * scale)``
    (width 0 fills: below ``scale = 0.5`` the whole exit is black). See
    :func:`engram.render.raster.draw_rect`.

    Returns:
        ``(shape, border)``, bool ``(n, n)`` each: ``shape`` the pixels of the coloured
        rect, ``border`` the black ones (drawn last). Opaque pixels are
        ``shape | border``; the exit at location ``(x, y)`` has its top-left at
        ``(x - n // 2, y - n // 2)`` (``rect.center = location``). Checked against pygame
        2.4.0 for every scale 0.05..2.00 in steps of 0.01, open and closed.
    """
    n, k = int(20 * scale), int(10 * scale)
    shape = draw_rect(np.zeros((n, n), bool), (0, 0, n, n), 0, 0, k, k, 0, 0)
    border = draw_rect(np.zeros((n, n), bool), (0, 0, n, n), int(2 * scale), 0, k, k, 0, 0)
    return shape, border
