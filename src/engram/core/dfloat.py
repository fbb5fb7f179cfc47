"""Double-float arithmetic: float64 results computed with pairs of float32 inside ``jit``.

The original Memory Gym computes in Python floats (float64): it adds its reward terms and
sums the episode's rewards (``sum(episode_rewards)``) in float64, and moves its spotlights
along float64 paths. A float32 computation drifts from it: ``0.5 + 0.85`` gives 1.3499999
where the original's float32 is 1.35, and a long episode's return drifts by up to 6e-5.
JAX computes in float32 unless ``jax_enable_x64`` is set for the whole process, so engram
carries such values as *double-floats*: float32 arrays of shape ``(..., 2)`` holding an
unevaluated sum ``hi + lo`` with ``|lo| <= ulp(hi) / 2``, about 48 significant bits
(Dekker 1971; Knuth's TwoSum). ``hi`` (:func:`value`) is then the float32 nearest to the
exact value, i.e. the float32 of the original's float64 result wherever that result is not
within 2^-48 of a float32 rounding boundary.

XLA does not reassociate floating-point arithmetic (no fast-math by default on CPU and GPU),
so the error-free transformations below survive compilation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _two_sum(a, b):
    """``s + e == a + b`` exactly with ``s = fl(a + b)`` (Knuth's TwoSum, no branch)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _quick_two_sum(a, b):
    """TwoSum for ``|a| >= |b|`` (Dekker's Fast2Sum)."""
    s = a + b
    return s, b - (s - a)


def _split(a):
    """``a == hi + lo`` with both halves of at most 12 significant bits (Veltkamp)."""
    c = jnp.float32(4097.0) * a  # 2^12 + 1 splits a 24-bit mantissa in two halves
    hi = c - (c - a)
    return hi, a - hi


def of(x) -> jax.Array:
    """Host side: float64 values (Python floats or arrays) as double-floats,
    float32 ``(*shape, 2)``."""
    x = np.asarray(x, np.float64)
    hi = x.astype(np.float32)
    lo = (x - hi.astype(np.float64)).astype(np.float32)
    return jnp.asarray(np.stack([hi, lo], axis=-1))


def split_float64(x) -> np.ndarray:
    """Host side: like :func:`of` but returns a NumPy array (for building fixed tables)."""
    return np.asarray(of(x))


def from_float32(x) -> jax.Array:
    """A float32 array as double-floats (low part 0)."""
    x = jnp.asarray(x, jnp.float32)
    return jnp.stack([x, jnp.zeros_like(x)], axis=-1)


def zeros(shape: tuple[int, ...] = ()) -> jax.Array:
    """Exact zeros, float32 ``(*shape, 2)``."""
    return jnp.zeros((*shape, 2), jnp.float32)


def add(x, y) -> jax.Array:
    """``x + y``."""
    s, e = _two_sum(x[..., 0], y[..., 0])
    e = e + (x[..., 1] + y[..., 1])
    return jnp.stack(_quick_two_sum(s, e), axis=-1)


def mul(x, y) -> jax.Array:
    """``x * y``."""
    a, b = x[..., 0], y[..., 0]
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    e = e + (a * y[..., 1] + x[..., 1] * b)
    return jnp.stack(_quick_two_sum(p, e), axis=-1)


def neg(x) -> jax.Array:
    """``-x``."""
    return -x


def select(cond, x, y) -> jax.Array:
    """``jnp.where(cond, x, y)`` for double-floats (``cond`` has the value shape)."""
    return jnp.where(jnp.asarray(cond)[..., None], x, y)


def value(x) -> jax.Array:
    """float32: the double-float rounded to the nearest float32."""
    return x[..., 0]


def trunc(x) -> jax.Array:
    """int32 ``int(value)`` (toward zero) of a double-float, as Python truncates a float64."""
    hi, lo = x[..., 0], x[..., 1]
    fl = jnp.floor(hi) - ((jnp.floor(hi) == hi) & (lo < 0))
    ce = jnp.ceil(hi) + ((jnp.ceil(hi) == hi) & (lo > 0))
    negative = (hi < 0) | ((hi == 0) & (lo < 0))
    return jnp.where(negative, ce, fl).astype(jnp.int32)
