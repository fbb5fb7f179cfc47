"""Spaces of the functional environments.

They mirror Gymnasium's spaces closely enough to be converted one to one
(:meth:`Space.to_gymnasium`), but they live on the JAX side: ``sample`` takes a
typed key and returns JAX arrays, and ``contains`` works on host values so that bad
actions are rejected before anything is traced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np


class Space:
    """Base class. Subclasses define ``sample``, ``contains`` and ``to_gymnasium``."""

    def sample(self, key: jax.Array):  # pragma: no cover - abstract
        raise NotImplementedError

    def contains(self, x) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_gymnasium(self) -> gymnasium.spaces.Space:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Discrete(Space):
    """Integers ``0 .. n-1``; a sample is an ``int32`` scalar."""

    n: int

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.randint(key, (), 0, self.n, dtype=jnp.int32)

    def contains(self, x) -> bool:
        a = np.asarray(x)
        return a.shape == () and np.issubdtype(a.dtype, np.integer) and 0 <= int(a) < self.n

    def to_gymnasium(self) -> gymnasium.spaces.Discrete:
        return gymnasium.spaces.Discrete(self.n)


@dataclass(frozen=True)
class MultiDiscrete(Space):
    """A vector of integers, entry ``i`` in ``0 .. nvec[i]-1``; samples are ``int32``."""

    nvec: tuple[int, ...]

    def sample(self, key: jax.Array) -> jax.Array:
        nvec = jnp.asarray(self.nvec, dtype=jnp.int32)
        return jax.random.randint(key, nvec.shape, 0, nvec, dtype=jnp.int32)

    def contains(self, x) -> bool:
        a = np.asarray(x)
        return (
            a.shape == (len(self.nvec),)
            and np.issubdtype(a.dtype, np.integer)
            and bool(np.all((a >= 0) & (a < np.asarray(self.nvec))))
        )

    def to_gymnasium(self) -> gymnasium.spaces.MultiDiscrete:
        return gymnasium.spaces.MultiDiscrete(list(self.nvec))


@dataclass(frozen=True)
class Box(Space):
    """A box ``[low, high]`` of a given shape and dtype (``uint8`` images, ``float32`` vectors)."""

    low: float
    high: float
    shape: tuple[int, ...]
    dtype: type = np.uint8

    def sample(self, key: jax.Array) -> jax.Array:
        if np.issubdtype(self.dtype, np.integer):
            return jax.random.randint(
                key, self.shape, int(self.low), int(self.high) + 1, dtype=jnp.int32
            ).astype(self.dtype)
        return jax.random.uniform(key, self.shape, jnp.float32, self.low, self.high)

    def contains(self, x) -> bool:
        a = np.asarray(x)
        return (
            a.shape == tuple(self.shape)
            and bool(np.all(a >= self.low))
            and bool(np.all(a <= self.high))
        )

    def to_gymnasium(self) -> gymnasium.spaces.Box:
        return gymnasium.spaces.Box(self.low, self.high, self.shape, self.dtype)


@dataclass(frozen=True)
class Dict(Space):
    """A dict of named sub-spaces (the Mortar Mayhem B variants' observation)."""

    spaces: dict = field(default_factory=dict)

    def sample(self, key: jax.Array) -> dict:
        keys = jax.random.split(key, len(self.spaces))
        return {k: s.sample(kk) for (k, s), kk in zip(self.spaces.items(), keys, strict=True)}

    def contains(self, x) -> bool:
        return (
            isinstance(x, dict)
            and x.keys() == self.spaces.keys()
            and all(s.contains(x[k]) for k, s in self.spaces.items())
        )

    def to_gymnasium(self) -> gymnasium.spaces.Dict:
        return gymnasium.spaces.Dict({k: s.to_gymnasium() for k, s in self.spaces.items()})
