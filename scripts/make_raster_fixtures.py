"""Record pygame 2.4.0's own drawings as the fixture that ``tests/render/test_render.py`` compares
engram's NumPy rasterisers (``engram.render.raster``, ``.sprites``, ``.blend``) against.

Runs in a Python with memory-gym 1.0.2 and pygame 2.4.0 installed (not engram's test venv,
which has pygame-ce, a different fork), from the repository root::

    SDL_VIDEODRIVER=dummy /work/mg/bin/python scripts/make_raster_fixtures.py
    # every scale 0.05..2.00 (step 0.01) instead of the fixture's subset:
    SDL_VIDEODRIVER=dummy /work/mg/bin/python scripts/make_raster_fixtures.py --full /tmp/f.npz

and then ``ENGRAM_RASTER_FIXTURE=/tmp/f.npz pytest -q -n 0 tests/render/test_render.py``
``-k pygame24``.

What it draws (each a separate surface):

* ``circle``: ``pygame.draw.circle`` for radii 0..40 and widths 0..6 at three float centres
  each (one inside the surface, one clipped at the top-left, one at the bottom-right).
* ``rect``: ``pygame.draw.rect`` for random rectangles, widths and corner radii (half of
  them inside the surface, half clipped).
* ``agent``: ``CharacterController(0, scale).character_surfaces`` (the 8 agent sprites).
* ``coin``: ``Coin(scale, (r, r)).draw`` on a ``2r + 2`` square, ``r = int(10 * scale)``.
* ``exit``: ``Exit((0, 0), scale)`` drawn closed, then open (its surface after each).

Layout of the ``.npz``: per group ``<g>_params`` float64 ``(K, P)`` (the arguments of item
``k``, columns listed in ``<g>_columns``), ``<g>_shapes`` int32 ``(K, 2)`` (h, w),
``<g>_mask`` the items' bool masks (opaque pixels: drawn, or not the colour key) raveled,
concatenated and ``np.packbits``-ed, and for the coloured groups ``<g>_rgb`` uint8
``(N, 3)``: the colours of the opaque pixels, item after item in row-major order.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np  # noqa: E402
import pygame  # noqa: E402
from memory_gym.character_controller import CharacterController  # noqa: E402
from memory_gym.pygame_assets import Coin, Exit  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "pygame24_raster.npz"

AGENT_SCALES = (0.1, 0.15, 0.2, 0.25, 0.3, 0.34, 0.4, 0.45, 0.5, 0.6, 0.67, 0.8, 1.0)
# Coin and exit: the thresholds of int(10 * s), int(20 * s) and int(2 * s) and their
# neighbours, the defaults (coin 0.375, exit 0.5) and a few large scales.
COIN_SCALES = (0.05, 0.1, 0.19, 0.2, 0.29, 0.3, 0.375, 0.49, 0.5, 0.55, 0.6, 0.7, 0.75)
COIN_SCALES += (0.8, 0.9, 0.99, 1.0, 1.2, 1.5, 2.0)
EXIT_SCALES = tuple(round(0.3 + 0.01 * k, 2) for k in range(71))  # 0.30 .. 1.00
EXIT_SCALES = (0.05, 0.1, 0.12, 0.15, 0.2, 0.25) + EXIT_SCALES + (1.25, 1.5, 2.0)


def _rgb(surface: pygame.Surface) -> np.ndarray:
    """uint8 ``(h, w, 3)`` (row = y) of a surface."""
    return pygame.surfarray.array3d(surface).transpose(1, 0, 2).copy()


def _opaque(surface: pygame.Surface) -> np.ndarray:
    """bool ``(h, w)``: the pixels that are not the surface's colour key."""
    key = surface.map_rgb(surface.get_colorkey())
    return pygame.surfarray.array2d(surface).T != key


class Group:
    """The items of one group: parameters, masks and (optionally) colours."""

    def __init__(self, name: str, columns: tuple[str, ...]):
        self.name, self.columns = name, columns
        self.params: list[tuple] = []
        self.masks: list[np.ndarray] = []
        self.rgbs: list[np.ndarray] = []

    def add(self, params: tuple, mask: np.ndarray, rgb: np.ndarray | None = None) -> None:
        self.params.append(params)
        self.masks.append(mask.astype(bool))
        if rgb is not None:
            self.rgbs.append(rgb[mask])

    def arrays(self) -> dict[str, np.ndarray]:
        g = self.name
        out = {
            f"{g}_columns": np.array(self.columns),
            f"{g}_params": np.array(self.params, np.float64).reshape(len(self.params), -1),
            f"{g}_shapes": np.array([m.shape for m in self.masks], np.int32).reshape(-1, 2),
            f"{g}_mask": np.packbits(np.concatenate([m.ravel() for m in self.masks])),
        }
        if self.rgbs:
            out[f"{g}_rgb"] = np.concatenate(self.rgbs).astype(np.uint8).reshape(-1, 3)
        return out


