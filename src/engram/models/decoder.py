"""A small LLaMA-style decoder stack, written as pure functions of a parameter pytree, for the
attention memories of :mod:`engram.models.memo` (full-context transformer, Memo, RMT).

Architecture (the decoder layer of the Memo paper's code, ``memo/policies/llamarl/
modeling_llamarl.py::LlamaDecoderLayer``, itself Hugging Face's LLaMA). Each of
``num_layers`` layers maps the residual stream ``h`` (float32 ``(B, Q, width)``) of ``Q`` new
tokens at integer positions ``p`` (``(B, Q)``) to::

    x = RMSNorm(h)
    q, k, v = x W_q, x W_k, x W_v                 # no biases, num_heads heads of width/heads
    q, k = RoPE(q, p), RoPE(k, p)                 # rotary embedding at the token positions
    h = h + Attention(q, [context keys/values ; k, v], mask) W_o
    x = RMSNorm(h)
    h = h + (act(x W_gate) * (x W_up)) W_down     # gated MLP (SwiGLU with act = SiLU)

and the stack ends with a final RMSNorm. ``RMSNorm(x) = x / sqrt(mean(x^2) + eps) * g`` with a
learned gain ``g`` (ones at init) and ``eps = 1e-6`` (the Memo code's ``rms_norm_eps``).

Attention is always given its keys and values explicitly: the caller passes a list of
*context blocks* ``(keys, values, mask)`` (per layer: cached keys/values of earlier tokens,
already rotated at their own positions) and a ``self_mask`` over the new tokens themselves;
one softmax runs over all blocks together. The same code therefore serves a full parallel
pass (no context, a causal ``self_mask``), one new token against a key/value cache (one
context block, ``self_mask`` all True) and the Memo summary passes (several blocks). The
function returns each layer's keys and values of the new tokens, so that callers can cache
them. A mask is True where a query may see a key; every query must see at least one key (its
own, in all callers), so no softmax row is empty. Masked logits are set to ``-1e30``, whose
weight underflows to exactly 0.

RoPE (Su et al. 2021, "RoFormer") uses the "rotate half" layout of Hugging Face's LLaMA: the
first and second halves of each head's features form the pairs rotated by ``p * w_i`` with
``w_i = rope_base ** (-2 i / head_dim)``, ``rope_base = 10000`` (the Memo code's default).
Keys are rotated once, when computed, at their own positions; since RoPE is relative, only
position differences matter, so positions may be any integers (large values lose a little
float32 angle precision: about ``1e-7 * p`` radians).

Parameters (``init_decoder_params``) are a dict of arrays stacked over layers (``L =
num_layers``, ``W = width``, ``M = mlp_hidden``): ``attn_norm`` ``(L, W)``, ``query``, ``key``,
``value``, ``out`` ``(L, W, W)``, ``mlp_norm`` ``(L, W)``, ``gate``, ``up`` ``(L, W, M)``,
``down`` ``(L, M, W)``, ``final_norm`` ``(W,)``; all matrices are drawn from normal(0, 0.02),
Hugging Face's ``_init_weights`` for LLaMA. Being plain arrays, they can be read once by a flax
module (``self.param("decoder", ...)``) and used inside ``jax.lax.scan``/``cond`` bodies, where
flax submodules cannot be called.

Defaults follow the Memo paper's ExtObjNav configuration (the Memo paper): 4
layers, 8 heads, width 256 (head dim 32), MLP 1024. That configuration uses tanh-GELU in the
gated MLP (``activation: gelu_new``); the default here is SiLU (SwiGLU, LLaMA's own), and
``activation="gelu"`` selects the paper's. Left out: the paper's stochastic depth
(``depth_dropout_p = 0.1``, one Bernoulli per layer for the whole batch during training).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp

_NEG = -1e30  # logit of a masked key; its softmax weight underflows to exactly 0
ACTIVATIONS = {"silu": jax.nn.silu, "gelu": lambda x: jax.nn.gelu(x, approximate=True)}


@dataclass(frozen=True)
class DecoderSpec:
    """Shape of a decoder stack (hashable, so it can be a static argument).

    Attributes:
        num_layers: decoder layers (Memo: 4).
        width: model width ``W`` (Memo: 256).
        num_heads: attention heads; must divide ``width`` into an even head size (Memo: 8).
        mlp_hidden: hidden units of the gated MLP (Memo: 1024).
        activation: gate activation, ``"silu"`` (SwiGLU) or ``"gelu"`` (tanh-GELU, Memo's).
        norm_eps: RMSNorm epsilon (Memo: 1e-6).
        rope_base: RoPE frequency base (Memo: 10000).
    """

    num_layers: int = 4
    width: int = 256
    num_heads: int = 8
    mlp_hidden: int = 1024
    activation: str = "silu"
    norm_eps: float = 1e-6
    rope_base: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.width // self.num_heads


def check_decoder_config(
    num_layers: int, width: int, num_heads: int, mlp_hidden: int, activation: str = "silu"
):
    """Raise ``ValueError`` naming the field for a decoder that cannot be built: a size below
    1, ``num_heads`` not dividing ``width``, an odd head size (RoPE rotates feature pairs) or
    an unknown ``activation``."""
    for name, value in (
        ("num_layers", num_layers),
        ("width", width),
        ("num_heads", num_heads),
        ("mlp_hidden", mlp_hidden),
    ):
        if value < 1:
            raise ValueError(f"decoder: {name} must be >= 1, got {value}")
    if width % num_heads:
        raise ValueError(f"decoder: num_heads={num_heads} does not divide width={width}")
    if (width // num_heads) % 2:
        raise ValueError(
            f"decoder: width/num_heads = {width // num_heads} must be even for rotary "
            f"embeddings (width={width}, num_heads={num_heads})"
        )
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"decoder: activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}"
        )


def init_decoder_params(key: jax.Array, spec: DecoderSpec) -> dict[str, jax.Array]:
    """Fresh parameters of a decoder stack (layout in the module docstring): float32 weights
    from normal(0, 0.02), RMSNorm gains at 1."""
    n, w, m = spec.num_layers, spec.width, spec.mlp_hidden
    shapes = {
        "query": (n, w, w),
        "key": (n, w, w),
        "value": (n, w, w),
        "out": (n, w, w),
        "gate": (n, w, m),
        "up": (n, w, m),
        "down": (n, m, w),
    }
    keys = jax.random.split(key, len(shapes))
    params = {
        name: 0.02 * jax.random.normal(k, shape, jnp.float32)
        for k, (name, shape) in zip(keys, shapes.items(), strict=True)
    }
    params["attn_norm"] = jnp.ones((n, w), jnp.float32)
    params["mlp_norm"] = jnp.ones((n, w), jnp.float32)
    params["final_norm"] = jnp.ones((w,), jnp.float32)
    return params


def rms_norm(x: jax.Array, gain: jax.Array, eps: float = 1e-6) -> jax.Array:
    """``x / sqrt(mean(x^2, last axis) + eps) * gain`` (Zhang & Sennrich 2019)."""
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + eps) * gain


def apply_rope(x: jax.Array, positions: jax.Array, base: float = 10000.0) -> jax.Array:
    """Rotary position embedding of ``x`` ``(..., Q, H, D)`` (``D`` even) at integer
    ``positions`` ``(..., Q)``: feature ``i`` and ``i + D/2`` of every head are rotated by the
    angle ``positions * base ** (-2 i / D)`` (the "rotate half" layout)."""
    half = x.shape[-1] // 2
    freqs = base ** (-jnp.arange(half, dtype=jnp.float32) * 2.0 / x.shape[-1])
    angles = positions.astype(jnp.float32)[..., None, None] * freqs  # (..., Q, 1, D/2)
    cos, sin = jnp.cos(angles), jnp.sin(angles)
    x1, x2 = x[..., :half], x[..., half:]
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def attend(q: jax.Array, blocks: Sequence[tuple[jax.Array, jax.Array, jax.Array]]) -> jax.Array:
    """Scaled dot-product attention of queries ``q`` ``(B, Q, H, D)`` over the keys of all
    ``blocks`` together; each block is ``(keys (B, K, H, D), values (B, K, H, D), mask)`` with
    a bool ``mask`` broadcastable to ``(B, Q, K)``, True where the query may see the key. One
    softmax over the concatenated logits (scale ``1/sqrt(D)``); returns ``(B, Q, H, D)``."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    logits = []
    for k, _, mask in blocks:
        lg = jnp.einsum("bqhd,bkhd->bhqk", q, k) * scale
        logits.append(jnp.where(jnp.asarray(mask)[:, None], lg, _NEG))
    weights = jax.nn.softmax(jnp.concatenate(logits, axis=-1), axis=-1)
    out, start = 0.0, 0
    for k, v, _ in blocks:
        w = weights[..., start : start + k.shape[1]]
        out = out + jnp.einsum("bhqk,bkhd->bqhd", w, v)
        start += k.shape[1]
    return out


def decoder_stack(
    params: dict[str, jax.Array],
    spec: DecoderSpec,
    h: jax.Array,
    positions: jax.Array,
    context: Sequence[tuple[jax.Array, jax.Array, jax.Array]],
    self_mask: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Run ``Q`` new tokens through the stack.

    Args:
        params: from :func:`init_decoder_params`.
        spec: the stack's shape.
        h: float32 ``(B, Q, W)``, the new tokens' input embeddings.
        positions: int ``(B, Q)``, their RoPE positions.
        context: blocks ``(keys, values, mask)`` of earlier tokens: ``keys``/``values``
            float32 ``(B, L, K, W)`` (every layer's keys, rotated at their own positions, and
            values, heads concatenated), ``mask`` bool broadcastable to ``(B, Q, K)``.
        self_mask: bool broadcastable to ``(B, Q, Q)``, which new tokens each new token sees
            (e.g. causal); each row must allow at least one key overall.

    Returns:
        ``(out, keys, values)``: ``out`` float32 ``(B, Q, W)`` the final-RMSNormed last-layer
        outputs, ``keys``/``values`` float32 ``(B, L, Q, W)`` the new tokens' rotated keys and
        values of every layer, ready to be cached.
    """
    b, n_q, w = h.shape
    heads, dh = spec.num_heads, spec.head_dim
    act = ACTIVATIONS[spec.activation]
    new_keys, new_values = [], []
    for i in range(spec.num_layers):
        x = rms_norm(h, params["attn_norm"][i], spec.norm_eps)
        q = (x @ params["query"][i]).reshape(b, n_q, heads, dh)
        k = (x @ params["key"][i]).reshape(b, n_q, heads, dh)
        v = (x @ params["value"][i]).reshape(b, n_q, heads, dh)
        q = apply_rope(q, positions, spec.rope_base)
        k = apply_rope(k, positions, spec.rope_base)
        blocks = [
            (
                ck[:, i].reshape(b, -1, heads, dh),
                cv[:, i].reshape(b, -1, heads, dh),
                jnp.broadcast_to(mask, (b, n_q, ck.shape[2])),
            )
            for ck, cv, mask in context
        ]
        blocks.append((k, v, jnp.broadcast_to(self_mask, (b, n_q, n_q))))
        a = attend(q, blocks).reshape(b, n_q, w)
        h = h + a @ params["out"][i]
        x = rms_norm(h, params["mlp_norm"][i], spec.norm_eps)
        h = h + (act(x @ params["gate"][i]) * (x @ params["up"][i])) @ params["down"][i]
        new_keys.append(k.reshape(b, n_q, w))
        new_values.append(v.reshape(b, n_q, w))
    out = rms_norm(h, params["final_norm"], spec.norm_eps)
    return out, jnp.stack(new_keys, axis=1), jnp.stack(new_values, axis=1)


def causal_mask(n: int) -> jax.Array:
    """Bool ``(n, n)``, True on and below the diagonal (token ``i`` sees tokens ``<= i``)."""
    return jnp.tril(jnp.ones((n, n), bool))


@dataclass(frozen=True)
class DecoderMemorySettings:
    """Architecture of the memories built on this decoder (``fct``, ``memo``, ``rmt``;
    hashable, so it can be a module attribute). Defaults: the Memo paper's ExtObjNav
    network: 4 layers, width 256, 8 heads, MLP 1024, segments of 256 steps, 32 summary
    tokens. ``max_context`` is the memory episode (trial) length the caches cover before
    they drop their oldest entries; the segment fields apply to Memo and RMT."""

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


def validate_decoder_fields(c) -> None:
    """The decoder fields of a ``TrainConfig`` (``decoder_*``, ``max_context``,
    ``segment_length``, ``summary_length``): positive integers, and heads that divide the
    width into an even head size.

    Raises:
        ValueError: naming the field.
    """
    for name in (
        "decoder_num_layers",
        "decoder_width",
        "decoder_num_heads",
        "decoder_mlp_hidden",
        "max_context",
        "segment_length",
        "summary_length",
    ):
        value = getattr(c, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{name}: got {value!r}, must be a positive integer")
    d = c.decoder_settings()
    if d.width % d.num_heads or (d.width // d.num_heads) % 2:
        raise ValueError(
            f"decoder_num_heads: got {d.num_heads}, must divide decoder_width "
            f"({d.width}) into an even head size (rotary embeddings rotate pairs)"
        )


def decoder_resolved(c) -> dict:
    """The cache sizes a run saves in ``config.json``, defaults resolved."""
    d = c.decoder_settings()
    return dict(
        max_context=d.max_context, segment_length=d.segment_length, summary_length=d.summary_length
    )
