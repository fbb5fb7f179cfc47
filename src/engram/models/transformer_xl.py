"""Transformer-XL as an episodic sliding-window memory, exactly as the Memory Gym paper pairs it
with PPO (Pleines et al., "Memory Gym: Towards Endless Tasks to Benchmark Memory
Capabilities of Agents", §5.1) in its published code, CleanRL's ``ppo_trxl``
(``cleanrl/ppo_trxl/ppo_trxl.py``). ``tests/models/test_trxl_golden.py`` checks outputs, the
PPO loss and its gradients against that file run under PyTorch
(``scripts/golden_trxl.py``).

The model follows the memory-model protocol of :mod:`engram.models.memory`:

* ``initial_carry(batch_size)`` -> the empty memory (no parameters needed);
* ``step(carry, x, reset) -> (carry, y)`` with ``x`` float32 ``(B, F)``, ``reset`` bool
  ``(B,)`` (clears the memory *before* ``x`` is read) and ``y`` float32 ``(B, dim)``;
* ``sequence(carry, xs, resets, recorded=None) -> (carry, ys)`` with time-major ``xs``
  ``(T, B, F)``, ``resets`` ``(T, B)`` and ``ys`` ``(T, B, dim)``, equal to ``T`` calls of
  ``step``.

What a step sees (each rule is CleanRL ``ppo_trxl``'s). Step ``t`` of an episode (``t = 0``
at the reset step) embeds its input, ``h = ReLU(Dense(x))`` (CleanRL: the encoder's last
``Linear(3136, trxl_dim)`` + ReLU), and runs it through ``num_layers`` pre-LayerNorm blocks.
Block ``l`` attends from the step's own layer-``l`` input to the layer-``l`` inputs of the
steps ``max(0, t - memory_length + 1) .. t - 1`` *of the same episode*: at most
``memory_length - 1`` earlier steps, never the step itself (CleanRL's mask
``tril(ones(L, L), diagonal=-1)`` indexed by ``min(t, L - 1)``, over the window of episode
steps ``t - L + 1 .. t``). A reset empties the memory: nothing from an earlier episode is ever
attended. Because the attended layer inputs of ``l >= 1`` were themselves computed from
attention windows, the output at step ``t`` can depend on inputs as far back as
``num_layers * (memory_length - 1)`` steps, as in every Transformer-XL.

The first step of an episode has no key at all. CleanRL then masks every slot of its window
(the ``memory_length`` episode steps ``0 .. L - 1``, whose memory is still zeros) with logit
``-1e20``, so the softmax is uniform over them: the attention output is the output projection
of the mean over ``i = 0 .. L - 1`` of the value projections of ``LN_kv(0 + pe(i))``, the same
for every query. This module reproduces that value wherever a query has no valid key (the
reference's behaviour while acting; see "Learning" for its learning pass).

Block ``l`` (``mem`` are the attended layer inputs, ``pe`` the positional encoding of each
step's position within its episode, added to the raw layer inputs of *every* layer before
their LayerNorm, as CleanRL's ``Transformer.forward`` does; the memory stores them without
it)::

    q = LN_q(h [+ pe(t)])             # "+ pe" only with query_positional_encoding (engram's)
    kv = LN_kv(mem + pe(positions))   # keys = values; "+ pe" only with positional_encoding
    a = MultiHeadAttention(q, kv, kv, mask)
    h = h + a                          # gated: h = GRUGate(h, ReLU(a))
    f = ReLU(Dense(LN(h)))
    h = h + f                          # gated: h = GRUGate(h, f)

The output ``y`` is the last block's ``h``. The hidden layer after the memory (CleanRL's
``hidden_post_trxl``) is the caller's (the Trunk's), not part of this module.

Attention (CleanRL's ``MultiHeadAttention``): the input of width ``dim`` is split into
``num_heads`` slices of ``head = dim / num_heads`` features, and ONE bias-free
``Dense(head)`` per role (query, key, value) projects every slice (weights shared by the
heads); the logits are scaled by ``1 / sqrt(dim)`` (the full width, not the head size);
masked logits are removed from the softmax; the heads' outputs, concatenated, go through an
output ``Dense(dim)`` with bias. Keys and values are the same ``LN_kv`` output. LayerNorms use
epsilon ``1e-5`` (``torch.nn.LayerNorm``'s default) and the exact two-pass variance.

Positional encoding (CleanRL's ``PositionalEncoding``): the episode step ``p`` is encoded as
the sinusoid of ``positional_encoding_horizon - 1 - p`` (``sin(s * w_i)`` in the first half of
the features, ``cos(s * w_i)`` in the second, ``w_i = 10000 ** (-2 i / dim)``): CleanRL builds
a table for ``max_episode_steps`` rows in reverse order and indexes it by the episode step.
The horizon is the environment's episode cap, 1024 where it has none (CleanRL's fallback for
the endless tasks). Past the horizon (endless episodes longer than 1024 steps, where CleanRL's
table would be indexed out of range) the formula goes on with negative positions.

Learning. CleanRL stores, while acting, the layer inputs of every step (detached) and its
learner reuses them in every epoch: the keys and values of a sample's window are the stored
acting-time layer inputs, only the queries are recomputed (the gradient flows through them).
``sequence(..., recorded=r)`` does the same: ``r`` float32 ``(T, B, num_layers, dim)`` are the
layer inputs of the chunk's steps as computed while acting (:func:`recorded_step` after each
``step``); the keys and values of the chunk's steps are ``stop_gradient(r)`` and those of the
carry ``stop_gradient(carry.memory)``. Without ``recorded`` (engram's option) the chunk's own
layer inputs are recomputed, with their gradient. One difference with CleanRL's learner
remains, on purpose: for the first step of an episode its learning pass averages the window of
*stored* memories (episode steps ``0 .. L - 1`` as later acted, so the learner's output there
differs from the actor's); here both use the acting-time value above, so acting and learning
agree.

The carry (:class:`TransformerXLCarry`, a NamedTuple, so a pytree of fixed shapes) holds only
the window, with ``M = memory_length - 1`` (exactly what the next step may attend):

* ``memory`` float32 ``(B, M, num_layers, dim)``: the layer inputs of the episode's last
  ``M`` steps, oldest first (zeros in empty slots);
* ``positions`` int32 ``(B, M)``: each slot's step index within the episode, ``-1`` for an
  empty slot;
* ``step`` int32 ``(B,)``: the index within the episode of the next step to come.

Why only the window: CleanRL caches every step's layer inputs of the whole rollout
(``num_steps x num_layers x dim`` per environment plus a ``max_episode_steps`` episode buffer)
so that the learner can gather each sample's window from them. Here the learner re-runs a chunk
from the carry stored at the rollout start (exactly what a recurrent memory does) and takes the
chunk's own keys from ``recorded``; so the state per environment is
``(memory_length - 1) x num_layers x dim`` floats plus ``memory_length`` ints
(:func:`carry_bytes`).

``sequence`` attends over the whole chunk at once: for each layer the keys are the ``M`` carry
slots followed by the chunk's own ``T`` layer inputs, and a boolean mask (same episode, strictly
earlier, within the window) selects them. Memory is ``O(T * (M + T))`` per head; there is no
per-step loop (the only Python loop is over the ``num_layers`` blocks).

Defaults and their sources:

* ``num_layers = 3``, ``dim = 384``, ``num_heads = 4``: Memory Gym paper §5.1 (and CleanRL
  ``ppo_trxl``: ``trxl_num_layers=3``, ``trxl_dim=384``, ``trxl_num_heads=4``);
* ``memory_length = 256``; CleanRL's default is 119 and the paper uses 119 to 275 depending on
  the environment (the caller picks per task, :func:`engram.presets.trxl_defaults`); at least 2
  (with one slot a step could attend nothing);
* ``positional_encoding_horizon = 1024``: CleanRL's horizon where an environment has no
  episode cap (the configuration passes the cap where there is one);
* pre-LayerNorm, absolute sinusoidal positional encoding added to the memory: CleanRL
  ``ppo_trxl`` / the paper; initialisation is engram's (Xavier-uniform kernels, zero biases;
  CleanRL keeps torch's default initialisation inside the transformer);
* ``gated = False``: the paper's Transformer-XL is not gated; ``gated=True`` gives the GRU
  gating of GTrXL (Parisotto et al. 2020, "Stabilizing Transformers for Reinforcement
  Learning"), whose gate bias ``gate_bias = 2.0`` starts the blocks near the identity map.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from engram.models.memory import MemorySpec, register_memory

_xavier = nn.initializers.xavier_uniform()
_NEG = -1e30  # logit of a masked key; exp underflows to exactly 0 (CleanRL: -1e20)
_LN_EPS = 1e-5  # torch.nn.LayerNorm's default epsilon, CleanRL ppo_trxl's


def _layer_norm(name: str) -> nn.LayerNorm:
    return nn.LayerNorm(epsilon=_LN_EPS, use_fast_variance=False, name=name)


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


def check_transformer_xl_config(
    num_layers: int,
    dim: int,
    num_heads: int,
    memory_length: int,
    positional_encoding_horizon: int = 1024,
):
    """Raise ``ValueError`` (naming the attribute) for a configuration the model cannot run.

    ``memory_length`` must be at least 2: a step attends to the ``memory_length - 1`` steps
    before it (CleanRL ``ppo_trxl``), so a window of 1 would attend nothing. The trainer can
    call this before compiling anything; :class:`TransformerXLMemory` calls it in ``setup``.
    """
    if num_layers < 1:
        raise ValueError(f"transformer_xl: num_layers must be >= 1, got {num_layers}")
    if dim < 1:
        raise ValueError(f"transformer_xl: dim must be >= 1, got {dim}")
    if num_heads < 1:
        raise ValueError(f"transformer_xl: num_heads must be >= 1, got {num_heads}")
    if dim % num_heads:
        raise ValueError(f"transformer_xl: num_heads={num_heads} does not divide dim={dim}")
    if memory_length < 2:
        raise ValueError(
            f"transformer_xl: memory_length must be >= 2 (a step attends to the "
            f"memory_length - 1 steps before it), got {memory_length}"
        )
    if positional_encoding_horizon < 1:
        raise ValueError(
            "transformer_xl: positional_encoding_horizon must be >= 1, got "
            f"{positional_encoding_horizon}"
        )


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


def recorded_step(carry: TransformerXLCarry) -> jax.Array:
    """What the last ``step`` wrote: the layer inputs of that step, float32
    ``(B, num_layers, dim)`` (the newest slot of ``carry``, the carry ``step`` returned). A
    rollout stores it per step and passes the stack, ``(T, B, num_layers, dim)``, as
    ``recorded`` to :meth:`TransformerXLMemory.sequence` (CleanRL ``ppo_trxl`` stores the same
    tensors, ``out_memories``, while acting).

    Raises:
        ValueError: the carry has no slot (a ``memory_length`` below 2).
    """
    if carry.memory.shape[1] < 1:
        raise ValueError("recorded_step: the carry has no slot (memory_length must be >= 2)")
    return carry.memory[:, -1]


def _inverse_frequencies(dim: int) -> np.ndarray:
    """float32 ``(ceil(dim / 2),)``: ``10000 ** (-2 i / dim)`` as CleanRL computes it
    (``1e4 ** (-arange(0, dim, 2) / dim)``, the exponent rounded to float32 first), rounded
    from float64; torch's float32 ``pow`` differs from it by one ulp for a few ``i`` at
    some widths (relative 6e-8)."""
    exponent = -np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)
    return (10000.0 ** exponent.astype(np.float64)).astype(np.float32)


def sinusoidal_encoding(positions: jax.Array, dim: int) -> jax.Array:
    """Absolute sinusoidal position encoding (Vaswani et al. 2017) of integer ``positions``
    (any shape ``S``, negative allowed) -> float32 ``S + (dim,)``: ``sin(p * w_i)`` in the
    first ``ceil(dim/2)`` features and ``cos(p * w_i)`` after them (the sin/cos halves of
    CleanRL ``ppo_trxl``'s ``PositionalEncoding``), ``w_i = 10000 ** (-2 i / dim)``.
    Computed for any position (no fixed table)."""
    freqs = jnp.asarray(_inverse_frequencies(dim))
    angles = positions.astype(jnp.float32)[..., None] * freqs
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)[..., :dim]


def episode_position_encoding(steps: jax.Array, dim: int, horizon: int) -> jax.Array:
    """The encoding of episode steps ``steps`` (int, any shape ``S``) -> float32
    ``S + (dim,)``: :func:`sinusoidal_encoding` of ``horizon - 1 - steps``, row ``steps`` of
    CleanRL ``ppo_trxl``'s table ``PositionalEncoding(dim)(max_episode_steps)`` (built in
    reverse order) with ``horizon = max_episode_steps``; past the horizon the positions go
    negative."""
    return sinusoidal_encoding(horizon - 1 - steps, dim)


class _Attention(nn.Module):
    """CleanRL ``ppo_trxl``'s multi-head attention (see the module docstring). ``mask``
    ``(B, T, K)`` is True where a query may see a key; ``empty_kv`` ``(L, dim)`` are the
    normalised empty window slots whose mean value a query with no valid key receives."""

    dim: int
    num_heads: int

    @nn.compact
    def __call__(self, q_in, kv_in, mask, empty_kv):
        heads, size = self.num_heads, self.dim // self.num_heads

        def split(x):
            return x.reshape(x.shape[:-1] + (heads, size))

        def shared(name):  # one projection for every head's slice
            return nn.Dense(size, use_bias=False, kernel_init=_xavier, name=name)

        value = shared("value")
        q, k, v = shared("query")(split(q_in)), shared("key")(split(kv_in)), value(split(kv_in))
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.dim)
        logits = jnp.where(mask[:, None], logits, _NEG)
        weights = jax.nn.softmax(logits, axis=-1)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v)
        # No valid key: CleanRL's softmax over a fully masked window is uniform.
        empty = jnp.mean(value(split(empty_kv)), axis=0)  # (heads, size)
        out = jnp.where(jnp.any(mask, axis=-1)[..., None, None], out, empty)
        out = out.reshape(q_in.shape[:-1] + (self.dim,))
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
    """One pre-LayerNorm Transformer-XL block, CleanRL ``ppo_trxl``'s ``TransformerLayer``
    (see the module docstring); ``empty_in`` ``(L, dim)`` are the raw empty window slots
    (``0 + pe``) for queries without a valid key."""

    dim: int
    num_heads: int
    gated: bool
    gate_bias: float

    @nn.compact
    def __call__(self, h, kv_in, q_pe, mask, empty_in):
        q = _layer_norm("norm_q")(h + q_pe)
        norm_kv = _layer_norm("norm_kv")
        a = _Attention(self.dim, self.num_heads, name="attention")(
            q, norm_kv(kv_in), mask, norm_kv(empty_in)
        )
        if self.gated:
            h = _GRUGate(self.dim, self.gate_bias, name="gate_attention")(h, nn.relu(a))
        else:
            h = h + a
        f = nn.Dense(self.dim, kernel_init=_xavier, name="mlp")(_layer_norm("norm_mlp")(h))
        f = nn.relu(f)
        if self.gated:
            return _GRUGate(self.dim, self.gate_bias, name="gate_mlp")(h, f)
        return h + f


class TransformerXLMemory(nn.Module):
    """Transformer-XL episodic sliding-window memory (Memory Gym paper §5.1, CleanRL
    ``ppo_trxl``); the architecture, the attention window, the carry, learning from
    ``recorded`` layer inputs and the defaults are described (with their sources) in the
    module docstring.

    Shapes (``M = memory_length - 1``): ``step`` maps ``x`` float32 ``(B, F)`` and ``reset``
    bool ``(B,)`` to ``y`` float32 ``(B, dim)``; ``sequence`` maps time-major ``xs``
    ``(T, B, F)``, ``resets`` ``(T, B)`` and optionally ``recorded`` float32
    ``(T, B, num_layers, dim)`` to ``ys`` ``(T, B, dim)``. The carry is a
    :class:`TransformerXLCarry`: ``memory`` float32 ``(B, M, num_layers, dim)``,
    ``positions`` int32 ``(B, M)`` (``-1`` = empty slot), ``step`` int32 ``(B,)``.

    Attributes:
        num_layers: blocks (paper / CleanRL: 3).
        dim: embedding width (paper / CleanRL: 384).
        num_heads: attention heads, must divide ``dim`` (paper / CleanRL: 4).
        memory_length: window in steps, the current one included; a step attends to the
            ``memory_length - 1`` before it (CleanRL's ``trxl_memory_length``, default 119;
            the paper uses 119 to 275 by environment). At least 2.
        positional_encoding: add the encoding of each step's episode position to the
            memory (keys and values) of every layer before their LayerNorm (paper /
            CleanRL: yes).
        query_positional_encoding: add it to the query too (engram's; not in CleanRL; off).
        gated: GTrXL GRU gating instead of residual sums (paper: not gated).
        gate_bias: initial GTrXL gate bias ``b_g`` (Parisotto et al. 2020 use 2).
        positional_encoding_horizon: CleanRL's ``max_episode_steps``: episode step ``p`` is
            encoded as the sinusoid of ``horizon - 1 - p``; the environment's episode cap,
            1024 where there is none (CleanRL's fallback).

    Raises:
        ValueError: in ``setup``, naming the attribute, if ``num_heads`` does not divide
            ``dim``, ``num_layers``, ``num_heads``, ``dim`` or ``positional_encoding_horizon``
            is below 1 or ``memory_length`` below 2 (see
            :func:`check_transformer_xl_config`); in ``sequence``, naming ``recorded``, for a
            ``recorded`` of another shape than ``(T, B, num_layers, dim)``.
    """

    num_layers: int = 3
    dim: int = 384
    num_heads: int = 4
    memory_length: int = 256
    positional_encoding: bool = True
    query_positional_encoding: bool = False
    gated: bool = False
    gate_bias: float = 2.0
    positional_encoding_horizon: int = 1024

    def setup(self):
        check_transformer_xl_config(
            self.num_layers,
            self.dim,
            self.num_heads,
            self.memory_length,
            self.positional_encoding_horizon,
        )
        self.embed = nn.Dense(self.dim, kernel_init=_xavier, name="embed")
        self.blocks = [
            _Block(self.dim, self.num_heads, self.gated, self.gate_bias, name=f"block_{i}")
            for i in range(self.num_layers)
        ]

    def initial_carry(self, batch_size: int) -> TransformerXLCarry:
        return transformer_xl_initial_carry(
            batch_size, self.num_layers, self.dim, self.memory_length
        )

    def _encode(self, steps):
        return episode_position_encoding(steps, self.dim, self.positional_encoding_horizon)

    def sequence(self, carry: TransformerXLCarry, xs, resets, recorded=None):
        """``T`` steps at once (shapes in the class docstring). With ``recorded`` float32
        ``(T, B, num_layers, dim)`` (the layer inputs the chunk's steps had while acting,
        :func:`recorded_step`), the keys and values of the chunk's steps are
        ``stop_gradient(recorded)`` and those of the carry ``stop_gradient(carry.memory)``,
        the queries the fresh layer inputs (CleanRL ``ppo_trxl``'s learner); the returned
        carry then holds ``recorded`` too. Returns ``(carry, ys)``."""
        t_len, batch = xs.shape[0], xs.shape[1]
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
            & (kp < qp)
            & (qp - kp < self.memory_length)
        )  # (B, T, M + T): the same episode's steps t - L + 1 .. t - 1 (CleanRL's tril(-1)).

        zero = jnp.zeros((), jnp.float32)
        window = jnp.arange(self.memory_length, dtype=jnp.int32)  # CleanRL's step-0 window
        if self.positional_encoding:
            k_pe = self._encode(jnp.maximum(k_pos, 0))
            empty_in = self._encode(window)
        else:
            k_pe = zero
            empty_in = jnp.zeros((self.memory_length, self.dim), jnp.float32)
        q_pe = self._encode(q_pos) if self.query_positional_encoding else zero

        past = carry.memory
        if recorded is not None:
            want = (t_len, batch, self.num_layers, self.dim)
            if tuple(recorded.shape) != want:
                raise ValueError(
                    f"recorded: got shape {tuple(recorded.shape)}, expected (T, B, num_layers, "
                    f"dim) = {want}"
                )
            own = jax.lax.stop_gradient(jnp.swapaxes(recorded, 0, 1).astype(jnp.float32))
            past = jax.lax.stop_gradient(past)

        h = nn.relu(self.embed(jnp.swapaxes(xs, 0, 1).astype(jnp.float32)))  # (B, T, dim)
        layer_inputs = []
        for i, block in enumerate(self.blocks):
            mine = h if recorded is None else own[:, :, i]
            keys = jnp.concatenate([past[:, :, i], mine], axis=1)  # (B, M + T, dim)
            layer_inputs.append(keys)
            h = block(h, keys + k_pe, q_pe, mask, empty_in)

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
        """One step: ``x`` ``(B, F)``, ``reset`` ``(B,)`` -> ``(carry, y (B, dim))``; the
        step's layer inputs are then :func:`recorded_step` of the returned carry."""
        carry, ys = self.sequence(carry, x[None], reset[None])
        return carry, ys[0]

    def __call__(self, carry, xs, resets, recorded=None):
        return self.sequence(carry, xs, resets, recorded)


@dataclass(frozen=True)
class TransformerXLSettings:
    """Architecture of the ``trxl`` memory (hashable, so it can be a module attribute).
    Fields as :class:`TransformerXLMemory`'s (``positional_encoding_horizon``: the episode
    cap of the environment, 1024 without one, as CleanRL ``ppo_trxl``)."""

    num_layers: int = 3
    dim: int = 384
    num_heads: int = 4
    memory_length: int = 256
    positional_encoding: bool = True
    query_positional_encoding: bool = False
    gated: bool = False
    positional_encoding_horizon: int = 1024


def _validate_config(c) -> None:
    """The ``trxl_*`` fields of a ``TrainConfig``: positive sizes, a window of at least 2
    steps, heads that divide the width, a window no longer than the longest episode."""
    for name in ("trxl_num_layers", "trxl_dim", "trxl_num_heads", "trxl_memory_length"):
        value = getattr(c, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{name}: got {value!r}, must be a positive integer")
    t = c.trxl_settings()
    if t.memory_length < 2:
        raise ValueError(
            f"trxl_memory_length: got {t.memory_length}, must be >= 2 (a step attends to "
            "the trxl_memory_length - 1 steps before it)"
        )
    if t.dim % t.num_heads:
        raise ValueError(f"trxl_num_heads: got {t.num_heads}, must divide trxl_dim ({t.dim})")
    cap = c.episode_cap()
    if cap is not None and t.memory_length > cap:
        raise ValueError(
            f"trxl_memory_length: got {t.memory_length}, longer than the longest episode "
            f"of {c.env} ({cap} steps); use at most {cap}"
        )


# Derived from the environment, not a TrainConfig field: left out of a run's config.json.
_DERIVED = ("positional_encoding_horizon",)

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
        recorded=recorded_step,  # CleanRL ppo_trxl: the learner reuses acting's layer inputs
        defaults=TransformerXLSettings(),
        resolved=lambda c: {
            f"trxl_{k}": v
            for k, v in dataclasses.asdict(c.trxl_settings()).items()
            if k not in _DERIVED
        },
    )
)
