"""Memory models behind one protocol (``../DESIGN.md``, "The memory-model protocol").

Every memory model offers:

* ``initial_carry(batch_size)`` -> the empty memory;
* ``step(carry, x, reset) -> (carry, y)``: one time step for ``x`` of shape ``(B, F)`` and a
  bool ``reset`` of shape ``(B,)`` that clears the memory *before* ``x`` is read;
* ``sequence(carry, xs, resets) -> (carry, ys)``: ``T`` steps at once, ``xs`` ``(T, B, F)``,
  ``resets`` ``(T, B)``; the same result as ``T`` calls of ``step``.

PPO only ever calls these three, so recurrent and attention models share one code path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp

from engram.models.memo import (
    FullContextTransformerMemory,
    MemoMemory,
    fct_initial_carry,
    memo_initial_carry,
)
from engram.models.transformer_xl import TransformerXLMemory, transformer_xl_initial_carry


class GRUMemory(nn.Module):
    """One GRU layer (Cho et al. 2014), the paper's recurrent baseline: hidden 512, zero
    initial state, reset at every episode start. Carry: float32 ``(B, hidden)``.

    ``r = sigmoid(W_ir x + W_hr h + b_r)``, ``z = sigmoid(W_iz x + W_hz h + b_z)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    The input projection of a whole sequence is one matrix product before the time loop;
    only the small recurrent product runs step by step. (Projecting inside the loop made
    learning over 128-step sequences of 3136 CNN features several times slower on a CPU,
    because the large input matrix was re-read at every step.)
    """

    hidden: int = 512

    def setup(self):
        h = self.hidden
        self.input_proj = nn.Dense(3 * h, name="input")
        self.recurrent_kernel = self.param(
            "recurrent_kernel", nn.initializers.orthogonal(), (h, 3 * h)
        )
        self.recurrent_bias = self.param("recurrent_bias", nn.initializers.zeros, (3 * h,))

    def initial_carry(self, batch_size: int):
        return jnp.zeros((batch_size, self.hidden), jnp.float32)

    def sequence(self, carry, xs, resets):
        projected = self.input_proj(xs)  # (T, B, 3H) in one product
        w, b = self.recurrent_kernel, self.recurrent_bias

        def one(h, inp):
            xp, reset = inp
            h = jnp.where(reset[:, None], 0.0, h)
            hp = h @ w + b
            xr, xz, xn = jnp.split(xp, 3, axis=-1)
            hr, hz, hn = jnp.split(hp, 3, axis=-1)
            r = nn.sigmoid(xr + hr)
            z = nn.sigmoid(xz + hz)
            n = jnp.tanh(xn + r * hn)
            h = (1.0 - z) * n + z * h
            return h, h

        return jax.lax.scan(one, carry, (projected, resets))

    def step(self, carry, x, reset):
        carry, ys = self.sequence(carry, x[None], reset[None])
        return carry, ys[0]

    def __call__(self, carry, xs, resets):
        return self.sequence(carry, xs, resets)


class LSTMMemory(nn.Module):
    """One LSTM layer (Hochreiter & Schmidhuber 1997), an alternative recurrent memory.
    Carry: a pair ``(h, c)`` of float32 ``(B, hidden)``, zero at every episode start.

    ``i, f, g, o = W_x x + W_h h + b``; ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)``;
    ``h' = sigmoid(o) * tanh(c')``. The forget-gate bias starts at 1 (Jozefowicz et al.
    2015). As in :class:`GRUMemory`, the input projection of a sequence is one product
    before the time loop.
    """

    hidden: int = 512

    def setup(self):
        h = self.hidden
        self.input_proj = nn.Dense(4 * h, name="input")
        self.recurrent_kernel = self.param(
            "recurrent_kernel", nn.initializers.orthogonal(), (h, 4 * h)
        )
        forget_one = lambda key, shape: jnp.zeros(shape).at[h : 2 * h].set(1.0)  # noqa: E731
        self.recurrent_bias = self.param("recurrent_bias", forget_one, (4 * h,))

    def initial_carry(self, batch_size: int):
        zeros = jnp.zeros((batch_size, self.hidden), jnp.float32)
        return (zeros, zeros)

    def sequence(self, carry, xs, resets):
        projected = self.input_proj(xs)  # (T, B, 4H) in one product
        w, b = self.recurrent_kernel, self.recurrent_bias

        def one(hc, inp):
            xp, reset = inp
            h, c = (jnp.where(reset[:, None], 0.0, a) for a in hc)
            i, f, g, o = jnp.split(xp + h @ w + b, 4, axis=-1)
            c = nn.sigmoid(f) * c + nn.sigmoid(i) * jnp.tanh(g)
            h = nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        return jax.lax.scan(one, carry, (projected, resets))

    def step(self, carry, x, reset):
        carry, ys = self.sequence(carry, x[None], reset[None])
        return carry, ys[0]

    def __call__(self, carry, xs, resets):
        return self.sequence(carry, xs, resets)


class NoMemory(nn.Module):
    """The memory-less baseline: passes its input through. Carry: float32 ``(B, 1)``,
    unused."""

    def initial_carry(self, batch_size: int):
        return jnp.zeros((batch_size, 1), jnp.float32)

    def sequence(self, carry, xs, resets):
        del resets
        return carry, xs

    def step(self, carry, x, reset):
        del reset
        return carry, x

    def __call__(self, carry, xs, resets):
        return self.sequence(carry, xs, resets)


MEMORY_MODELS = {
    "gru": GRUMemory,
    "lstm": LSTMMemory,
    "none": NoMemory,
    "trxl": TransformerXLMemory,
    "fct": FullContextTransformerMemory,
    "memo": MemoMemory,
    "rmt": MemoMemory,
}

#: The memories built on the LLaMA-style decoder of the Memo paper (engram.models.memo).
DECODER_MEMORIES = ("fct", "memo", "rmt")


@dataclass(frozen=True)
class TransformerXLSettings:
    """Architecture of the ``trxl`` memory (hashable, so it can be a module attribute).
    Fields as :class:`engram.models.transformer_xl.TransformerXLMemory`'s."""

    num_layers: int = 3
    dim: int = 384
    num_heads: int = 4
    memory_length: int = 256
    positional_encoding: bool = True
    query_positional_encoding: bool = False
    gated: bool = False


