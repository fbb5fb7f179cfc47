"""Raster primitives: JAX compositing agrees with the NumPy rasterisers, geometry facts of
pygame's circles and lines hold, and circles, rectangles, the agent sprites and Searing
Spotlights' coin and exit are pixel-identical to pygame 2.4.0's own drawings
(``tests/fixtures/pygame24_raster.npz``, from ``scripts/make_raster_fixtures.py``)."""

import functools
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram.render import (
    agent_sprites,
    blit,
    circle_table,
    coin_masks,
    command_symbols,
    draw_circle,
    draw_line,
    draw_rect,
    exit_masks,
    filled_circle_mask,
    rotate,
)
from engram.render.blend import (
    circle_outlines,
    disc_spans,
    disc_table,
    rounded_top_rect,
    spans_mask,
)
from engram.render.spotlights import MaskedBands

TABLE = jnp.asarray(circle_table(40))
_circle_jit = jax.jit(filled_circle_mask, static_argnums=0)


@settings(max_examples=60, deadline=None)
@given(st.integers(-10, 110), st.integers(-10, 110), st.integers(0, 40))
def test_jax_circle_equals_raster(cx, cy, r):
    expected = draw_circle(np.zeros((100, 100), bool), (cx, cy), r)
    got = np.asarray(_circle_jit((100, 100), cx, cy, r, TABLE))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("r", [1, 2, 6, 13, 30])
def test_filled_circle_is_2r_wide_and_symmetric(r):
    m = draw_circle(np.zeros((80, 80), bool), (40, 40), r)
    ys, xs = np.nonzero(m)
    # pygame's filled circle covers x0 - r .. x0 + r - 1 (2r px), likewise in y.
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (40 - r, 39 + r, 40 - r, 39 + r)
    box = m[40 - r : 40 + r, 40 - r : 40 + r]
    np.testing.assert_array_equal(box, box.T)
    np.testing.assert_array_equal(box, box[::-1, ::-1])


def test_float_centre_is_truncated():
    a = draw_circle(np.zeros((30, 30), bool), (10.9, 12.99), 5)
    b = draw_circle(np.zeros((30, 30), bool), (10, 12), 5)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("r,w", [(10, 2), (13, 3), (20, 5)])
def test_ring_lies_in_disc_and_keeps_its_rim(r, w):
    disc = draw_circle(np.zeros((60, 60), bool), (30, 30), r)
    ring = draw_circle(np.zeros((60, 60), bool), (30, 30), r, w)
    assert not (ring & ~disc).any()
    # every row of the disc starts and ends on the ring (the outer rim is the disc's edge)
    for y in np.nonzero(disc.any(1))[0]:
        xs = np.nonzero(disc[y])[0]
        assert ring[y, xs[0]] and ring[y, xs[-1]]
    assert not ring[30, 30]  # the middle is open


def test_thick_line_grows_right_of_a_vertical_line():
    m = draw_line(np.zeros((10, 10), bool), (3, 1), (3, 8), 2)
    assert set(np.nonzero(m.any(0))[0]) == {3, 4} and m[1:9, 3:5].all() and m.sum() == 16


def test_line_outside_surface_is_refused():
    with pytest.raises(ValueError, match="outside"):
        draw_line(np.zeros((10, 10), bool), (-1, 0), (5, 5), 2)


def test_rotate_quarter_turns_and_diagonal_size():
    img = np.arange(22 * 22).reshape(22, 22)
    np.testing.assert_array_equal(rotate(img, 90), np.rot90(img))
    # pygame's rotated bounding box: int(22 * (cos 45 + sin 45)) = 31
    assert rotate(img.astype(bool), 45).shape == (31, 31)


@settings(max_examples=40, deadline=None)
@given(st.integers(-30, 60), st.integers(-30, 60))
def test_blit_clips_like_numpy(x, y):
    rng = np.random.default_rng((x + 30) * 100 + y + 30)
    canvas = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
    rgb = rng.integers(0, 255, (9, 7, 3), dtype=np.uint8)
    mask = rng.random((9, 7)) < 0.6
    expected = canvas.copy()
    for j in range(9):
        for i in range(7):
            if mask[j, i] and 0 <= y + j < 40 and 0 <= x + i < 50:
                expected[y + j, x + i] = rgb[j, i]
    got = jax.jit(blit)(jnp.asarray(canvas), jnp.asarray(rgb), jnp.asarray(mask), x, y)
    np.testing.assert_array_equal(np.asarray(got), expected)


