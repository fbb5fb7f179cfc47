"""``engram.core.words.RandomWords``: values cut from random words follow the maps of
``jax.random.randint`` and ``jax.random.uniform``, written here in plain Python."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from engram.core.words import RandomWords


def _words(n, seed=0):
    return np.asarray(jax.random.bits(jax.random.key(seed), (n,), jnp.uint32))


@pytest.mark.parametrize("lo, hi", [(0, 1), (0, 9), (-2, 2), (3, 40), (0, 65535)])
def test_integers_are_the_64_bit_value_modulo_the_span(lo, hi):
    w = _words(2 * 64)
    got = np.asarray(jax.jit(lambda w: RandomWords(w).integers((64,), lo, hi))(w))
    high, low = w[:64], w[64:]
    want = [lo + (int(h) * 2**32 + int(lo_)) % (hi - lo) for h, lo_ in zip(high, low, strict=True)]
    assert got.tolist() == want


def test_floats_use_the_top_23_bits_as_a_mantissa():
    w = _words(100)
    got = np.asarray(RandomWords(jnp.asarray(w)).floats((100,), 0.0, 1.0))
    want = [(int(x) >> 9) / 2**23 for x in w]
    assert np.array_equal(got, np.asarray(want, np.float32))
    assert got.min() >= 0.0 and got.max() < 1.0


def test_low_bits_and_the_word_count_is_kept():
    w = _words(3)
    words = RandomWords(jnp.asarray(w))
    assert np.asarray(words.low_bits((2,), 2)).tolist() == [int(x) & 3 for x in w[:2]]
    with pytest.raises(ValueError, match="1 of 3 random words used|2 of 3"):
        words.check_used()
    with pytest.raises(ValueError, match="2 more random words asked, 3 drawn"):
        words.take(2)
