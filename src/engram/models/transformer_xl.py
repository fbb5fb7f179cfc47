"""Transformer-XL as an episodic sliding-window memory, the way the Memory Gym paper pairs it
with PPO (Pleines et al., "Memory Gym: Towards Endless Tasks to Benchmark Memory
Capabilities of Agents", §5.1, and CleanRL's ``ppo_trxl``).

The model follows the memory-model protocol of :mod:`engram.models.memory`:

* ``initial_carry(batch_size)`` -> the empty memory (no parameters needed);
* ``step(carry, x, reset) -> (carry, y)`` with ``x`` float32 ``(B, F)``, ``reset`` bool
  ``(B,)`` (clears the memory *before* ``x`` is read) and ``y`` float32 ``(B, dim)``;
* ``sequence(carry, xs, resets) -> (carry, ys)`` with time-major ``xs`` ``(T, B, F)``,
  ``resets`` ``(T, B)`` and ``ys`` ``(T, B, dim)``, equal to ``T`` calls of ``step``.

What a step sees. Step ``t`` of an episode (``t = 0`` at the reset step) embeds its input,
``h = ReLU(Dense(x))``, and runs it through ``num_layers`` pre-LayerNorm blocks. Block ``l``
attends from the step's own layer-``l`` input to the layer-``l`` inputs of the steps
``t - memory_length + 1 .. t`` *of the same episode* (its own input included, so at most
``memory_length`` keys and never an empty set). A reset empties the memory: nothing from an
earlier episode is ever attended. Because the attended layer inputs of ``l >= 1`` were
themselves computed from attention windows, the output at step ``t`` can depend on inputs as
far back as ``num_layers * (memory_length - 1)`` steps, as in every Transformer-XL.

Block ``l`` (``mem`` are the attended layer inputs, ``pe`` the sinusoidal encoding of each
step's position within its episode; the encoding is added to the raw layer inputs *before*
their LayerNorm, as in CleanRL's ``ppo_trxl``, and the memory stores them without it)::

    q = LN_q(h [+ pe(t)])            # "+ pe" only with query_positional_encoding
    kv = LN_kv(mem + pe(positions))  # "+ pe" only with positional_encoding
    a = MultiHeadAttention(q, kv, kv, mask)
    h = h + a                         # gated: h = GRUGate(h, ReLU(a))
    f = ReLU(Dense(LN(h)))
    h = h + f                         # gated: h = GRUGate(h, f)

The output ``y`` is the last block's ``h``. The hidden layer after the memory is the
caller's (the Trunk's), not part of this module.

The carry (:class:`TransformerXLCarry`, a NamedTuple, so a pytree of fixed shapes) holds only
the window, with ``M = memory_length - 1``:

* ``memory`` float32 ``(B, M, num_layers, dim)``: the layer inputs of the episode's last
  ``M`` steps, oldest first (zeros in empty slots);
* ``positions`` int32 ``(B, M)``: each slot's step index within the episode, ``-1`` for an
  empty slot;
* ``step`` int32 ``(B,)``: the index within the episode of the next step to come.

Why only the window: the reference PyTorch implementation caches every step's hidden states of
the whole rollout (``num_steps x num_layers x dim`` per environment) so that the learner can
gather each sample's window from them. Here the learner re-runs a chunk from the carry stored
at the rollout start (exactly what a recurrent memory does), and ``sequence`` recomputes the
chunk's own hidden states in one parallel pass; so the state per environment is
``(memory_length - 1) x num_layers x dim`` floats plus ``memory_length`` ints
(:func:`carry_bytes`).

``sequence`` attends over the whole chunk at once: for each layer the keys are the ``M`` carry
slots followed by the chunk's own ``T`` layer inputs, and a boolean mask (same episode, causal,
within the window) selects them. Memory is ``O(T * (M + T))`` per head; there is no per-step
loop (the only Python loop is over the ``num_layers`` blocks).

Defaults and their sources:

* ``num_layers = 3``, ``dim = 384``, ``num_heads = 4``: Memory Gym paper §5.1 (and CleanRL
  ``ppo_trxl``: ``trxl_num_layers=3``, ``trxl_dim=384``, ``trxl_num_heads=4``);
* ``memory_length = 256``: CleanRL ``ppo_trxl``'s ``trxl_memory_length`` default; the paper
  uses 119 to 275 depending on the environment (the caller picks per task);
* pre-LayerNorm, Xavier (Glorot uniform) kernels and zero biases, absolute sinusoidal
  positional encoding added to the memory: CleanRL ``ppo_trxl`` / the paper;
* ``gated = False``: the paper's Transformer-XL is not gated; ``gated=True`` gives the GRU
  gating of GTrXL (Parisotto et al. 2020, "Stabilizing Transformers for Reinforcement
  Learning"), whose gate bias ``gate_bias = 2.0`` starts the blocks near the identity map.

Attention uses the usual ``1 / sqrt(dim / num_heads)`` logit scale; query, key and value
projections have no bias, the output projection has one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from engram.models.memory import MemorySpec, register_memory

_xavier = nn.initializers.xavier_uniform()
_NEG = -1e30  # logit of a masked key; exp underflows to exactly 0


class TransformerXLCarry(NamedTuple):
    """The memory of :class:`TransformerXLMemory` (``M = memory_length - 1``).

    Attributes:
        memory: float32 ``(B, M, num_layers, dim)``, layer inputs of the last ``M`` steps of
            the ongoing episode, oldest first; zeros in empty slots.
        positions: int32 ``(B, M)``, each slot's step index within the episode, ``-1`` empty.
        step: int32 ``(B,)``, the episode step index of the next step.
    """

    memory: jax.Array
    positions: jax.Array
    step: jax.Array


def check_transformer_xl_config(num_layers: int, dim: int, num_heads: int, memory_length: int):
    """Raise ``ValueError`` (naming the attribute) for a configuration the model cannot run.

    The trainer can call this before compiling anything; :class:`TransformerXLMemory` calls it
    in ``setup``.
    """
    if num_layers < 1:
        raise ValueError(f"transformer_xl: num_layers must be >= 1, got {num_layers}")
    if dim < 1:
        raise ValueError(f"transformer_xl: dim must be >= 1, got {dim}")
    if num_heads < 1:
        raise ValueError(f"transformer_xl: num_heads must be >= 1, got {num_heads}")
    if dim % num_heads:
        raise ValueError(f"transformer_xl: num_heads={num_heads} does not divide dim={dim}")
    if memory_length < 1:
        raise ValueError(f"transformer_xl: memory_length must be >= 1, got {memory_length}")


def transformer_xl_initial_carry(
    batch_size: int, num_layers: int, dim: int, memory_length: int
) -> TransformerXLCarry:
    """The empty memory without building the module, equal to
    ``TransformerXLMemory(num_layers, dim, ..., memory_length).initial_carry(batch_size)``
    (ActorCritic calls it inside its own methods, where flax forbids unbound submodules)."""
    m = memory_length - 1
    return TransformerXLCarry(
        memory=jnp.zeros((batch_size, m, num_layers, dim), jnp.float32),
        positions=jnp.full((batch_size, m), -1, jnp.int32),
        step=jnp.zeros((batch_size,), jnp.int32),
    )


def carry_bytes(num_layers: int, dim: int, memory_length: int) -> int:
    """Bytes of the carry per environment: ``(memory_length - 1) * num_layers * dim`` float32
    plus ``memory_length - 1`` int32 positions plus one int32 step counter."""
    m = memory_length - 1
    return 4 * (m * num_layers * dim + m + 1)


def sinusoidal_encoding(positions: jax.Array, dim: int) -> jax.Array:
    """Absolute sinusoidal position encoding (Vaswani et al. 2017) of integer ``positions``
    (any shape ``S``) -> float32 ``S + (dim,)``: ``sin(p * w_i)`` in the first ``ceil(dim/2)``
    features and ``cos(p * w_i)`` after them (the sin/cos halves of CleanRL's ``ppo_trxl``),
    ``w_i = 10000 ** (-2 i / dim)``. Computed for any position (no fixed table), so endless
    episodes are fine."""
    half = (dim + 1) // 2
    freqs = jnp.exp(jnp.arange(half, dtype=jnp.float32) * (-2.0 * math.log(10000.0) / dim))
    angles = positions.astype(jnp.float32)[..., None] * freqs
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)[..., :dim]


class _Attention(nn.Module):
    """Multi-head attention; ``mask`` ``(B, T, K)`` is True where query may see key."""

    dim: int
    num_heads: int

    @nn.compact
    def __call__(self, q_in, kv_in, mask):
        heads, head_dim = self.num_heads, self.dim // self.num_heads

        def project(x, name):
            y = nn.Dense(self.dim, use_bias=False, kernel_init=_xavier, name=name)(x)
            return y.reshape(y.shape[:-1] + (heads, head_dim))

        q, k, v = project(q_in, "query"), project(kv_in, "key"), project(kv_in, "value")
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(head_dim)
        logits = jnp.where(mask[:, None], logits, _NEG)
        weights = jax.nn.softmax(logits, axis=-1)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(q_in.shape[:-1] + (self.dim,))
        return nn.Dense(self.dim, kernel_init=_xavier, name="out")(out)


class _GRUGate(nn.Module):
    """GTrXL's GRU-type gate ``g(x, y)`` (Parisotto et al. 2020, eq. for the GRU gating):
    ``r = sigmoid(W_r y + U_r x)``, ``z = sigmoid(W_z y + U_z x - b_g)``,
    ``n = tanh(W_g y + U_g (r * x))``, ``g = (1 - z) * x + z * n``. ``x`` is the residual
    stream, ``y`` the sublayer's output; ``b_g = bias`` keeps the gate near the identity."""

    dim: int
    bias: float

    @nn.compact
    def __call__(self, x, y):
        d = self.dim
        wy = nn.Dense(3 * d, use_bias=False, kernel_init=_xavier, name="w")(y)
        ux = nn.Dense(2 * d, use_bias=False, kernel_init=_xavier, name="u")(x)
        b_g = self.param("gate_bias", nn.initializers.constant(self.bias), (d,))
        wr, wz, wg = jnp.split(wy, 3, axis=-1)
        ur, uz = jnp.split(ux, 2, axis=-1)
        r = nn.sigmoid(wr + ur)
        z = nn.sigmoid(wz + uz - b_g)
        n = jnp.tanh(wg + nn.Dense(d, use_bias=False, kernel_init=_xavier, name="u_g")(r * x))
        return (1.0 - z) * x + z * n


class _Block(nn.Module):
    """One pre-LayerNorm Transformer-XL block (see the module docstring)."""

    dim: int
    num_heads: int
    gated: bool
    gate_bias: float

    @nn.compact
    def __call__(self, h, kv_in, q_pe, mask):
        q = nn.LayerNorm(name="norm_q")(h + q_pe)
        kv = nn.LayerNorm(name="norm_kv")(kv_in)
        a = _Attention(self.dim, self.num_heads, name="attention")(q, kv, mask)
        if self.gated:
            h = _GRUGate(self.dim, self.gate_bias, name="gate_attention")(h, nn.relu(a))
        else:
            h = h + a
        f = nn.Dense(self.dim, kernel_init=_xavier, name="mlp")(nn.LayerNorm(name="norm_mlp")(h))
        f = nn.relu(f)
        if self.gated:
            return _GRUGate(self.dim, self.gate_bias, name="gate_mlp")(h, f)
        return h + f


class TransformerXLMemory(nn.Module):
    """Transformer-XL episodic sliding-window memory (Memory Gym paper §5.1, CleanRL
    ``ppo_trxl``); the architecture, carry and defaults are described in the module docstring.

    Shapes (``M = memory_length - 1``): ``step`` maps ``x`` float32 ``(B, F)`` and ``reset``
    bool ``(B,)`` to ``y`` float32 ``(B, dim)``; ``sequence`` maps time-major ``xs``
    ``(T, B, F)`` and ``resets`` ``(T, B)`` to ``ys`` ``(T, B, dim)``. The carry is a
    :class:`TransformerXLCarry`: ``memory`` float32 ``(B, M, num_layers, dim)``,
    ``positions`` int32 ``(B, M)`` (``-1`` = empty slot), ``step`` int32 ``(B,)``.

    Attributes:
        num_layers: blocks (paper / CleanRL: 3).
        dim: embedding width (paper / CleanRL: 384).
        num_heads: attention heads, must divide ``dim`` (paper / CleanRL: 4).
        memory_length: attention window in steps, the current one included (CleanRL default
            256; the paper uses 119 to 275 by environment).
        positional_encoding: add the sinusoidal encoding of each step's episode position to
            the memory (keys and values) before their LayerNorm (paper / CleanRL: yes).
        query_positional_encoding: add it to the query too (not in CleanRL; off).
        gated: GTrXL GRU gating instead of residual sums (paper: not gated).
        gate_bias: initial GTrXL gate bias ``b_g`` (Parisotto et al. 2020 use 2).

    Raises:
        ValueError: in ``setup``, naming the attribute, if ``num_heads`` does not divide
            ``dim`` or ``num_layers``, ``num_heads``, ``dim`` or ``memory_length`` is below 1
            (see :func:`check_transformer_xl_config`).
    """

    num_layers: int = 3
    dim: int = 384
    num_heads: int = 4
    memory_length: int = 256
    positional_encoding: bool = True
    query_positional_encoding: bool = False
    gated: bool = False
    gate_bias: float = 2.0

    def setup(self):
        check_transformer_xl_config(self.num_layers, self.dim, self.num_heads, self.memory_length)
        self.embed = nn.Dense(self.dim, kernel_init=_xavier, name="embed")
        self.blocks = [
            _Block(self.dim, self.num_heads, self.gated, self.gate_bias, name=f"block_{i}")
            for i in range(self.num_layers)
        ]

    def initial_carry(self, batch_size: int) -> TransformerXLCarry:
        return transformer_xl_initial_carry(
            batch_size, self.num_layers, self.dim, self.memory_length
        )

    def sequence(self, carry: TransformerXLCarry, xs, resets):
        t_len = xs.shape[0]
        resets = jnp.asarray(resets, bool).T  # (B, T), batch-major from here on
        time = jnp.arange(t_len, dtype=jnp.int32)
        # Index of the latest reset at or before each step (-1: none in this chunk).
        last_reset = jax.lax.cummax(jnp.where(resets, time, -1), axis=1)
        q_pos = jnp.where(last_reset >= 0, time - last_reset, carry.step[:, None] + time)
        # Episode number within the chunk: 0 is the episode ongoing at the chunk start (the
        # one the carry slots belong to), and each reset starts the next one.
        q_ep = jnp.cumsum(resets, axis=1, dtype=jnp.int32)
        k_pos = jnp.concatenate([carry.positions, q_pos], axis=1)  # (B, M + T)
        k_ep = jnp.concatenate([jnp.zeros_like(carry.positions), q_ep], axis=1)
        qp, kp = q_pos[:, :, None], k_pos[:, None, :]
        mask = (
            (k_ep[:, None, :] == q_ep[:, :, None])
            & (kp >= 0)
            & (kp <= qp)
            & (qp - kp < self.memory_length)
        )  # (B, T, M + T); the diagonal (a step's own key) is always True.

        zero = jnp.zeros((), jnp.float32)
        k_pe = sinusoidal_encoding(jnp.maximum(k_pos, 0), self.dim)
        k_pe = k_pe if self.positional_encoding else zero
        q_pe = sinusoidal_encoding(q_pos, self.dim) if self.query_positional_encoding else zero

        h = nn.relu(self.embed(jnp.swapaxes(xs, 0, 1).astype(jnp.float32)))  # (B, T, dim)
        layer_inputs = []
        for i, block in enumerate(self.blocks):
            keys = jnp.concatenate([carry.memory[:, :, i], h], axis=1)  # (B, M + T, dim)
            layer_inputs.append(keys)
            h = block(h, keys + k_pe, q_pe, mask)

        # New carry: the last M key slots, keeping only those of the episode still ongoing.
        keep = ((k_ep == q_ep[:, -1:]) & (k_pos >= 0))[:, t_len:]
        memory = jnp.stack(layer_inputs, axis=2)[:, t_len:]
        new_carry = TransformerXLCarry(
            memory=jnp.where(keep[:, :, None, None], memory, 0.0),
            positions=jnp.where(keep, k_pos[:, t_len:], -1),
            step=q_pos[:, -1] + 1,
        )
        return new_carry, jnp.swapaxes(h, 0, 1)

    def step(self, carry: TransformerXLCarry, x, reset):
        carry, ys = self.sequence(carry, x[None], reset[None])
        return carry, ys[0]

    def __call__(self, carry, xs, resets):
        return self.sequence(carry, xs, resets)


@dataclass(frozen=True)
class TransformerXLSettings:
    """Architecture of the ``trxl`` memory (hashable, so it can be a module attribute).
    Fields as :class:`TransformerXLMemory`'s."""

    num_layers: int = 3
    dim: int = 384
    num_heads: int = 4
    memory_length: int = 256
    positional_encoding: bool = True
    query_positional_encoding: bool = False
    gated: bool = False


def _validate_config(c) -> None:
    """The ``trxl_*`` fields of a ``TrainConfig``: positive sizes, heads that divide the
    width, a window no longer than the longest episode."""
    for name in ("trxl_num_layers", "trxl_dim", "trxl_num_heads", "trxl_memory_length"):
        value = getattr(c, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{name}: got {value!r}, must be a positive integer")
    t = c.trxl_settings()
    if t.dim % t.num_heads:
        raise ValueError(f"trxl_num_heads: got {t.num_heads}, must divide trxl_dim ({t.dim})")
    cap = c.episode_cap()
    if cap is not None and t.memory_length > cap:
        raise ValueError(
            f"trxl_memory_length: got {t.memory_length}, longer than the longest episode "
            f"of {c.env} ({cap} steps); use at most {cap}"
        )


register_memory(
    MemorySpec(
        name="trxl",
        summary="Transformer-XL, the Memory Gym paper's episodic sliding-window memory",
        settings=lambda c: c.trxl_settings(),
        module=lambda t: TransformerXLMemory(**dataclasses.asdict(t)),
        initial_carry=lambda t, n: transformer_xl_initial_carry(
            n, t.num_layers, t.dim, t.memory_length
        ),
        validate=_validate_config,
        hidden=lambda t: t.dim,  # CleanRL ppo_trxl: hidden_post_trxl is trxl_dim wide
        defaults=TransformerXLSettings(),
        resolved=lambda c: {
            f"trxl_{k}": v for k, v in dataclasses.asdict(c.trxl_settings()).items()
        },
    )
)