def test_sprite_shapes_and_colours():
    rgb, mask = agent_sprites(0.25)
    assert rgb.shape == (8, 28, 28, 3) and mask.shape == (8, 28, 28)
    body = {tuple(c) for c in rgb[0][mask[0]]}
    assert body == {(250, 204, 153), (50, 50, 50)}
    # sprites for opposite rotations are point reflections of each other: hands turn about
    # (14, 14), and pygame's 2r-wide circles are centred on that pixel corner
    np.testing.assert_array_equal(mask[0], mask[4][::-1, ::-1])
    srgb, smask = command_symbols(0.25)
    assert srgb.shape == (10, 31, 31, 3) and not smask[9].any()
    # right and left arrows are 180-degree turns of each other inside their 22-px square
    np.testing.assert_array_equal(smask[2][:22, :22], smask[0][:22, :22][::-1, ::-1])


# ---------------------------------------------------------------------------------------
# Pixel-exact against pygame 2.4.0's own drawings (scripts/make_raster_fixtures.py). Set
# ENGRAM_RASTER_FIXTURE to a fixture made with --full to check every scale 0.05..2.00.

FIXTURE = Path(
    os.environ.get(
        "ENGRAM_RASTER_FIXTURE", Path(__file__).parents[1] / "fixtures" / "pygame24_raster.npz"
    )
)


@functools.cache
def _fixture() -> dict[str, list[tuple]]:
    """``{group: [(params dict, mask bool (h, w), rgb uint8 (h, w, 3) or None), ...]}``
    (layout: the docstring of scripts/make_raster_fixtures.py)."""
    data = np.load(FIXTURE)
    assert str(data["pygame_version"]) == "2.4.0"
    out = {}
    for g in ("circle", "rect", "agent", "coin", "exit"):
        columns = [str(c) for c in data[f"{g}_columns"]]
        shapes = data[f"{g}_shapes"]
        sizes = shapes.prod(axis=1)
        flat = np.unpackbits(data[f"{g}_mask"], count=int(sizes.sum())).astype(bool)
        colours = data[f"{g}_rgb"] if f"{g}_rgb" in data else None
        items, at, rgb_at = [], 0, 0
        for params, (h, w) in zip(data[f"{g}_params"], shapes, strict=True):
            mask = flat[at : at + h * w].reshape(h, w)
            at += h * w
            rgb = None
            if colours is not None:
                rgb = np.zeros((h, w, 3), np.uint8)
                rgb[mask] = colours[rgb_at : rgb_at + mask.sum()]
                rgb_at += mask.sum()
            items.append((dict(zip(columns, params.tolist(), strict=True)), mask, rgb))
        out[g] = items
    return out


def _mismatch(name: str, got: np.ndarray, want: np.ndarray) -> str | None:
    """A description of the first difference between two masks/images, None if equal."""
    if got.shape != want.shape:
        return f"{name}: shape {got.shape}, pygame {want.shape}"
    if not np.array_equal(got, want):
        diff = np.argwhere(got != want)
        return f"{name}: {len(diff)} pixels differ, first at (y, x, ...) {tuple(diff[0])}"
    return None


def _check_all(failures: list) -> None:
    assert not failures, f"{len(failures)} differ from pygame 2.4.0:\n" + "\n".join(failures[:20])


def test_pygame24_circles():
    failures = []
    for p, want, _ in _fixture()["circle"]:
        size = int(p["size"])
        got = draw_circle(
            np.zeros((size, size), bool), (p["cx"], p["cy"]), int(p["radius"]), int(p["width"])
        )
        failures.append(_mismatch(f"circle {p}", got, want))
    _check_all([f for f in failures if f])
    # the fixture holds every width 0..6 for radii 0..40, thin circles (width 1) included
    widths = {int(p["width"]) for p, _, _ in _fixture()["circle"]}
    assert widths == set(range(7))