def circles() -> Group:
    """Radii 0..40 x widths 0..6 x three float centres on a ``2r + 6`` square."""
    group = Group("circle", ("radius", "width", "cx", "cy", "size"))
    for r in range(41):
        size = 2 * r + 6
        centres = (
            (r + 2.6, r + 3.3),  # inside
            (-(r // 3) - 0.7, r + 2.9),  # clipped on the left (truncated toward zero)
            (size - 1 - r // 2 + 0.4, size - r // 3 + 0.95),  # clipped right and bottom
        )
        for w in range(7):
            for cx, cy in centres:
                surf = pygame.Surface((size, size))
                surf.fill((0, 0, 0))
                pygame.draw.circle(surf, (255, 255, 255), (cx, cy), r, w)
                group.add((r, w, cx, cy, size), _rgb(surf)[..., 0] > 0)
    return group


def rects(n: int) -> Group:
    """``n`` random rectangles with random widths and radii on a 30 x 30 surface: the first
    half inside it, the second half anywhere (clipped, negative sides included)."""
    group = Group("rect", ("x", "y", "w", "h", "width", "radius", "tl", "tr", "bl", "br"))
    # Corner radii too large for the side are scaled by a float32 factor: these truncate
    # differently in float64 (e.g. int(41 * (4 / 41)) is 4, in float32 3).
    for w, c in ((4, 41), (3, 37), (2, 49), (4, 49), (9, 47)):
        for width in (0, 1):
            args = (3, 2, w, 25, width, 0, c, 0, 0, 0)
            surf = pygame.Surface((30, 30))
            surf.fill((0, 0, 0))
            pygame.draw.rect(surf, (255, 255, 255), args[:4], *args[4:])
            group.add(args, _rgb(surf)[..., 0] > 0)
    rng = np.random.default_rng(24)
    for k in range(n):
        if k < n // 2:
            w, h = (int(v) for v in rng.integers(0, 26, 2))
            x, y = (int(v) for v in rng.integers(0, 30 - np.array([w, h]) + 1))
        else:
            w, h = (int(v) for v in rng.integers(-12, 36, 2))
            x, y = (int(v) for v in rng.integers(-15, 40, 2))
        width = int(rng.integers(0, 9))
        radius = int(rng.integers(0, 16)) * int(rng.random() < 0.5)
        corners = [int(v) for v in rng.integers(-1, 16, 4)]
        corners = [c if rng.random() < 0.7 else -1 for c in corners]
        surf = pygame.Surface((30, 30))
        surf.fill((0, 0, 0))
        pygame.draw.rect(surf, (255, 255, 255), (x, y, w, h), width, radius, *corners)
        group.add((x, y, w, h, width, radius, *corners), _rgb(surf)[..., 0] > 0)
    return group


def agents(scales) -> Group:
    """``CharacterController.create_character_sprites`` (8 sprites per scale)."""
    group = Group("agent", ("scale", "index"))
    for s in scales:
        for i, surf in enumerate(CharacterController(0, s).character_surfaces):
            group.add((s, i), _opaque(surf), _rgb(surf))
    return group


def coins(scales) -> Group:
    """``Coin(scale, (r, r)).draw`` on a ``2r + 2`` black square."""
    group = Group("coin", ("scale",))
    for s in scales:
        r = int(10 * s)
        surf = pygame.Surface((2 * r + 2, 2 * r + 2))
        surf.fill((0, 0, 0))
        Coin(s, (r, r)).draw(surf)
        rgb = _rgb(surf)
        group.add((s,), rgb.any(-1), rgb)
    return group


def exits(scales) -> Group:
    """``Exit((0, 0), scale)``'s surface after ``draw(open=False)`` then ``draw(open=True)``
    (the order of the original: closed at reset, open once the coins are collected)."""
    group = Group("exit", ("scale", "open"))
    for s in scales:
        e = Exit((0, 0), s)
        for is_open in (False, True):
            e.draw(open=is_open)
            group.add((s, float(is_open)), _opaque(e.surface), _rgb(e.surface))
    return group


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=OUT)
    parser.add_argument(
        "--full", action="store_true", help="every scale 0.05..2.00 in steps of 0.01"
    )
    args = parser.parse_args()
    assert pygame.version.ver == "2.4.0", pygame.version.ver
    pygame.init()
    if args.full:
        every = tuple(round(0.05 + 0.01 * k, 2) for k in range(196))
        agent_scales, coin_scales, exit_scales = every, every, every
    else:
        agent_scales, coin_scales, exit_scales = AGENT_SCALES, COIN_SCALES, EXIT_SCALES
    arrays = {"pygame_version": np.array(pygame.version.ver)}
    for group in (
        circles(),
        rects(600),
        agents(agent_scales),
        coins(coin_scales),
        exits(exit_scales),
    ):
        arrays.update(group.arrays())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"{args.out}: {args.out.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
