"""The full-context transformer (FCT), the Memo paper's baseline memory (Gupta et al.,
NeurIPS 2025, arXiv 2510.19732), on the LLaMA-style decoder of :mod:`engram.models.decoder`
(defaults: 4 layers, 8 heads, width 256, MLP 1024). It follows the memory-model protocol
of :mod:`engram.models.memory`; the input is projected to the width by a dense layer with
bias and the output is the final-RMSNormed last-layer output, as in :mod:`engram.models.memo`.

Step ``t`` of a memory episode (``t = 0`` at the reset) attends, in every layer, to the
keys/values of all steps ``0 .. t`` of the episode, kept in a cache of ``max_context``
steps (set it to the trial length). Positions: RoPE over ``t``. This simplifies the
paper's FCT, which adds a learned embedding of the step index *within the current
environment episode* and applies RoPE over the *episode index within the trial*, plus a
trainable "sink" key (the Memo paper): the protocol sees only resets (trial
starts), not the episode boundaries inside a trial, so those positions are not available
here. Past ``max_context`` steps the cache is a ring: the oldest step is dropped (FIFO)
and positions are not re-indexed, which is the paper's streaming FCT (§6, a window of
6000 steps) with window ``max_context``. Carry (:class:`FCTCarry`): ``keys``, ``values``
float32 ``(B, L, max_context, W)``, ``positions`` int32 ``(B, max_context)`` (the step
index held by each slot, ``-1`` empty), ``step`` int32 ``(B,)``. ``sequence`` is one
parallel pass per chunk (keys: the cache then the chunk, under a mask of same episode,
causal, within ``max_context``), memory ``O(T * (max_context + T))`` per head and layer.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from engram.models.decoder import (
    DecoderMemorySettings,
    DecoderSpec,
    check_decoder_config,
    decoder_resolved,
    decoder_stack,
    init_decoder_params,
    validate_decoder_fields,
)
from engram.models.memory import MemoryModule, MemorySpec, register_memory


class FCTCarry(NamedTuple):
    """The memory of :class:`FullContextTransformerMemory` (``N = max_context``).

    Attributes:
        keys: float32 ``(B, L, N, W)``, every layer's rotated keys of the cached steps.
        values: float32 ``(B, L, N, W)``, their values.
        positions: int32 ``(B, N)``, the episode step index held by each slot, ``-1`` empty;
            step ``t`` lives in slot ``t % N``.
        step: int32 ``(B,)``, the episode step index of the next step.
    """

    keys: jax.Array
    values: jax.Array
    positions: jax.Array
    step: jax.Array


def check_fct_config(
    num_layers: int,
    width: int,
    num_heads: int,
    mlp_hidden: int,
    max_context: int,
    activation: str = "silu",
):
    """Raise ``ValueError`` naming the field for a full-context transformer that cannot be
    built (the decoder's checks and ``max_context >= 1``)."""
    check_decoder_config(num_layers, width, num_heads, mlp_hidden, activation)
    if max_context < 1:
        raise ValueError(f"fct: max_context must be >= 1, got {max_context}")


def fct_initial_carry(batch_size: int, num_layers: int, width: int, max_context: int) -> FCTCarry:
    """The empty memory without building the module, equal to
    ``FullContextTransformerMemory(...).initial_carry(batch_size)``."""
    shape = (batch_size, num_layers, max_context, width)
    # Two buffers, not one array twice: a carry may be donated to a jitted step.
    return FCTCarry(
        keys=jnp.zeros(shape, jnp.float32),
        values=jnp.zeros(shape, jnp.float32),
        positions=jnp.full((batch_size, max_context), -1, jnp.int32),
        step=jnp.zeros((batch_size,), jnp.int32),
    )


def fct_carry_bytes(num_layers: int, width: int, max_context: int) -> int:
    """Bytes of the FCT carry per environment: keys and values, ``2 * L * max_context * W``
    float32, plus ``max_context`` int32 positions and one int32 step counter."""
    return 4 * (2 * num_layers * max_context * width + max_context + 1)


class FullContextTransformerMemory(MemoryModule):
    """The Memo paper's full-context transformer baseline (FCT): every step attends to all
    earlier steps since the last reset through a key/value cache of ``max_context`` steps per
    layer (a FIFO window past that); details in the module docstring.

    Shapes: ``step`` maps ``x`` ``(B, F)`` and ``reset`` bool ``(B,)`` to ``y`` float32
    ``(B, width)``; ``sequence`` maps ``xs`` ``(T, B, F)``, ``resets`` ``(T, B)`` to ``ys``
    ``(T, B, width)``. Carry: :class:`FCTCarry`.

    Attributes:
        num_layers, width, num_heads, mlp_hidden, activation: the decoder
            (:class:`engram.models.decoder.DecoderSpec`; Memo paper: 4, 256, 8, 1024).
        max_context: cached steps per environment; set it to the trial length (Memo paper:
            4096 in training).

    Raises:
        ValueError: in ``setup``, naming the field (:func:`check_fct_config`).
    """

    num_layers: int = 4
    width: int = 256
    num_heads: int = 8
    mlp_hidden: int = 1024
    max_context: int = 4096
    activation: str = "silu"

    def setup(self):
        check_fct_config(
            self.num_layers,
            self.width,
            self.num_heads,
            self.mlp_hidden,
            self.max_context,
            self.activation,
        )
        self.spec = DecoderSpec(
            self.num_layers, self.width, self.num_heads, self.mlp_hidden, self.activation
        )
        self.embed = nn.Dense(self.width, name="embed")
        self.decoder = self.param("decoder", init_decoder_params, self.spec)

    def initial_carry(self, batch_size: int) -> FCTCarry:
        return fct_initial_carry(batch_size, self.num_layers, self.width, self.max_context)

    def sequence(self, carry: FCTCarry, xs, resets):
        n = self.max_context
        t_len = xs.shape[0]
        resets = jnp.asarray(resets, bool).T  # (B, T), batch-major from here on
        time = jnp.arange(t_len, dtype=jnp.int32)
        # Episode step index of each step; the latest reset at or before it restarts at 0.
        last_reset = jax.lax.cummax(jnp.where(resets, time, -1), axis=1)
        q_pos = jnp.where(last_reset >= 0, time - last_reset, carry.step[:, None] + time)
        # Episode number within the chunk: 0 is the one the carry belongs to.
        q_ep = jnp.cumsum(resets, axis=1, dtype=jnp.int32)
        k_pos = carry.positions[:, None, :]  # (B, 1, N)
        cache_mask = (q_ep[:, :, None] == 0) & (k_pos >= 0) & (q_pos[:, :, None] - k_pos < n)
        lag = time[:, None] - time[None, :]  # query time - key time
        self_mask = (q_ep[:, :, None] == q_ep[:, None, :]) & (lag >= 0) & (lag < n)

        h = self.embed(jnp.swapaxes(xs, 0, 1).astype(jnp.float32))  # (B, T, W)
        out, keys, values = decoder_stack(
            self.decoder,
            self.spec,
            h,
            q_pos,
            [(carry.keys, carry.values, cache_mask)],
            self_mask,
        )

        # New carry: the last min(N, episode length) steps of the episode still ongoing, step
        # t in slot t % N (distinct slots, so the scatter is deterministic).
        end = q_pos[:, -1] + 1
        final_ep = q_ep[:, -1:]
        keep = (final_ep == 0) & (carry.positions >= 0) & (carry.positions >= end[:, None] - n)
        write = (q_ep == final_ep) & (q_pos >= end[:, None] - n)
        slots = jnp.where(write, q_pos % n, n)  # n: out of range, dropped

        def scatter(cache, new, slot):  # (L, N, W) <- (L, T, W) at slots (T,)
            return cache.at[:, slot].set(new, mode="drop")

        # Slots that are not kept only get position -1: their stale keys and values are
        # masked out, so the (large) caches are not rewritten at every step.
        new_carry = FCTCarry(
            keys=jax.vmap(scatter)(carry.keys, keys, slots),
            values=jax.vmap(scatter)(carry.values, values, slots),
            positions=jax.vmap(lambda c, p, s: c.at[s].set(p, mode="drop"))(
                jnp.where(keep, carry.positions, -1), q_pos, slots
            ),
            step=end,
        )
        return new_carry, jnp.swapaxes(out, 0, 1)


register_memory(
    MemorySpec(
        name="fct",
        summary="full-context transformer (the Memo paper's baseline)",
        settings=lambda c: c.decoder_settings(),
        paper="memo",
        module=lambda d: FullContextTransformerMemory(**d.decoder_fields()),
        initial_carry=lambda d, n: fct_initial_carry(n, d.num_layers, d.width, d.max_context),
        token_cache=True,
        validate=validate_decoder_fields,
        resolved=decoder_resolved,
        defaults=DecoderMemorySettings(),
    )
)