def test_pygame24_rects():
    failures = []
    for p, want, _ in _fixture()["rect"]:
        got = draw_rect(
            np.zeros(want.shape, bool),
            (p["x"], p["y"], p["w"], p["h"]),
            int(p["width"]),
            int(p["radius"]),
            *(int(p[k]) for k in ("tl", "tr", "bl", "br")),
        )
        failures.append(_mismatch(f"rect {p}", got, want))
    _check_all([f for f in failures if f])


def test_pygame24_agent_sprites():
    by_scale = {}
    for p, mask, rgb in _fixture()["agent"]:
        by_scale.setdefault(p["scale"], []).append((int(p["index"]), mask, rgb))
    failures = []
    for scale, items in by_scale.items():
        rgb, mask = agent_sprites(scale)
        for i, want_mask, want_rgb in items:
            failures.append(_mismatch(f"agent {scale} #{i} mask", mask[i], want_mask))
            if failures[-1] is None:
                failures.append(
                    _mismatch(f"agent {scale} #{i} rgb", rgb[i] * mask[i, ..., None], want_rgb)
                )
    _check_all([f for f in failures if f])


def test_pygame24_coins():
    yellow, orange = np.array([255, 255, 0], np.uint8), np.array([255, 165, 0], np.uint8)
    failures = []
    for p, want_mask, want_rgb in _fixture()["coin"]:
        fill, outline = coin_masks(p["scale"])
        rgb = np.zeros(fill.shape + (3,), np.uint8)
        rgb[fill] = yellow
        rgb[outline] = orange
        failures.append(_mismatch(f"coin {p} mask", fill | outline, want_mask))
        failures.append(_mismatch(f"coin {p} rgb", rgb, want_rgb))
    _check_all([f for f in failures if f])


def test_pygame24_exits():
    colours = {0.0: (55, 55, 55), 1.0: (48, 141, 70)}  # Exit.color_closed, .color_open
    failures = []
    for p, want_mask, want_rgb in _fixture()["exit"]:
        shape, border = exit_masks(p["scale"])
        rgb = np.zeros(shape.shape + (3,), np.uint8)
        rgb[shape] = colours[p["open"]]
        rgb[border] = 0
        failures.append(_mismatch(f"exit {p} mask", shape | border, want_mask))
        failures.append(_mismatch(f"exit {p} rgb", rgb, want_rgb))
    _check_all([f for f in failures if f])
    scales = {p["scale"] for p, _, _ in _fixture()["exit"]}
    assert {round(0.3 + 0.01 * k, 2) for k in range(71)} <= scales


def test_rounded_top_rect_is_the_exit_shape():
    for scale in (0.3, 0.5, 0.63, 1.0):
        shape, _ = exit_masks(scale)
        n, k = int(20 * scale), int(10 * scale)
        np.testing.assert_array_equal(rounded_top_rect(n, k), shape)


def test_spotlight_outlines_are_pygames_thin_circles():
    # Spotlight(has_border=True) draws pygame.draw.circle(..., radius, 1): the thin circle,
    # which the fixture pins; circle_outlines builds the same pixels from the disc.
    outlines = circle_outlines(40)
    for r in range(1, 41):
        thin = draw_circle(np.zeros((82, 82), bool), (41, 41), r, 1)
        np.testing.assert_array_equal(outlines[r], thin, err_msg=f"radius {r}")


@pytest.mark.parametrize("columns", [84, 252, 256, 300])
def test_spans_mask_is_the_union_of_the_spans_clipped_to_the_row(columns):
    """Against a loop over the columns: spans reaching past either end of the row, empty
    and negative widths, at the widths that use 8-bit (<= 256) and 32-bit comparisons."""
    rng = np.random.default_rng(columns)
    lo = rng.integers(-2 * columns, 2 * columns, (13, 20)).astype(np.int32)
    width = rng.integers(-5, 2 * columns, (13, 20)).astype(np.int32)
    width[:, :3] = 0
    lo[:, 3:6] = rng.integers(0, columns, (13, 3))  # on the row, with negative widths
    width[:, 3:6] = rng.integers(-10, 0, (13, 3))
    got = np.asarray(jax.jit(spans_mask, static_argnums=2)(lo, width, columns))
    x = np.arange(columns)
    want = np.zeros((20, columns), bool)
    for i in range(13):
        want |= (x[None, :] >= lo[i][:, None]) & (x[None, :] < (lo[i] + width[i])[:, None])
    np.testing.assert_array_equal(got, want)


