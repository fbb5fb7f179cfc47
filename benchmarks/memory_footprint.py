"""Memory footprint of the memory models at long contexts: cached state, attended tokens,
FLOPs and speed of one acting step.

For GRU (hidden 512), Transformer-XL (the Memory Gym paper's network: 3 layers, width 384, 4
heads, a window of 256 steps), the full-context transformer (FCT), Memo and RMT (the Memo
paper's network: 4 layers, 8 heads, width 256, MLP 1024, segments of 256 steps, 32 summary
tokens; ``reference/memo.md`` sections 2 and 6) at context lengths of 1k to 32k steps, this
prints one row per model and context:

* **carry/env**: bytes of the cached state (the carry) per environment, from
  ``jax.eval_shape`` of the model's ``initial_carry`` and checked against the analytic helpers
  (:func:`engram.models.memo.fct_carry_bytes`, :func:`engram.models.memo.memo_carry_bytes`,
  :func:`engram.models.transformer_xl.carry_bytes`, ``4 * hidden`` for the GRU). FCT, Memo
  and RMT get ``max_context`` = the context length, so nothing is dropped;
* **attended**: keys each layer's query attends to at the last step of the context (GRU:
  none; TrXL: its window; FCT, Memo, RMT: :func:`engram.models.memo.attended_tokens`);
* **ideal MFLOP**: floating-point operations of one acting step per environment, counted
  analytically over the attended tokens only (:func:`flops_per_step`; what is counted is
  listed there);
* **impl MFLOP**: the matrix-product FLOPs that the fixed-shape JAX implementation executes,
  counted from the jaxpr of ``step`` (:func:`implementation_flops`): the attention runs over
  every cache slot, masked or not, so this is at least the ideal count;
* measured (unless ``--no-measure``): compile seconds, milliseconds per jitted ``step`` call
  on ``--num-envs`` environments, for Memo/RMT also the call that closes a segment (it runs
  the two summary passes), acting steps/s (environment steps per second, for Memo/RMT
  amortised over a segment with all environments closing their segments at the same step:
  the implementation runs the summary passes for the whole batch whenever any environment
  closes a segment, so environments out of phase cost more), the compiled step's buffers
  (XLA's ``memory_analysis``: arguments + outputs + temporaries - donated aliases) and, on
  GPUs, the device's peak so far in this process (``engram.train.peak_device_memory``;
  cumulative over rows).

A last line states how many times fewer tokens Memo attends to than FCT at the largest
context (the paper's "about 8x fewer tokens in context" at 32k steps).

The input to every memory is ``--features`` floats per step (default 3136, the Atari CNN's
output for 84 x 84 images, which engram's agents feed their memory). Timing uses a synthetic
carry in the state "context reached" (:func:`synthetic_carry`); only the fixed cache shapes
decide the cost, so its values are random.

Usage::

    python benchmarks/memory_footprint.py                  # all models, 1k, 4k, 16k, 32k
    python benchmarks/memory_footprint.py --no-measure     # analytic columns only (seconds)
    python benchmarks/memory_footprint.py --models fct memo --contexts 4096 --num-envs 16
    python benchmarks/memory_footprint.py --contexts 64 --width 32 --mlp-hidden 64 \\
        --segment-length 16 --summary-length 2             # a tiny network
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields

import jax
import jax.numpy as jnp
import numpy as np

from engram.models.fct import FullContextTransformerMemory, check_fct_config, fct_carry_bytes
from engram.models.memo import (
    MemoMemory,
    attended_tokens,
    check_memo_config,
    memo_carry_bytes,
)
from engram.models.recurrent import GRUMemory
from engram.models.transformer_xl import (
    TransformerXLMemory,
    check_transformer_xl_config,
)
from engram.models.transformer_xl import carry_bytes as trxl_carry_bytes

MODELS = ("gru", "trxl", "fct", "memo", "rmt")
DEFAULT_CONTEXTS = (1024, 4096, 16384, 32768)


@dataclass(frozen=True)
class Sizes:
    """The networks compared (defaults: the papers').

    Attributes:
        features: input floats per step (3136: the Atari CNN's output for 84 x 84 images).
        gru_hidden: GRU hidden units (Memory Gym paper: 512).
        trxl_layers, trxl_dim, trxl_heads, trxl_window: Transformer-XL blocks, width, heads
            and attention window in steps (Memory Gym paper: 3, 384, 4, 256).
        num_layers, width, num_heads, mlp_hidden: the decoder of FCT, Memo and RMT (Memo
            paper: 4, 256, 8, 1024).
        segment_length, summary_length: Memo/RMT steps per segment and summary tokens per
            segment (Memo paper: 256, 32).
    """

    features: int = 3136
    gru_hidden: int = 512
    trxl_layers: int = 3
    trxl_dim: int = 384
    trxl_heads: int = 4
    trxl_window: int = 256
    num_layers: int = 4
    width: int = 256
    num_heads: int = 8
    mlp_hidden: int = 1024
    segment_length: int = 256
    summary_length: int = 32


def _check_model(model: str):
    if model not in MODELS:
        raise ValueError(f"memory_footprint: model must be one of {MODELS}, got {model!r}")


def check_sizes(model: str, context: int, sizes: Sizes):
    """Raise ``ValueError`` naming the field for a model that cannot be built at ``context``
    steps (for Memo/RMT: a context shorter than one segment, among others)."""
    _check_model(model)
    if context < 1:
        raise ValueError(f"memory_footprint: context must be >= 1, got {context}")
    if sizes.features < 1:
        raise ValueError(f"memory_footprint: features must be >= 1, got {sizes.features}")
    if model == "gru" and sizes.gru_hidden < 1:
        raise ValueError(f"memory_footprint: gru_hidden must be >= 1, got {sizes.gru_hidden}")
    if model == "trxl":
        check_transformer_xl_config(
            sizes.trxl_layers, sizes.trxl_dim, sizes.trxl_heads, sizes.trxl_window
        )
    if model == "fct":
        check_fct_config(sizes.num_layers, sizes.width, sizes.num_heads, sizes.mlp_hidden, context)
    if model in ("memo", "rmt"):
        check_memo_config(
            sizes.num_layers,
            sizes.width,
            sizes.num_heads,
            sizes.mlp_hidden,
            sizes.segment_length,
            sizes.summary_length,
            context,
        )


def build_model(model: str, context: int, sizes: Sizes):
    """The flax module of ``model`` for a memory episode of ``context`` steps (FCT, Memo and
    RMT: ``max_context = context``; GRU and TrXL do not depend on it).

    Raises:
        ValueError: naming the field (:func:`check_sizes`).
    """
    check_sizes(model, context, sizes)
    if model == "gru":
        return GRUMemory(sizes.gru_hidden)
    if model == "trxl":
        return TransformerXLMemory(
            num_layers=sizes.trxl_layers,
            dim=sizes.trxl_dim,
            num_heads=sizes.trxl_heads,
            memory_length=sizes.trxl_window,
        )
    decoder = {
        "num_layers": sizes.num_layers,
        "width": sizes.width,
        "num_heads": sizes.num_heads,
        "mlp_hidden": sizes.mlp_hidden,
    }
    if model == "fct":
        return FullContextTransformerMemory(**decoder, max_context=context)
    return MemoMemory(
        **decoder,
        segment_length=sizes.segment_length,
        summary_length=sizes.summary_length,
        max_context=context,
        accumulate=model == "memo",
    )


# ----------------------------------------------------------------------------------------
# Cached state and attended tokens.


def analytic_carry_bytes(model: str, context: int, sizes: Sizes) -> int:
    """Bytes of the carry per environment from the models' own size helpers (GRU: ``hidden``
    float32)."""
    _check_model(model)
    if model == "gru":
        return 4 * sizes.gru_hidden
    if model == "trxl":
        return trxl_carry_bytes(sizes.trxl_layers, sizes.trxl_dim, sizes.trxl_window)
    if model == "fct":
        return fct_carry_bytes(sizes.num_layers, sizes.width, context)
    return memo_carry_bytes(
        sizes.num_layers,
        sizes.width,
        sizes.segment_length,
        sizes.summary_length,
        context,
        accumulate=model == "memo",
    )


def carry_bytes(model: str, context: int, sizes: Sizes) -> int:
    """Bytes of the carry per environment: the sizes of the leaves of
    ``jax.eval_shape(module.initial_carry(1))`` (nothing is allocated).

    Raises:
        RuntimeError: if this differs from :func:`analytic_carry_bytes`.
    """
    module = build_model(model, context, sizes)
    shapes = jax.eval_shape(lambda: module.initial_carry(1))
    total = sum(math.prod(a.shape) * a.dtype.itemsize for a in jax.tree.leaves(shapes))
    expected = analytic_carry_bytes(model, context, sizes)
    if total != expected:
        raise RuntimeError(
            f"memory_footprint: {model} carry at context {context} has {total} bytes, the "
            f"analytic helper says {expected}"
        )
    return int(total)


def attended(model: str, context: int, sizes: Sizes) -> int:
    """Keys each layer's query attends to at step ``context`` (1-based) of a memory episode:
    0 for the GRU (no attention), ``min(context, window) - 1`` for TrXL (the earlier
    steps of its window; the first step's output does not depend on its query) and
    :func:`engram.models.memo.attended_tokens` (with ``max_context = context``) for FCT,
    Memo and RMT."""
    _check_model(model)
    if model == "gru":
        return 0
    if model == "trxl":
        return min(context, sizes.trxl_window) - 1
    return int(attended_tokens(model, context, context, sizes.segment_length, sizes.summary_length))


# ----------------------------------------------------------------------------------------
# FLOPs, analytic.
#
# Every count is 2 x the multiply-adds of the matrix products of one step for one
# environment; elementwise work (norms, RoPE, softmax, activations, gates, biases) is not
# counted. Attention over K keys costs 2 K W for the scores and 2 K W for the weighted sum of
# values (all heads together, W the width), and K is the number of keys the query may see:
# cache slots that the fixed-shape implementation computes and then masks are NOT counted
# (see implementation_flops for those). These are the FLOPs of an ideal implementation.


def decoder_token_flops(num_layers: int, width: int, mlp_hidden: int, keys: int) -> int:
    """FLOPs of one token through the LLaMA-style decoder of FCT/Memo/RMT, attending to
    ``keys`` keys (its own included) in every layer, per layer:

    * ``8 W^2``: query, key, value and output projections of the token (``W x W`` each; the
      keys/values of earlier tokens are cached, not recomputed);
    * ``4 K W``: attention scores and weighted sum of values over ``K = keys``;
    * ``6 W M``: the gated MLP (gate and up ``W x M``, down ``M x W``).
    """
    w, m = width, mlp_hidden
    return num_layers * (8 * w * w + 4 * keys * w + 6 * w * m)


def gru_flops(features: int, hidden: int) -> int:
    """FLOPs of one GRU step: input projection ``2 F 3H`` and recurrent product
    ``2 H 3H``."""
    return 2 * features * 3 * hidden + 2 * hidden * 3 * hidden


def trxl_flops(features: int, num_layers: int, dim: int, num_heads: int, keys: int) -> int:
    """FLOPs of one Transformer-XL step attending to ``keys`` earlier window steps (a step
    never attends to itself, as in CleanRL's ``ppo_trxl``): the input embedding ``2 F D``
    and, per block (the query, key and value projections are one ``D/H x D/H`` matrix
    applied to each of the ``H`` heads, CleanRL's layout),

    * ``2 D^2 / H`` query projection of the step;
    * ``4 K D^2 / H`` key and value projections of the ``K`` window steps: the carry holds
      the blocks' *inputs* (positional encoding and LayerNorm come before the projections),
      so the keys and values are recomputed at every step;
    * ``4 K D`` attention scores and weighted sum;
    * ``2 D^2`` output projection and ``2 D^2`` the block's dense layer.
    """
    d, h = dim, num_heads
    per_block = 2 * d * d // h + 4 * keys * d * d // h + 4 * keys * d + 4 * d * d
    return 2 * features * d + num_layers * per_block


def fct_flops(features: int, num_layers: int, width: int, mlp_hidden: int, keys: int) -> int:
    """FLOPs of one full-context transformer step attending to ``keys`` cached steps (its own
    included): the input projection ``2 F W`` and :func:`decoder_token_flops`."""
    return 2 * features * width + decoder_token_flops(num_layers, width, mlp_hidden, keys)


def memo_flops(
    features: int,
    num_layers: int,
    width: int,
    mlp_hidden: int,
    segment_length: int,
    summary_length: int,
    max_context: int,
    steps: int,
    accumulate: bool = True,
) -> float:
    """FLOPs of Memo (``accumulate``) or RMT at step ``steps`` (1-based) of a memory episode,
    amortised: the step's own token pass plus ``1 / segment_length`` of the summary passes
    that close its segment (a step-by-step rollout runs them once per segment).

    With ``n = (steps - 1) // segment_length`` finished segments, ``k`` summary sets kept
    (``min(n, max_context // segment_length)``; RMT ``min(n, 1)``), ``ls = summary_length``:

    * token pass: input projection ``2 F W`` and :func:`decoder_token_flops` over
      :func:`engram.models.memo.attended_tokens` keys (``k ls`` summaries and the segment so
      far);
    * summary queries: ``ls`` tokens, query ``j`` attending to ``k ls`` summaries, the whole
      segment and queries ``0 .. j`` (learned embeddings: no input projection);
    * re-encoding: ``ls`` tokens, ``j`` attending to ``k ls`` earlier summaries (RMT: none)
      and tokens ``0 .. j`` (fed back as embeddings: no input projection).
    """
    seg, ls = segment_length, summary_length
    n = (steps - 1) // seg
    kept = min(n, max_context // seg) if accumulate else min(n, 1)
    token = 2 * features * width + decoder_token_flops(
        num_layers, width, mlp_hidden, kept * ls + steps - n * seg
    )
    pass_flops = functools.partial(decoder_token_flops, num_layers, width, mlp_hidden)
    queries = sum(pass_flops(kept * ls + seg + j + 1) for j in range(ls))
    earlier = kept * ls if accumulate else 0
    reencode = sum(pass_flops(earlier + j + 1) for j in range(ls))
    return token + (queries + reencode) / seg


def flops_per_step(model: str, context: int, sizes: Sizes) -> float:
    """Ideal FLOPs of one acting step per environment at step ``context`` (1-based) of a
    memory episode, with ``max_context = context`` (:func:`gru_flops`, :func:`trxl_flops`,
    :func:`fct_flops`, :func:`memo_flops`; only matrix products over attended keys)."""
    _check_model(model)
    s = sizes
    if model == "gru":
        return float(gru_flops(s.features, s.gru_hidden))
    keys = attended(model, context, sizes)
    if model == "trxl":
        return float(trxl_flops(s.features, s.trxl_layers, s.trxl_dim, s.trxl_heads, keys))
    if model == "fct":
        return float(fct_flops(s.features, s.num_layers, s.width, s.mlp_hidden, keys))
    return memo_flops(
        s.features,
        s.num_layers,
        s.width,
        s.mlp_hidden,
        s.segment_length,
        s.summary_length,
        context,
        context,
        accumulate=model == "memo",
    )


# ----------------------------------------------------------------------------------------
# FLOPs of the implementation, counted in its jaxpr.


def _sub_jaxprs(value):
    """The jaxprs inside an equation parameter (a jaxpr, a closed jaxpr or a tuple of
    them)."""
    if isinstance(value, jax.extend.core.ClosedJaxpr):
        return [value.jaxpr]
    if isinstance(value, jax.extend.core.Jaxpr):
        return [value]
    if isinstance(value, tuple | list):
        return [j for v in value for j in _sub_jaxprs(v)]
    return []


def matmul_flops(jaxpr, cond: str = "max") -> int:
    """``2 x`` the multiply-adds of every ``dot_general`` in ``jaxpr`` (a ``Jaxpr`` or
    ``ClosedJaxpr``), inside nested calls too; a ``scan`` body counts ``length`` times, and a
    ``cond`` counts its most (``cond="max"``) or least (``"min"``) expensive branch.

    Raises:
        ValueError: for another ``cond``, or a ``while`` loop (its trip count is unknown).
    """
    if cond not in ("max", "min"):
        raise ValueError(f"matmul_flops: cond must be 'max' or 'min', got {cond!r}")
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    total = 0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            (contract, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            out = eqn.outvars[0].aval.shape
            total += 2 * math.prod(out) * math.prod(lhs[d] for d in contract)
        elif name == "cond":
            costs = [matmul_flops(b, cond) for b in eqn.params["branches"]]
            total += max(costs) if cond == "max" else min(costs)
        elif name == "while":
            raise ValueError("matmul_flops: a while loop has no static trip count")
        else:
            inner = sum(matmul_flops(j, cond) for v in eqn.params.values() for j in _sub_jaxprs(v))
            total += inner * (eqn.params["length"] if name == "scan" else 1)
    return total


def _abstract_inputs(model: str, context: int, sizes: Sizes, batch_size: int = 1):
    """``(module, params, carry, x, reset)`` as shapes only (``jax.ShapeDtypeStruct``)."""
    module = build_model(model, context, sizes)
    carry = jax.eval_shape(lambda: module.initial_carry(batch_size))
    x = jax.ShapeDtypeStruct((batch_size, sizes.features), jnp.float32)
    reset = jax.ShapeDtypeStruct((batch_size,), jnp.bool_)
    init = functools.partial(module.init, method="step")
    params = jax.eval_shape(init, jax.random.key(0), carry, x, reset)
    return module, params, carry, x, reset


def implementation_flops(model: str, context: int, sizes: Sizes) -> float:
    """Matrix-product FLOPs per environment that ``module.apply(..., method="step")``
    executes at ``context`` steps, counted in its jaxpr (:func:`matmul_flops`, no
    compilation). The fixed-shape implementation attends over every cache slot (FCT:
    ``max_context`` slots and the new step; Memo/RMT: all summary and segment slots) and
    masks the ones not in context, so this is at least :func:`flops_per_step`. For
    Memo/RMT the segment-closing branch (the ``lax.cond`` of the summary passes) is
    amortised over ``segment_length`` steps, as in :func:`memo_flops`."""
    module, params, carry, x, reset = _abstract_inputs(model, context, sizes)

    def step(p, c, x, r):
        return module.apply(p, c, x, r, method="step")

    jaxpr = jax.make_jaxpr(step)(params, carry, x, reset)
    most = matmul_flops(jaxpr, "max")
    if model not in ("memo", "rmt"):
        return float(most)
    least = matmul_flops(jaxpr, "min")
    return least + (most - least) / sizes.segment_length


def analytic_row(model: str, context: int, sizes: Sizes | None = None) -> dict:
    """The columns that need no compilation: ``model``, ``context`` (steps), ``carry_bytes``
    (per environment), ``attended`` (keys per layer at the last step), ``flops`` (ideal,
    per step and environment) and ``impl_flops`` (the implementation's matrix products).

    Raises:
        ValueError: naming the field for a model that cannot be built (:func:`check_sizes`).
    """
    sizes = sizes or Sizes()
    return {
        "model": model,
        "context": context,
        "carry_bytes": carry_bytes(model, context, sizes),
        "attended": attended(model, context, sizes),
        "flops": flops_per_step(model, context, sizes),
        "impl_flops": implementation_flops(model, context, sizes),
    }


# ----------------------------------------------------------------------------------------
# Measurement.


def pinned_counters(model: str, context: int, sizes: Sizes) -> tuple[int, int, int]:
    """Memo/RMT counters of the timed carry: ``(num_summaries, segment_count for an ordinary
    step, segment_count for the step that closes a segment)`` = ``((context - 1) //
    segment_length, segment_length // 2, segment_length - 1)``: the last segment of a
    ``context``-step episode. ``(0, 0, 0)`` for the other models (unused)."""
    if model not in ("memo", "rmt"):
        return 0, 0, 0
    seg = sizes.segment_length
    return (context - 1) // seg, seg // 2, seg - 1


def _pin(model: str, carry, num_summaries, segment_count):
    """Memo/RMT: ``carry`` with both counters set (traced scalars), so that every timed call
    runs the same branch; other carries unchanged."""
    if model not in ("memo", "rmt"):
        return carry
    return carry._replace(
        num_summaries=jnp.full_like(carry.num_summaries, num_summaries),
        segment_count=jnp.full_like(carry.segment_count, segment_count),
    )


def synthetic_carry(model: str, context: int, sizes: Sizes, batch_size: int, seed: int = 0):
    """A carry of ``batch_size`` environments in the state "context reached", with random
    normal(0, 0.5) float contents (made with NumPy, so no program is compiled) and
    consistent bookkeeping:

    * GRU: a random hidden state;
    * TrXL: the window of the last ``window - 1`` of ``context`` steps (``positions``
      ``context - window + 1 .. context - 1``, ``-1`` and zeros in slots not yet filled),
      ``step = context``;
    * FCT: the cache full, ``positions = 0 .. context - 1``, ``step = context``;
    * Memo/RMT: all summary and segment slots filled, counters from
      :func:`pinned_counters` (the timed step pins them again, see :func:`measure_row`).
    """
    module = build_model(model, context, sizes)
    shapes = jax.eval_shape(lambda: module.initial_carry(batch_size))
    rng = np.random.default_rng(seed)

    def fill(a):
        if a.dtype == jnp.float32:
            return 0.5 * rng.standard_normal(a.shape, dtype=np.float32)
        return np.zeros(a.shape, a.dtype)

    carry = jax.tree.map(fill, shapes)
    step = np.full((batch_size,), context, np.int32)
    if model == "trxl":
        m = sizes.trxl_window - 1
        pos = context - m + np.arange(m, dtype=np.int32)
        pos = np.broadcast_to(np.where(pos >= 0, pos, -1), (batch_size, m)).astype(np.int32)
        memory = np.where(pos[:, :, None, None] >= 0, carry.memory, np.float32(0.0))
        carry = carry._replace(memory=memory, positions=pos, step=step)
    elif model == "fct":
        pos = np.broadcast_to(np.arange(context, dtype=np.int32), (batch_size, context))
        carry = carry._replace(positions=pos, step=step)
    elif model in ("memo", "rmt"):
        n, count, _ = pinned_counters(model, context, sizes)
        carry = carry._replace(
            num_summaries=np.full((batch_size,), n, np.int32),
            segment_count=np.full((batch_size,), count, np.int32),
        )
    return jax.device_put(carry)


def random_params(model: str, sizes: Sizes, batch_size: int = 1, seed: int = 0):
    """Parameters of ``model`` with the shapes of its ``init`` (from ``jax.eval_shape``, so
    no program is compiled): normal(0, 0.02) weights (the decoder's own initialisation),
    zero biases and unit norm gains (leaves named ``*bias``, ``scale`` or ``*norm*``). Only
    the shapes matter for the timing; these values keep activations in a normal range."""
    _, params, _, _, _ = _abstract_inputs(model, _param_context(model, sizes), sizes, batch_size)
    rng = np.random.default_rng(seed)

    def fill(path, a):
        name = str(getattr(path[-1], "key", path[-1]))
        if name.endswith("bias"):
            return np.zeros(a.shape, a.dtype)
        if name == "scale" or "norm" in name:
            return np.ones(a.shape, a.dtype)
        return 0.02 * rng.standard_normal(a.shape, dtype=np.float32)

    return jax.device_put(jax.tree_util.tree_map_with_path(fill, params))


def _param_context(model: str, sizes: Sizes) -> int:
    """A small context with the same parameters (they do not depend on ``max_context``)."""
    return sizes.segment_length if model in ("memo", "rmt") else 1


def measure_row(
    model: str,
    context: int,
    sizes: Sizes,
    num_envs: int = 1,
    repeats: int = 20,
    warmup: int = 3,
    seed: int = 0,
) -> dict:
    """Compile and time ``jit(module.apply(params, carry, x, reset, method="step"))`` on
    ``num_envs`` environments from :func:`synthetic_carry`, the carry donated and fed back
    from call to call (as in a rollout). Memo/RMT counters are pinned inside the jitted
    function (:func:`pinned_counters`), so every call is an ordinary step, or, timed
    separately with the same program, a step that closes a segment.

    Returns:
        ``compile_s`` (seconds to lower and compile), ``step_ms`` (milliseconds per call,
        mean of ``repeats`` after ``warmup``), ``summary_ms`` (Memo/RMT: per segment-closing
        call; else None), ``steps_per_s`` (``num_envs`` environment steps per call; Memo/RMT
        amortised: ``(segment_length - 1)`` ordinary calls and one closing call per
        segment, i.e. all environments in phase; out of phase, the closing branch, which
        runs for the whole batch, is taken whenever any environment closes a segment),
        ``program_bytes`` (XLA's arguments + outputs + temporaries - aliases of the compiled
        step, or None) and ``peak_bytes`` (the device's peak so far, GPUs only, else None).
    """
    # Imported here: the trainer pulls in the environments, which --no-measure never needs.
    from engram.run import peak_device_memory, program_bytes

    module = build_model(model, context, sizes)
    params = random_params(model, sizes, num_envs, seed)
    carry = synthetic_carry(model, context, sizes, num_envs, seed + 1)
    rng = np.random.default_rng(seed + 2)
    x = jax.device_put(rng.standard_normal((num_envs, sizes.features), dtype=np.float32))
    reset = jax.device_put(np.zeros((num_envs,), bool))
    n, ordinary, closing = (np.int32(v) for v in pinned_counters(model, context, sizes))

    def step(p, c, x, r, num_summaries, segment_count):
        c = _pin(model, c, num_summaries, segment_count)
        return module.apply(p, c, x, r, method="step")

    start = time.perf_counter()
    compiled = jax.jit(step, donate_argnums=1).lower(params, carry, x, reset, n, ordinary)
    compiled = compiled.compile()
    compile_s = time.perf_counter() - start

    def timed(carry, count):
        for _ in range(warmup):
            carry, y = compiled(params, carry, x, reset, n, count)
        jax.block_until_ready((carry, y))
        start = time.perf_counter()
        for _ in range(repeats):
            carry, y = compiled(params, carry, x, reset, n, count)
        jax.block_until_ready((carry, y))
        seconds = (time.perf_counter() - start) / repeats
        if not np.isfinite(np.asarray(y)).all():
            raise RuntimeError(f"memory_footprint: {model} step output is not finite")
        return carry, seconds

    carry, step_s = timed(carry, ordinary)
    summary_s = None
    per_step = step_s
    if model in ("memo", "rmt"):
        carry, summary_s = timed(carry, closing)
        seg = sizes.segment_length
        per_step = ((seg - 1) * step_s + summary_s) / seg
    del carry
    program = program_bytes(compiled)
    return {
        "compile_s": compile_s,
        "step_ms": 1e3 * step_s,
        "summary_ms": None if summary_s is None else 1e3 * summary_s,
        "steps_per_s": num_envs / per_step,
        "program_bytes": program,
        "peak_bytes": peak_device_memory(),
    }


# ----------------------------------------------------------------------------------------
# Output.


def format_bytes(n: float | None) -> str:
    """``n`` bytes in binary units (``"2.0 KiB"``, ``"256.0 MiB"``); ``"n/a"`` for None."""
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _cell(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_table(rows: Sequence[dict], measured: bool) -> str:
    """A Markdown table of :func:`analytic_row` rows (merged with :func:`measure_row`'s
    figures when ``measured``)."""
    head = ["model", "context", "carry/env", "attended", "ideal MFLOP", "impl MFLOP"]
    if measured:
        head += ["compile s", "step ms", "summary ms", "steps/s", "program", "peak"]
    body = []
    for r in rows:
        cells = [
            r["model"],
            f"{r['context']:,}",
            format_bytes(r["carry_bytes"]),
            f"{r['attended']:,}" if r["attended"] else "-",
            f"{r['flops'] / 1e6:,.2f}",
            f"{r['impl_flops'] / 1e6:,.2f}",
        ]
        if measured:
            cells += [
                f"{r['compile_s']:.1f}",
                f"{r['step_ms']:.3f}",
                _cell(r["summary_ms"], ".3f"),
                f"{r['steps_per_s']:,.0f}",
                format_bytes(r["program_bytes"]),
                format_bytes(r["peak_bytes"]),
            ]
        body.append(cells)
    widths = [max(len(c) for c in col) for col in zip(head, *body, strict=True)]

    def line(cells):
        padded = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule] + [line(c) for c in body])


def memo_vs_fct(context: int, sizes: Sizes) -> str:
    """The closing line: attended tokens, carry bytes and ideal FLOPs of FCT over Memo at
    ``context`` steps (computed whether or not the table has these rows; a note instead when
    Memo cannot be built at ``context``)."""
    try:
        check_sizes("memo", context, sizes)
        check_sizes("fct", context, sizes)
    except ValueError as e:
        return f"Memo vs FCT at {context:,} steps: not computed ({e})"
    fct, memo = attended("fct", context, sizes), attended("memo", context, sizes)
    carry = carry_bytes("fct", context, sizes) / carry_bytes("memo", context, sizes)
    flops = flops_per_step("fct", context, sizes) / flops_per_step("memo", context, sizes)
    return (
        f"Memo vs FCT at {context:,} steps: Memo attends to {memo:,} tokens per layer, FCT to "
        f"{fct:,}: {fct / memo:.2f}x fewer (the paper: about 8x fewer tokens in context at "
        f"32k steps); carry {carry:.2f}x smaller, ideal FLOPs per step {flops:.2f}x fewer."
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument(
        "--contexts", nargs="+", type=int, default=list(DEFAULT_CONTEXTS), help="steps"
    )
    parser.add_argument("--num-envs", type=int, default=1, help="environments per step call")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per row")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before them")
    parser.add_argument(
        "--no-measure", action="store_true", help="only the analytic columns (no compiling)"
    )
    defaults = Sizes()
    for f in fields(Sizes):
        parser.add_argument(
            "--" + f.name.replace("_", "-"), type=int, default=getattr(defaults, f.name)
        )
    return parser


def main(argv: Sequence[str] | None = None) -> list[dict]:
    """Run the benchmark with command-line ``argv`` (default ``sys.argv[1:]``), print the
    table and the Memo-vs-FCT line; returns the rows."""
    parser = _parser()
    args = parser.parse_args(argv)
    sizes = Sizes(**{f.name: getattr(args, f.name) for f in fields(Sizes)})
    for name in ("num_envs", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    try:
        for context in args.contexts:
            for model in args.models:
                check_sizes(model, context, sizes)
    except ValueError as e:
        parser.error(str(e))

    device = jax.devices()[0]
    measured = not args.no_measure
    print(f"device: {device.platform.upper()} ({device.device_kind}), jax {jax.__version__}")
    print(
        f"input {sizes.features} floats/step; GRU {sizes.gru_hidden}; TrXL "
        f"{sizes.trxl_layers} x {sizes.trxl_dim}, {sizes.trxl_heads} heads, window "
        f"{sizes.trxl_window}; FCT/Memo/RMT {sizes.num_layers} layers x {sizes.width}, "
        f"{sizes.num_heads} heads, MLP {sizes.mlp_hidden}, segment {sizes.segment_length}, "
        f"{sizes.summary_length} summary tokens; max_context = context"
    )
    print(
        "carry/env: cached state per environment (float32); attended: keys per layer at the "
        "last step; ideal MFLOP: matrix products per step and environment over attended keys "
        "only (Memo/RMT: summary passes amortised per segment); impl MFLOP: what the "
        "fixed-shape JAX step computes (all cache slots, masked ones too)"
    )
    if measured:
        print(
            f"measured: jit(step) on {args.num_envs} env(s), carry donated, {args.warmup} "
            f"warm-up + {args.repeats} timed calls; summary ms: Memo/RMT's segment-closing "
            "call; steps/s: environment steps per second (Memo/RMT amortised per segment, all envs "
            "in phase); "
            "program: XLA buffers of the compiled step; peak: device peak so far (GPU only, "
            "cumulative over rows)"
        )
    rows = []
    cache: dict = {}
    for context in args.contexts:
        for model in args.models:
            print(f"[memory_footprint] {model} @ {context:,} steps ...", file=sys.stderr)
            start = time.perf_counter()
            row = analytic_row(model, context, sizes)
            if measured:
                # GRU and TrXL run the same program at every context: measure it once.
                key = (model, None if model in ("gru", "trxl") else context)
                if key not in cache:
                    cache[key] = measure_row(
                        model, context, sizes, args.num_envs, args.repeats, args.warmup
                    )
                row.update(cache[key])
            rows.append(row)
            print(
                f"[memory_footprint] {model} @ {context:,} steps done in "
                f"{time.perf_counter() - start:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    print(format_table(rows, measured))
    print(memo_vs_fct(max(args.contexts), sizes))
    return rows


if __name__ == "__main__":
    main()