@dataclass(frozen=True)
class DecoderMemorySettings:
    """Architecture of the ``fct``, ``memo`` and ``rmt`` memories (hashable, so it can be a
    module attribute). Defaults: the Memo paper's ExtObjNav network (``reference/memo.md``
    section 2): 4 layers, width 256, 8 heads, MLP 1024, segments of 256 steps, 32 summary
    tokens. Fields as :class:`engram.models.memo.MemoMemory`'s; ``max_context`` is the
    memory episode (trial) length the caches cover before they drop their oldest entries."""

    num_layers: int = 4
    width: int = 256
    num_heads: int = 8
    mlp_hidden: int = 1024
    max_context: int = 4096
    segment_length: int = 256
    summary_length: int = 32
    segment_jitter: float = 0.0

    def decoder_fields(self) -> dict:
        return dict(
            num_layers=self.num_layers,
            width=self.width,
            num_heads=self.num_heads,
            mlp_hidden=self.mlp_hidden,
            max_context=self.max_context,
        )

    def memo_fields(self) -> dict:
        return dict(
            self.decoder_fields(),
            segment_length=self.segment_length,
            summary_length=self.summary_length,
            segment_jitter=self.segment_jitter,
        )


def make_memory(
    name: str,
    hidden: int,
    trxl: TransformerXLSettings | None = None,
    decoder: DecoderMemorySettings | None = None,
) -> nn.Module:
    """Build a memory model by name; ``hidden`` sizes the recurrent ones, ``trxl`` (default
    :class:`TransformerXLSettings`) the Transformer-XL, ``decoder`` (default
    :class:`DecoderMemorySettings`) the full-context transformer, Memo and RMT.

    Raises:
        ValueError: for an unknown ``name`` (lists the known ones).
    """
    if name not in MEMORY_MODELS:
        raise ValueError(f"agent: unknown memory model {name!r}; known: {sorted(MEMORY_MODELS)}")
    if name == "none":
        return NoMemory()
    if name == "trxl":
        return TransformerXLMemory(**dataclasses.asdict(trxl or TransformerXLSettings()))
    d = decoder or DecoderMemorySettings()
    if name == "fct":
        return FullContextTransformerMemory(**d.decoder_fields())
    if name in ("memo", "rmt"):
        return MemoMemory(**d.memo_fields(), accumulate=name == "memo")
    return MEMORY_MODELS[name](hidden)


def initial_carry(
    name: str,
    hidden: int,
    batch_size: int,
    trxl: TransformerXLSettings | None = None,
    decoder: DecoderMemorySettings | None = None,
):
    """The empty memory of model ``name`` without building the module (no parameters
    needed), equal to ``make_memory(name, hidden, trxl, decoder).initial_carry(batch_size)``
    (checked by a test). Building a module here is not possible: ActorCritic calls this from
    inside its own methods, where flax forbids creating unbound submodules."""
    d = decoder or DecoderMemorySettings()
    if name == "fct":
        return fct_initial_carry(batch_size, d.num_layers, d.width, d.max_context)
    if name in ("memo", "rmt"):
        return memo_initial_carry(
            batch_size,
            d.num_layers,
            d.width,
            d.segment_length,
            d.summary_length,
            d.max_context,
            accumulate=name == "memo",
            segment_jitter=d.segment_jitter,
        )
    if name == "gru":
        return jnp.zeros((batch_size, hidden), jnp.float32)
    if name == "lstm":
        zeros = jnp.zeros((batch_size, hidden), jnp.float32)
        return (zeros, zeros)
    if name == "trxl":
        t = trxl or TransformerXLSettings()
        return transformer_xl_initial_carry(batch_size, t.num_layers, t.dim, t.memory_length)
    return jnp.zeros((batch_size, 1), jnp.float32)