def test_disc_spans_are_pygames_filled_circles_on_and_off_the_screen():
    """The row spans of several circles at once against filled_circle_mask, one circle at
    a time: centres inside, across the edges and far outside the screen, every radius."""
    rng = np.random.default_rng(3)
    max_r = 20
    table = disc_table(max_r)
    n = 64
    cx = rng.integers(-40, 124, n).astype(np.int32)
    cy = rng.integers(-40, 124, n).astype(np.int32)
    cy[:4] = [-500, 500, -21, 104]
    radius = rng.integers(0, max_r + 1, n).astype(np.int32)
    lo, width = jax.jit(disc_spans)(cx, cy, radius, table)
    got = np.asarray(jax.vmap(lambda a, b: spans_mask(a[None], b[None]))(lo, width))
    want = np.stack(
        [np.asarray(filled_circle_mask((84, 84), cx[i], cy[i], radius[i], table)) for i in range(n)]
    )
    np.testing.assert_array_equal(got, want)


def test_sprite_row_spans_are_its_opaque_pixels_on_and_off_the_screen():
    """MaskedBands.row_spans (the pixels Searing Spotlights' darkness leaves to a sprite
    drawn above it) against the sprite's mask placed on an 84x84 screen by NumPy, for the
    coin and the exit at several scales, inside and across every edge; the agent, whose
    rows have two runs, is refused."""
    rng = np.random.default_rng(5)
    for scale in (0.25, 0.5, 1.0, 1.15, 1.5):
        fill, outline = coin_masks(scale)
        shape, border = exit_masks(scale)
        for mask in ((fill | outline)[None], np.stack([shape | border, shape])):
            d = mask.shape[1]
            bands = MaskedBands.of(np.zeros((*mask.shape, 3), np.uint8), mask)
            spans = jax.jit(bands.row_spans)
            for _ in range(12):
                i = int(rng.integers(0, len(mask)))
                x, y = (int(v) for v in rng.integers(-d - 3, 84 + 3, 2))
                lo, width = spans(i, x, y)
                got = np.asarray(spans_mask(lo[None], width[None]))
                want = np.zeros((84 + 4 * d, 84 + 4 * d), bool)  # the screen at (2d, 2d)
                cx, cy = np.clip(x, -d, 84) + 2 * d, np.clip(y, -d, 84) + 2 * d
                want[cy : cy + d, cx : cx + d] = mask[i]
                np.testing.assert_array_equal(got, want[2 * d : 2 * d + 84, 2 * d : 2 * d + 84])
    rgb, mask = agent_sprites(1.0)
    agent = MaskedBands.of(rgb, mask)
    assert agent.runs is None
    with pytest.raises(ValueError, match="more than one run"):
        agent.row_spans(0, 10, 10)


def test_settled_zeroes_only_the_first_byte_of_the_margin_so_the_screen_is_unchanged():
    # settled() is a write XLA fuses in place of a sprite's band: it must touch nothing
    # but byte 0, which lies in the blank margin that unpad drops.
    from engram.render.ops import SpriteBands, settled

    rng = np.random.default_rng(3)
    sprite = rng.integers(1, 256, (1, 4, 4, 3), dtype=np.uint8)
    bands = SpriteBands.of(sprite, np.ones((1, 4, 4), bool), width=6)
    screen = rng.integers(0, 256, 6 * 6 * 3, dtype=np.uint8)
    frame = jnp.asarray(bands.pad(screen[None])[0])
    frame = frame.at[0].set(7)  # whatever a sprite left in the margin
    drawn = bands.overlay(frame, 0, 1, -2)
    out = jax.jit(settled)(drawn)
    expected = np.asarray(drawn).copy()
    expected[0] = 0
    np.testing.assert_array_equal(np.asarray(out), expected)
    np.testing.assert_array_equal(np.asarray(bands.unpad(out)), np.asarray(bands.unpad(drawn)))
