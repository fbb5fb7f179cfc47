"""Raster primitives: JAX compositing agrees with the NumPy rasterisers, geometry facts of
pygame's circles and lines hold, and the sprites match the recorded frames of the original."""

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
    command_symbols,
    draw_circle,
    draw_line,
    filled_circle_mask,
    rotate,
)

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
