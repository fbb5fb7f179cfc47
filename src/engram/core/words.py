"""Uniform random values cut from one array of ``jax.random.bits``.

On XLA's CPU backend every ``jax.random`` call has a fixed cost under ``vmap`` (a
threefry evaluation and its key split; ``randint`` alone makes three), and an environment's
reset runs at every step of a batched rollout with same-step autoreset. Drawing all of a
reset's words in one call and cutting them into values costs a fraction of that.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


class RandomWords:
    """Uniform random values cut from one uint32 array of ``jax.random.bits``, in order.

    One threefry call for all of an episode's values: on CPU every ``jax.random`` call
    has a fixed cost (``randint`` alone makes three), which dominated the reset.
    :meth:`integers` and :meth:`floats` apply the maps of ``jax.random.randint`` and
    ``jax.random.uniform`` (jax/_src/random/core.py) to the words, so each value has
    exactly the distribution those calls give; :meth:`low_bits` (power-of-two ranges)
    is exactly uniform with fewer words, since the words themselves are the cost where
    thousands are drawn. A user draws ``jax.random.bits(key, (n,), jnp.uint32)`` with
    ``n`` the words its values take (two per integer, one per float or low-bits value)
    and may call :meth:`check_used` to keep the count honest.

    Raises:
        ValueError: (:meth:`take`) more words asked than drawn.
    """

    def __init__(self, words: jax.Array):
        self._words = words  # uint32 (n,)
        self._used = 0

    def take(self, n: int) -> jax.Array:
        """The next ``n`` words, uint32 (n,)."""
        if self._used + n > self._words.shape[0]:
            raise ValueError(f"{n} more random words asked, {self._words.shape[0]} drawn")
        self._used += n
        return self._words[self._used - n : self._used]

    def check_used(self) -> None:
        """Raise unless every word was used (the word count matches the draws)."""
        if self._used != self._words.shape[0]:
            raise ValueError(f"{self._used} of {self._words.shape[0]} random words used")

    def integers(self, shape: tuple, lo, hi) -> jax.Array:
        """int32 uniform in ``[lo, hi)`` (int scalars, static or traced; span below
        65536; ``lo`` when ``hi <= lo``), two words each: as ``jax.random.randint``,
        the 64-bit value ``high * 2**32 + low`` modulo the span."""
        n = math.prod(shape)
        high, low = self.take(n), self.take(n)
        lo = jnp.asarray(lo, jnp.int32)
        hi = jnp.asarray(hi, jnp.int32)
        span = jnp.where(hi <= lo, 1, hi - lo).astype(jnp.uint32)
        # 2**32 mod span, formed without overflow as (2**16 mod span)² mod span.
        wrap = (jnp.uint32(2**16) % span) ** 2 % span
        offset = ((high % span) * wrap + low % span) % span
        return (lo + offset.astype(jnp.int32)).reshape(shape)

    def floats(self, shape: tuple, lo, hi) -> jax.Array:
        """float32 uniform in ``[lo, hi)``, one word each: as ``jax.random.uniform``,
        the top 23 bits as the mantissa of a float in [1, 2), shifted and scaled."""
        bits = self.take(math.prod(shape)) >> 9 | jnp.uint32(0x3F800000)
        unit = jax.lax.bitcast_convert_type(bits, jnp.float32) - 1.0
        lo = jnp.asarray(lo, jnp.float32)
        hi = jnp.asarray(hi, jnp.float32)
        return jnp.maximum(lo, unit * (hi - lo) + lo).reshape(shape)

    def low_bits(self, shape: tuple, k: int) -> jax.Array:
        """int32 uniform in ``[0, 2**k)``, exactly: the low ``k`` bits, one word each."""
        return (self.take(math.prod(shape)) & (2**k - 1)).astype(jnp.int32).reshape(shape)
