"""Memo and RMT, the summary-token memories of the Memo paper (Gupta et al., "Training
Memory-Efficient Embodied Agents with Reinforcement Learning", NeurIPS 2025, arXiv
2510.19732): Memo (periodic summary tokens, accumulated) and RMT (Memo keeping only the
newest summaries), on the LLaMA-style decoder of :mod:`engram.models.decoder` (defaults: 4
layers, 8 heads, width 256, MLP 1024). The paper's full-context baseline is
:mod:`engram.models.fct`.

Every model follows the memory-model protocol of :mod:`engram.models.memory`:

* ``initial_carry(batch_size)`` -> the empty memory (also :func:`memo_initial_carry`, which
  needs no module);
* ``step(carry, x, reset) -> (carry, y)`` with ``x`` ``(B, F)``, ``reset`` bool ``(B,)``
  (clears the memory *before* ``x`` is read) and ``y`` float32 ``(B, width)``;
* ``sequence(carry, xs, resets) -> (carry, ys)`` with time-major ``xs`` ``(T, B, F)``,
  ``resets`` ``(T, B)`` and ``ys`` ``(T, B, width)``, equal to ``T`` calls of ``step``.

The input ``x`` is projected to the width by a dense layer with bias (the Memo code's
``feats_proj``); ``y`` is the final-RMSNormed last-layer output (the caller's dense layers and
heads come after). A reset marks a trial start: nothing from before it is ever attended. All
carries have fixed shapes (``jit``/``vmap``/``lax.scan`` work on them) and hold per layer
keys (already rotated at their positions) and values, ``L = num_layers``, ``W = width``.

Memo (:class:`MemoMemory`, ``accumulate=True``)
    Observations are grouped into segments of ``segment_length`` steps. A step attends to the
    key/value cache of all summary tokens made so far in the memory episode and to the earlier
    steps of its own segment (and itself); never to raw steps of an already summarised
    segment. At the last step of a segment (after that step's own output is computed):

    1. ``summary_length`` learned summary query embeddings (normal(0, 0.02) init, the same
       for every segment) run through the stack, attending to all summary keys/values, the
       whole segment and, causally, each other; their final-RMSNormed outputs are the new
       summary vectors;
    2. these vectors are fed back as input embeddings and *re-encoded* through all layers,
       attending only to the earlier summaries' keys/values and causally to each other; the
       keys/values of this pass are appended to the summary cache (the Memo paper: the
       ablation that caches the query pass's keys/values instead "performs poorly");
    3. the segment cache is emptied.

    The attended context is thus at most ``n * summary_length + segment_length`` tokens after
    ``n`` segments (:func:`attended_tokens`). Positions (RoPE) follow the paper's rollout code
    (§2.3-2.4, §8 item 3, "RoPE over [summaries, segment]"): with ``n`` summary sets made,
    summary set ``k`` holds positions ``k * summary_length + j``, the ``i``-th step of the
    current segment has position ``n * summary_length + i`` and the summary queries the
    positions following the segment's last step. This equals the paper's training forward,
    which prefixes all summary vectors to each segment with positions ``0, 1, ...``.
    The summary cache holds ``max_context // segment_length`` sets (enough for a trial of
    ``max_context`` steps); if more are made, the oldest set is dropped (FIFO) and positions
    keep counting (not re-indexed), i.e. the paper's streaming Memo (§6: 24 sets + the
    segment) with a window of ``max_context // segment_length`` sets.

RMT (:class:`MemoMemory`, ``accumulate=False``)
    The same, but only the newest summary set is kept: it is re-encoded at positions
    ``0 .. summary_length - 1`` with no earlier context and the segment follows at
    ``summary_length + i`` (the paper's RMT baseline, §2.6, which prefixes only the newest
    summaries).

Memo/RMT carry (:class:`MemoCarry`): ``summary_keys``, ``summary_values`` float32
``(B, L, S * summary_length, W)`` with ``S`` summary sets (``S = 1`` for RMT), ``segment_keys``,
``segment_values`` float32 ``(B, L, C, W)`` with ``C = segment_length`` (more with
``segment_jitter``), ``num_summaries`` int32 ``(B,)`` (sets made in the memory episode,
dropped ones included) and ``segment_count`` int32 ``(B,)`` (steps in the current segment).
Cache slots past these counts hold stale values that are masked out (never attended).

How ``sequence`` is computed for Memo/RMT: a ``lax.cond`` at run time between two exact
forms of the same function.

* Parallel (``_memo_segments``), taken when the chunk is aligned (:func:`segments_aligned`:
  every environment starts a segment at step 0, i.e. resets there or has ``segment_count ==
  0``, and none resets at a later step; PPO's learning pass when a rollout is one trial) and
  the segment length is static (no ``segment_jitter`` draw): a ``lax.scan`` over segments,
  each one causal pass of all its steps over the summary cache so far, then its summary
  passes; the partial last segment (``T`` not a multiple of the length) gets no summary.
  Per segment: one pass of ``segment_length`` queries instead of that many single-token
  passes.
* Otherwise a ``lax.scan`` of the single-step function (``_memo_scan``; the summary passes
  under a ``lax.cond`` taken when any environment ends a segment): it handles segment
  boundaries and resets at any step of every environment. Each step is rematerialised
  (``jax.checkpoint``), and so are blocks of about ``sqrt(T)`` steps: the backward pass
  keeps about ``2 sqrt(T)`` copies of the cache (one per block, one per step of the block
  being differentiated), not ``T``. The whole scan is rematerialised too: a ``cond``'s
  gradient keeps the residuals of both branches, so the scan keeps only its inputs and
  reruns its forward pass when taken.

Both let gradients flow through every summary of the chunk (the paper's full
backpropagation through summaries) and give the same outputs, carry (stale slots included)
and gradients up to float rounding (``tests/models/test_memo_parallel.py``); the ``cond``
compiles both. Under ``vmap`` with a batched condition (e.g. over seeds) a ``cond`` runs
both branches. With a ``"segments"`` RNG draw, ``sequence`` is the scan only.

Segment-length randomisation (``segment_jitter``, paper §2.3: ``0.2``, i.e. uniform in
``[205, 307]`` for 256): when ``segment_jitter > 0`` and ``sequence`` is applied with a
``"segments"`` RNG (``model.apply(..., rngs={"segments": key})``), one segment length is
drawn uniformly from the integers in ``[ceil(l (1 - j)), floor(l (1 + j))]`` for the whole
call, as in the paper's learning forward; ``step``, and ``sequence`` without that RNG, use
``segment_length`` (the paper's rollouts and KV refresh do). The segment cache then holds
``floor(l (1 + j))`` steps and the summary cache ``max_context // ceil(l (1 - j))`` sets.
A carry made with one length and continued with another summarises as soon as its segment
reaches the length in use. The default is ``0`` (off), so the default sizes are the paper's.

Streaming: the cache sizes are the streaming windows (FCT: ``max_context`` steps; Memo:
``max_context // segment_length`` summary sets), and the parameters do not depend on
``max_context``, so an evaluation model with another window runs the learned parameters
(``engram eval --stream-window``, :meth:`engram.policy.Policy.for_evaluation`). Left out:
the paper's stochastic depth (see :mod:`engram.models.decoder`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from engram.models.decoder import (
    DecoderMemorySettings,
    DecoderSpec,
    causal_mask,
    check_decoder_config,
    decoder_resolved,
    decoder_stack,
    init_decoder_params,
    validate_decoder_fields,
)
from engram.models.memory import MemoryModule, MemorySpec, register_memory

# ----------------------------------------------------------------------------------------
# Carries, configuration checks, sizes.


class MemoCarry(NamedTuple):
    """The memory of :class:`MemoMemory` (``S`` summary sets, segment capacity ``C``).

    Attributes:
        summary_keys: float32 ``(B, L, S * summary_length, W)``, rotated keys of the
            re-encoded summary tokens; set ``k`` is in slots ``(k % S) * summary_length ..``
            (RMT: ``S = 1``, the newest set).
        summary_values: float32, same shape, their values.
        segment_keys: float32 ``(B, L, C, W)``, keys of the current segment's steps in order.
        segment_values: float32, same shape, their values.
        num_summaries: int32 ``(B,)``, summary sets made since the last reset.
        segment_count: int32 ``(B,)``, steps in the current segment.
    """

    summary_keys: jax.Array
    summary_values: jax.Array
    segment_keys: jax.Array
    segment_values: jax.Array
    num_summaries: jax.Array
    segment_count: jax.Array


def segment_length_range(segment_length: int, segment_jitter: float = 0.0) -> tuple[int, int]:
    """Shortest and longest segment length with randomisation ``segment_jitter``:
    ``(ceil(l (1 - j)), floor(l (1 + j)))``; ``(l, l)`` without it. The paper's ``l = 256``,
    ``j = 0.2`` gives ``(205, 307)``."""
    lo = math.ceil(segment_length * (1.0 - segment_jitter) - 1e-9)
    hi = math.floor(segment_length * (1.0 + segment_jitter) + 1e-9)
    return lo, hi


def memo_cache_sizes(
    segment_length: int,
    summary_length: int,
    max_context: int,
    accumulate: bool = True,
    segment_jitter: float = 0.0,
) -> tuple[int, int]:
    """``(S, C)``: summary sets kept (``max_context // shortest segment``; 1 for RMT) and the
    segment cache's capacity in steps (the longest segment)."""
    lo, hi = segment_length_range(segment_length, segment_jitter)
    return (max_context // lo if accumulate else 1), hi


def check_memo_config(
    num_layers: int,
    width: int,
    num_heads: int,
    mlp_hidden: int,
    segment_length: int,
    summary_length: int,
    max_context: int,
    segment_jitter: float = 0.0,
    activation: str = "silu",
):
    """Raise ``ValueError`` naming the field for a Memo/RMT configuration that cannot run or
    would not compress: the decoder's checks, a non-positive ``segment_length``,
    ``summary_length`` or ``max_context``, ``summary_length >= segment_length``,
    ``segment_jitter`` outside ``[0, 1)``, or a (longest) segment longer than ``max_context``.
    """
    check_decoder_config(num_layers, width, num_heads, mlp_hidden, activation)
    for name, value in (
        ("segment_length", segment_length),
        ("summary_length", summary_length),
        ("max_context", max_context),
    ):
        if value < 1:
            raise ValueError(f"memo: {name} must be >= 1, got {value}")
    if summary_length >= segment_length:
        raise ValueError(
            f"memo: summary_length={summary_length} must be < segment_length="
            f"{segment_length} (summaries must compress a segment)"
        )
    if not 0.0 <= segment_jitter < 1.0:
        raise ValueError(f"memo: segment_jitter must be in [0, 1), got {segment_jitter}")
    longest = segment_length_range(segment_length, segment_jitter)[1]
    if longest > max_context:
        raise ValueError(
            f"memo: max_context={max_context} is shorter than a segment (segment_length="
            f"{segment_length}, longest with segment_jitter={segment_jitter}: {longest})"
        )


def memo_initial_carry(
    batch_size: int,
    num_layers: int,
    width: int,
    segment_length: int,
    summary_length: int,
    max_context: int,
    accumulate: bool = True,
    segment_jitter: float = 0.0,
) -> MemoCarry:
    """The empty memory without building the module, equal to
    ``MemoMemory(...).initial_carry(batch_size)`` with the same fields."""
    sets, capacity = memo_cache_sizes(
        segment_length, summary_length, max_context, accumulate, segment_jitter
    )
    summary = (batch_size, num_layers, sets * summary_length, width)
    segment = (batch_size, num_layers, capacity, width)
    # Separate buffers for every field: a carry may be donated to a jitted step.
    return MemoCarry(
        summary_keys=jnp.zeros(summary, jnp.float32),
        summary_values=jnp.zeros(summary, jnp.float32),
        segment_keys=jnp.zeros(segment, jnp.float32),
        segment_values=jnp.zeros(segment, jnp.float32),
        num_summaries=jnp.zeros((batch_size,), jnp.int32),
        segment_count=jnp.zeros((batch_size,), jnp.int32),
    )


def memo_carry_bytes(
    num_layers: int,
    width: int,
    segment_length: int,
    summary_length: int,
    max_context: int,
    accumulate: bool = True,
    segment_jitter: float = 0.0,
) -> int:
    """Bytes of the Memo/RMT carry per environment: keys and values of ``S * summary_length``
    summary tokens and ``C`` segment steps in every layer (``S, C`` from
    :func:`memo_cache_sizes`), float32, plus two int32 counters."""
    sets, capacity = memo_cache_sizes(
        segment_length, summary_length, max_context, accumulate, segment_jitter
    )
    return 4 * (2 * num_layers * (sets * summary_length + capacity) * width + 2)


def attended_tokens(
    model: str,
    steps,
    max_context: int,
    segment_length: int = 256,
    summary_length: int = 32,
):
    """Keys each layer attends to at step number ``steps`` of a memory episode (1-based:
    ``steps`` steps so far, the current one included; an int or an integer array).

    * ``"fct"``: ``min(steps, max_context)``;
    * ``"memo"``: ``min(n, S) * summary_length + i`` with ``n = (steps - 1) //
      segment_length`` finished segments, ``i = steps - n * segment_length`` steps of the
      current segment and ``S = max_context // segment_length`` kept summary sets;
    * ``"rmt"``: ``min(n, 1) * summary_length + i``.

    For fixed segments (no ``segment_jitter``). The paper's defaults at 32,000 steps (trial
    length ``max_context = 32768``): FCT 32,000, Memo ``124 * 32 + 256 = 4224``, about 7.6x
    fewer (the paper's "8x fewer tokens in context").

    Raises:
        ValueError: for an unknown ``model``.
    """
    steps = np.asarray(steps)
    if model == "fct":
        return np.minimum(steps, max_context)
    n = (steps - 1) // segment_length
    i = steps - n * segment_length
    if model == "memo":
        return np.minimum(n, max_context // segment_length) * summary_length + i
    if model == "rmt":
        return np.minimum(n, 1) * summary_length + i
    raise ValueError(f"attended_tokens: model must be 'fct', 'memo' or 'rmt', got {model!r}")


# ----------------------------------------------------------------------------------------
# Memo and RMT.


@dataclass(frozen=True)
class _MemoLayout:
    """Static sizes of the Memo caches: ``sets`` (``S``), ``capacity`` (``C``)."""

    summary_length: int
    sets: int
    capacity: int
    accumulate: bool


def _write(cache: jax.Array, new: jax.Array, start: jax.Array) -> jax.Array:
    """Per environment, write ``new`` ``(B, L, Q, W)`` into ``cache`` ``(B, L, K, W)`` at
    token slots ``start .. start + Q - 1`` (``start`` int ``(B,)``)."""

    def one(c, n, s):
        return jax.lax.dynamic_update_slice(c, n, (0, s, 0))

    return jax.vmap(one)(cache, new, start)


def _summary_valid(lay: _MemoLayout, num_summaries: jax.Array) -> jax.Array:
    """Bool ``(B, S * summary_length)``: the summary slots holding a kept set."""
    slot_set = jnp.arange(lay.sets * lay.summary_length) // lay.summary_length
    return slot_set[None, :] < jnp.minimum(num_summaries, lay.sets)[:, None]


def _segment_base(lay: _MemoLayout, num_summaries: jax.Array) -> jax.Array:
    """Position of the first step of the current segment: the summary tokens before it."""
    if lay.accumulate:
        return num_summaries * lay.summary_length
    return jnp.minimum(num_summaries, 1) * lay.summary_length


def _summarize(
    params, queries, spec: DecoderSpec, lay: _MemoLayout, carry: MemoCarry, due: jax.Array | None
):
    """Make a summary set for the environments with ``due`` (bool ``(B,)``), whose segment
    cache holds a whole segment: summary queries -> summary vectors -> re-encoded keys/values
    appended to the summary cache; their segment is emptied. Other environments keep their
    carry. ``due=None``: every environment is due (no selection)."""
    ls = lay.summary_length
    b = carry.num_summaries.shape[0]
    n, count = carry.num_summaries, carry.segment_count
    summary_valid = _summary_valid(lay, n)
    segment_valid = jnp.arange(lay.capacity)[None, :] < count[:, None]
    causal = causal_mask(ls)
    offsets = jnp.arange(ls, dtype=jnp.int32)

    # 1. Summary queries after the segment's last step.
    q_pos = (_segment_base(lay, n) + count)[:, None] + offsets
    summaries, _, _ = decoder_stack(
        params,
        spec,
        jnp.broadcast_to(queries, (b,) + queries.shape),
        q_pos,
        [
            (carry.summary_keys, carry.summary_values, summary_valid[:, None]),
            (carry.segment_keys, carry.segment_values, segment_valid[:, None]),
        ],
        causal,
    )
    # 2. Re-encode the summary vectors as inputs, seeing only earlier summaries.
    if lay.accumulate:
        r_pos = (n * ls)[:, None] + offsets
        context = [(carry.summary_keys, carry.summary_values, summary_valid[:, None])]
        slot = (n % lay.sets) * ls
    else:
        r_pos = jnp.broadcast_to(offsets, (b, ls))
        context = []
        slot = jnp.zeros_like(n)
    _, keys, values = decoder_stack(params, spec, summaries, r_pos, context, causal)
    done = MemoCarry(
        summary_keys=_write(carry.summary_keys, keys, slot),
        summary_values=_write(carry.summary_values, values, slot),
        segment_keys=carry.segment_keys,
        segment_values=carry.segment_values,
        num_summaries=n + 1,
        segment_count=jnp.zeros_like(count),
    )
    if due is None:
        return done

    def pick(a, c):
        return jnp.where(due.reshape((-1,) + (1,) * (a.ndim - 1)), a, c)

    return jax.tree.map(pick, done, carry)


def _memo_step(params, queries, spec, lay, seg_len, carry: MemoCarry, embedded, reset):
    """One step of Memo/RMT on embedded inputs ``(B, W)``; ``seg_len`` the segment length in
    use (int scalar, may be traced). Returns ``(carry, y (B, W))``."""
    n = jnp.where(reset, 0, carry.num_summaries)
    count = jnp.where(reset, 0, carry.segment_count)
    summary_valid = _summary_valid(lay, n)
    segment_valid = jnp.arange(lay.capacity)[None, :] < count[:, None]
    out, keys, values = decoder_stack(
        params,
        spec,
        embedded[:, None],
        (_segment_base(lay, n) + count)[:, None],
        [
            (carry.summary_keys, carry.summary_values, summary_valid[:, None]),
            (carry.segment_keys, carry.segment_values, segment_valid[:, None]),
        ],
        jnp.ones((1, 1, 1), bool),
    )
    carry = MemoCarry(
        summary_keys=carry.summary_keys,
        summary_values=carry.summary_values,
        segment_keys=_write(carry.segment_keys, keys, count),
        segment_values=_write(carry.segment_values, values, count),
        num_summaries=n,
        segment_count=count + 1,
    )
    due = carry.segment_count >= seg_len
    summarize = functools.partial(_summarize, params, queries, spec, lay)
    carry = jax.lax.cond(jnp.any(due), summarize, lambda c, _: c, carry, due)
    return carry, out[:, 0]


def _memo_scan(params, queries, spec, lay, seg_len, carry, embedded, resets):
    """``sequence`` as a ``lax.scan`` of :func:`_memo_step` over embedded inputs ``(T, B, W)``
    and resets bool ``(T, B)``: exact for any resets and segment phases."""
    one = functools.partial(_memo_step, params, queries, spec, lay, seg_len)
    # Rematerialised: the backward pass recomputes each step from its carry instead of
    # keeping every step's attention intermediates. Measured on a 1 x 64 decoder, 128
    # steps x 8 environments: gradients 2.3x faster and 5x less temporary memory (the
    # saved intermediates cost more memory traffic than the recomputation).
    body = jax.checkpoint(lambda c, inp: one(c, *inp))

    def steps(c, inputs):
        return jax.lax.scan(body, c, inputs)

    # Blocks of about sqrt(T) steps, each rematerialised too: the backward pass keeps one
    # carry per block plus, while it runs one block, one per step of that block, instead of
    # T carries (the paper's network, 4k steps: 128 cache copies instead of 4096).
    t_len = embedded.shape[0]
    size = max(1, math.isqrt(t_len))
    blocks, rest = divmod(t_len, size)
    if blocks <= 1:
        return steps(carry, (embedded, resets))
    head = jax.tree.map(
        lambda a: a[: blocks * size].reshape((blocks, size) + a.shape[1:]), (embedded, resets)
    )
    carry, ys = jax.lax.scan(jax.checkpoint(steps), carry, head)
    ys = ys.reshape((blocks * size,) + ys.shape[2:])
    if rest:
        carry, tail = steps(carry, (embedded[blocks * size :], resets[blocks * size :]))
        ys = jnp.concatenate([ys, tail], axis=0)
    return carry, ys


def _memo_segments(params, queries, spec, lay, seg_len: int, carry, embedded, resets):
    """``sequence`` a segment at a time, for chunks where every environment starts a segment
    at step 0 (after the reset at step 0, if any) and none resets later, with a static
    ``seg_len``: all steps of a segment in one causal pass over the summary cache, then its
    summary pass (:func:`_summarize`); a scan over the full segments, then the partial last
    one (no summary). Same inputs and result as :func:`_memo_scan` under these conditions
    (which this function does not check)."""
    n = jnp.where(resets[0], 0, carry.num_summaries)
    carry = carry._replace(num_summaries=n, segment_count=jnp.zeros_like(n))
    t_len, b, w = embedded.shape
    h = jnp.swapaxes(embedded, 0, 1)  # (B, T, W)

    def segment(carry: MemoCarry, block):  # block (B, l, W), the segment cache empty
        steps = block.shape[1]
        n = carry.num_summaries
        # The segment cache is empty, so it is left out of the context: step i of the
        # segment sees the kept summaries and steps 0..i, as in _memo_step.
        out, keys, values = decoder_stack(
            params,
            spec,
            block,
            _segment_base(lay, n)[:, None] + jnp.arange(steps, dtype=jnp.int32),
            [(carry.summary_keys, carry.summary_values, _summary_valid(lay, n)[:, None])],
            causal_mask(steps),
        )
        carry = carry._replace(
            segment_keys=carry.segment_keys.at[:, :, :steps].set(keys),
            segment_values=carry.segment_values.at[:, :, :steps].set(values),
            segment_count=jnp.full_like(n, steps),
        )
        return carry, out

    def full_segment(carry: MemoCarry, block):
        carry, out = segment(carry, block)
        return _summarize(params, queries, spec, lay, carry, None), out

    full, rest = divmod(t_len, seg_len)
    outs = []
    if full:
        blocks = h[:, : full * seg_len].reshape(b, full, seg_len, w).swapaxes(0, 1)
        carry, ys = jax.lax.scan(full_segment, carry, blocks)  # ys (full, B, seg_len, W)
        outs.append(ys.swapaxes(0, 1).reshape(b, full * seg_len, w))
    if rest:
        carry, y = segment(carry, h[:, full * seg_len :])
        outs.append(y)
    return carry, jnp.swapaxes(jnp.concatenate(outs, axis=1), 0, 1)


def segments_aligned(carry: MemoCarry, resets) -> jax.Array:
    """Bool scalar: whether :class:`MemoMemory` ``sequence`` takes its parallel path for this
    ``carry`` and ``resets`` bool ``(T, B)`` (with a static segment length): every
    environment starts a segment at step 0 (reset at step 0 or ``segment_count == 0``) and
    none resets at a later step."""
    resets = jnp.asarray(resets, bool)
    start = jnp.where(resets[0], 0, carry.segment_count)
    return jnp.all(start == 0) & ~jnp.any(resets[1:])


def _memo_sequence(params, queries, spec, lay, seg_len: int, carry, embedded, resets):
    """``sequence`` with a static segment length: :func:`_memo_segments` when the chunk is
    aligned (:func:`segments_aligned`), else :func:`_memo_scan`, chosen at run time."""
    if embedded.shape[0] == 0:
        return _memo_scan(params, queries, spec, lay, jnp.int32(seg_len), carry, embedded, resets)
    parallel = functools.partial(_memo_segments, params, queries, spec, lay, seg_len)
    # The scan branch is rematerialised as a whole: a cond's gradient keeps the residuals of
    # both branches (the untaken one's as empty buffers), and the scan's are T copies of
    # the carry; so it keeps only its inputs and reruns its forward pass when it is taken.
    scan = jax.checkpoint(
        functools.partial(_memo_scan, params, queries, spec, lay, jnp.int32(seg_len))
    )
    return jax.lax.cond(segments_aligned(carry, resets), parallel, scan, carry, embedded, resets)


class MemoMemory(MemoryModule):
    """Memo (``accumulate=True``) or RMT (``accumulate=False``): a transformer that attends to
    summary tokens of earlier segments plus its current segment; details in the module
    docstring.

    Shapes: ``step`` maps ``x`` ``(B, F)`` and ``reset`` bool ``(B,)`` to ``y`` float32
    ``(B, width)``; ``sequence`` maps ``xs`` ``(T, B, F)``, ``resets`` ``(T, B)`` to ``ys``
    ``(T, B, width)``, equal to ``T`` calls of ``step`` (a segment at a time on aligned
    chunks; see the module docstring). Carry: :class:`MemoCarry`.

    Attributes:
        num_layers, width, num_heads, mlp_hidden, activation: the decoder
            (:class:`engram.models.decoder.DecoderSpec`; Memo paper: 4, 256, 8, 1024).
        segment_length: steps per segment (Memo paper, ExtObjNav: 256).
        summary_length: summary tokens per segment (Memo paper: 32; compression 8x).
        max_context: steps of a memory episode the summary cache covers without dropping a
            set: it keeps ``max_context // segment_length`` sets (Memo paper: 4096 in
            training, 32k in evaluation).
        accumulate: keep all summary sets (Memo) or only the newest (RMT).
        segment_jitter: segment-length randomisation in ``sequence`` with a ``"segments"``
            RNG (paper: 0.2; default 0, off).

    Raises:
        ValueError: in ``setup``, naming the field (:func:`check_memo_config`).
    """

    num_layers: int = 4
    width: int = 256
    num_heads: int = 8
    mlp_hidden: int = 1024
    segment_length: int = 256
    summary_length: int = 32
    max_context: int = 4096
    accumulate: bool = True
    segment_jitter: float = 0.0
    activation: str = "silu"

    def setup(self):
        check_memo_config(
            self.num_layers,
            self.width,
            self.num_heads,
            self.mlp_hidden,
            self.segment_length,
            self.summary_length,
            self.max_context,
            self.segment_jitter,
            self.activation,
        )
        self.spec = DecoderSpec(
            self.num_layers, self.width, self.num_heads, self.mlp_hidden, self.activation
        )
        sets, capacity = memo_cache_sizes(
            self.segment_length,
            self.summary_length,
            self.max_context,
            self.accumulate,
            self.segment_jitter,
        )
        self.layout = _MemoLayout(self.summary_length, sets, capacity, self.accumulate)
        self.embed = nn.Dense(self.width, name="embed")
        self.decoder = self.param("decoder", init_decoder_params, self.spec)
        self.summary_queries = self.param(
            "summary_queries", nn.initializers.normal(0.02), (self.summary_length, self.width)
        )

    def initial_carry(self, batch_size: int) -> MemoCarry:
        return memo_initial_carry(
            batch_size,
            self.num_layers,
            self.width,
            self.segment_length,
            self.summary_length,
            self.max_context,
            self.accumulate,
            self.segment_jitter,
        )

    def sequence(self, carry: MemoCarry, xs, resets):
        embedded = self.embed(jnp.asarray(xs, jnp.float32))  # (T, B, W) in one product
        resets = jnp.asarray(resets, bool)
        args = (self.decoder, self.summary_queries, self.spec, self.layout)
        if self.segment_jitter > 0 and self.has_rng("segments"):
            lo, hi = segment_length_range(self.segment_length, self.segment_jitter)
            seg_len = jax.random.randint(self.make_rng("segments"), (), lo, hi + 1, jnp.int32)
            return _memo_scan(*args, seg_len, carry, embedded, resets)
        return _memo_sequence(*args, self.segment_length, carry, embedded, resets)

    def step(self, carry: MemoCarry, x, reset):
        embedded = self.embed(jnp.asarray(x, jnp.float32))
        seg_len = jnp.int32(self.segment_length)
        return _memo_step(
            self.decoder,
            self.summary_queries,
            self.spec,
            self.layout,
            seg_len,
            carry,
            embedded,
            jnp.asarray(reset, bool),
        )


def _validate_config(c) -> None:
    """Memo/RMT fields of a ``TrainConfig``: the decoder's, summaries shorter than a
    segment, ``segment_jitter`` in ``[0, 1)``, and the longest segment within the context.

    Raises:
        ValueError: naming the field.
    """
    validate_decoder_fields(c)
    d = c.decoder_settings()
    if d.summary_length >= d.segment_length:
        raise ValueError(
            f"summary_length: got {d.summary_length}, must be shorter than "
            f"segment_length ({d.segment_length}): summaries compress a segment"
        )
    if not 0.0 <= c.segment_jitter < 1.0:
        raise ValueError(f"segment_jitter: got {c.segment_jitter}, must be in [0, 1)")
    longest = segment_length_range(d.segment_length, d.segment_jitter)[1]
    if longest > d.max_context:
        what = "trial" if c.max_context is None else "max_context"
        raise ValueError(
            f"segment_length: got {d.segment_length} (up to {longest} steps with "
            f"segment_jitter {c.segment_jitter}), longer than the {what} "
            f"({d.max_context} steps)"
        )


def _memo_spec(name: str, accumulate: bool, summary: str) -> MemorySpec:
    return MemorySpec(
        name=name,
        summary=summary,
        settings=lambda c: c.decoder_settings(),
        paper="memo",
        module=lambda d: MemoMemory(**d.memo_fields(), accumulate=accumulate),
        initial_carry=lambda d, n: memo_initial_carry(
            n,
            d.num_layers,
            d.width,
            d.segment_length,
            d.summary_length,
            d.max_context,
            accumulate=accumulate,
            segment_jitter=d.segment_jitter,
        ),
        token_cache=True,
        segments=True,
        validate=_validate_config,
        resolved=decoder_resolved,
        defaults=DecoderMemorySettings(),
    )


register_memory(_memo_spec("memo", True, "accumulated summary tokens (the Memo paper)"))
register_memory(_memo_spec("rmt", False, "only the newest summary tokens (RMT)"))
