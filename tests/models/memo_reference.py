"""An independent reference of the Memo paper's memories (Memo, RMT and the full-context
transformer FCT; ``/work/shared/reference/memo.md`` §2.2-2.6), for ``test_memo.py``.

It shares no code with ``engram.models``: it reads only their parameter tree and computes in
numpy float64. Where ``engram.models.memo`` runs a key/value cache step by step, this writes
one memory episode out as a single flat token sequence, in the order the paper describes:
each segment's observation tokens, then (for a full segment) its ``summary_length`` summary
query tokens, then the re-encoded summary tokens made from the queries' outputs, then the
next segment. Every token gets an explicit rotary position and an explicit row of one
attention mask over the whole sequence; the transformer is applied to all tokens at once
(RMSNorm, rotary embedding, masked softmax attention, gated MLP, final RMSNorm written out
here). Re-encoded summary tokens take as input the final outputs of their query tokens, so
the pass is repeated until those inputs stop changing (one more pass per summary set: a
token only sees earlier tokens, so the sets settle one after another).

Who sees whom (segment ``k``, the segments numbered from 0 at the reset; ``mem(k)`` the
summary sets visible in segment ``k``: Memo all earlier sets ``j < k`` with ``j >= k - S``
for ``S`` kept sets (the oldest dropped first), RMT only set ``k - 1``):

* observation ``i`` of segment ``k``: the re-encoded summaries of ``mem(k)`` and the
  observations ``0 .. i`` of its own segment (paper §2.3: never raw steps of a summarised
  segment);
* summary query ``j`` of segment ``k``: ``mem(k)``, the whole segment, queries ``0 .. j``;
* re-encoded summary ``j`` of set ``k``: Memo the sets ``mem(k)``, RMT none, and the
  re-encoded summaries ``0 .. j`` of its own set (paper §2.3: "re-encoded summary tokens
  attend only to earlier summaries").

Rotary positions (paper §3.2 as summarised in memo.md §2.3-2.4): with ``n`` sets made before
segment ``k`` (Memo ``n = k``, positions keep counting when sets are dropped; RMT ``n =
min(k, 1)``), observation ``i`` is at ``n * l_sum + i``, summary query ``j`` at ``n * l_sum
+ l_seg + j`` (after the segment's last observation), re-encoded summary ``j`` of set ``k`` at
``k * l_sum + j`` (Memo) or ``j`` (RMT). FCT: step ``t`` of the episode at position ``t``,
seeing steps ``t - max_context < s <= t``.

The layer (memo.md §2.2, a LLaMA decoder layer): ``h += Attn(RoPE(q), RoPE(k), v) W_o`` on
``RMSNorm(h)``, then ``h += (act(x W_gate) * x W_up) W_down`` on ``RMSNorm(h)``; RMSNorm
``x / sqrt(mean(x^2) + 1e-6) * gain``; RoPE rotates feature ``i`` with feature ``i + D/2``
of each head by ``position * 10000 ** (-2 i / D)`` (Hugging Face LLaMA's "rotate half").

The ``variant`` knobs build deliberately wrong memories, to show that a comparison with the
reference notices each kind of mistake: ``summary_shift`` moves the summary queries'
positions, ``reencode_shift`` the re-encoded summaries' positions, ``timing`` makes the
summaries after ``l_seg + timing`` observations (segments of that length), and
``reencode=False`` lets later tokens see the summary queries themselves instead of
re-encoded summaries (the paper's App. A.8 ablation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EPS = 1e-6
ROPE_BASE = 10000.0


@dataclass(frozen=True)
class Token:
    """One token of the flat sequence: ``kind`` ``"obs"`` (``index`` = step of the episode),
    ``"query"`` or ``"summary"`` (``index`` = slot ``j`` in the set), ``segment`` (the
    segment, = the summary set a query/summary token belongs to) and its rotary
    ``position``."""

    kind: str
    segment: int
    index: int
    position: int


@dataclass(frozen=True)
class Variant:
    """Deliberate deviations from the paper (all off by default); see the module
    docstring."""

    summary_shift: int = 0
    reencode_shift: int = 0
    timing: int = 0
    reencode: bool = True


def memo_tokens(
    num_steps: int,
    segment_length: int,
    summary_length: int,
    kept_sets: int,
    accumulate: bool,
    variant: Variant = Variant(),
) -> tuple[list[Token], np.ndarray]:
    """The flat token sequence of a Memo (``accumulate``) or RMT memory episode of
    ``num_steps`` steps and its attention mask (bool ``(N, N)``, row = query token, True
    where it may attend the column's token)."""
    tokens: list[Token] = []
    ls = summary_length
    seen = segment_length + variant.timing  # observations before a summary set is made
    for k, start in enumerate(range(0, num_steps, seen)):
        made = k if accumulate else min(k, 1)
        base = made * ls
        count = min(seen, num_steps - start)
        tokens += [Token("obs", k, start + i, base + i) for i in range(count)]
        if count == seen:
            after = base + count + variant.summary_shift
            tokens += [Token("query", k, j, after + j) for j in range(ls)]
            first = (k * ls if accumulate else 0) + variant.reencode_shift
            if variant.reencode:
                tokens += [Token("summary", k, j, first + j) for j in range(ls)]

    def memory(k: int) -> set[int]:
        """The summary sets visible from segment ``k``."""
        if accumulate:
            return set(range(max(0, k - kept_sets), k))
        return {k - 1} if k > 0 else set()

    memory_kind = "summary" if variant.reencode else "query"
    n = len(tokens)
    mask = np.zeros((n, n), bool)
    for a, q in enumerate(tokens):
        for b, key in enumerate(tokens):
            if key.kind == memory_kind and key.segment != q.segment:
                own = q.kind == "summary" and not accumulate
                mask[a, b] = key.segment in memory(q.segment) and not own
            elif key.segment != q.segment:
                mask[a, b] = False
            elif q.kind == "obs":
                mask[a, b] = key.kind == "obs" and key.index <= q.index
            elif q.kind == "query":
                mask[a, b] = key.kind == "obs" or (key.kind == "query" and key.index <= q.index)
            else:  # a re-encoded summary: its own set, causally
                mask[a, b] = key.kind == "summary" and key.index <= q.index
    return tokens, mask


def fct_tokens(num_steps: int, max_context: int) -> tuple[list[Token], np.ndarray]:
    """FCT: step ``t`` at position ``t`` sees the steps ``t - max_context < s <= t``."""
    tokens = [Token("obs", 0, t, t) for t in range(num_steps)]
    t = np.arange(num_steps)
    lag = t[:, None] - t[None, :]
    return tokens, (lag >= 0) & (lag < max_context)


# ----------------------------------------------------------------------------------------
# The transformer, in float64.


def _np(tree):
    return {
        k: (_np(v) if isinstance(v, dict) else np.asarray(v, np.float64)) for k, v in tree.items()
    }


def rms_norm(x: np.ndarray, gain: np.ndarray) -> np.ndarray:
    return x / np.sqrt(np.mean(np.square(x), axis=-1, keepdims=True) + EPS) * gain


def rotary(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``x`` ``(N, H, D)`` at ``positions`` ``(N,)``: the pair (feature ``i``, feature
    ``i + D/2``) is the complex number ``x_i + 1j x_{i + D/2}`` multiplied by
    ``exp(1j * position * base ** (-2 i / D))``."""
    d = x.shape[-1]
    half = d // 2
    freqs = np.array([ROPE_BASE ** (-2.0 * i / d) for i in range(half)])
    z = (x[..., :half] + 1j * x[..., half:]) * np.exp(1j * positions[:, None, None] * freqs)
    return np.concatenate([z.real, z.imag], axis=-1)


def activation(name: str, x: np.ndarray) -> np.ndarray:
    if name == "silu":
        return x / (1.0 + np.exp(-x))
    if name == "gelu":  # tanh approximation (Hugging Face's gelu_new)
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    raise ValueError(name)


def transformer(
    p: dict, h: np.ndarray, positions: np.ndarray, mask: np.ndarray, heads: int, act: str
):
    """All tokens ``h`` ``(N, W)`` through the decoder layers under ``mask``; the
    final-normed outputs ``(N, W)``."""
    n, w = h.shape
    d = w // heads
    for i in range(p["query"].shape[0]):
        x = rms_norm(h, p["attn_norm"][i])
        q = rotary((x @ p["query"][i]).reshape(n, heads, d), positions)
        k = rotary((x @ p["key"][i]).reshape(n, heads, d), positions)
        v = (x @ p["value"][i]).reshape(n, heads, d)
        mixed = np.zeros((n, heads, d))
        for head in range(heads):
            logits = q[:, head] @ k[:, head].T / math.sqrt(d)
            logits = np.where(mask, logits, -np.inf)
            weights = np.exp(logits - logits.max(axis=1, keepdims=True))
            weights /= weights.sum(axis=1, keepdims=True)
            mixed[:, head] = weights @ v[:, head]
        h = h + mixed.reshape(n, w) @ p["out"][i]
        x = rms_norm(h, p["mlp_norm"][i])
        h = h + (activation(act, x @ p["gate"][i]) * (x @ p["up"][i])) @ p["down"][i]
    return rms_norm(h, p["final_norm"])


def max_logit(params, xs, heads: int) -> float:
    """The largest attention logit magnitude of the first layer over an FCT pass of ``xs``
    (to check that test weights make positions matter)."""
    p = _np(params["params"])
    h = np.asarray(xs, np.float64) @ p["embed"]["kernel"] + p["embed"]["bias"]
    n, w = h.shape
    d = w // heads
    x = rms_norm(h, p["decoder"]["attn_norm"][0])
    q = (x @ p["decoder"]["query"][0]).reshape(n, heads, d)
    k = (x @ p["decoder"]["key"][0]).reshape(n, heads, d)
    return float(np.abs(np.einsum("qhd,khd->hqk", q, k)).max() / math.sqrt(d))


# ----------------------------------------------------------------------------------------
# Episodes.


def run_tokens(params, xs, tokens: list[Token], mask: np.ndarray, heads: int, act: str):
    """Outputs ``(T, W)`` of the observation tokens of one episode ``xs`` ``(T, F)``."""
    p = _np(params["params"])
    embedded = np.asarray(xs, np.float64) @ p["embed"]["kernel"] + p["embed"]["bias"]
    w = embedded.shape[1]
    queries = p.get("summary_queries")
    positions = np.array([t.position for t in tokens], np.float64)
    where_query = {(t.segment, t.index): a for a, t in enumerate(tokens) if t.kind == "query"}
    h = np.zeros((len(tokens), w))
    for a, t in enumerate(tokens):
        if t.kind == "obs":
            h[a] = embedded[t.index]
        elif t.kind == "query":
            h[a] = queries[t.index]
    sets = len({t.segment for t in tokens if t.kind == "summary"})
    out = None
    for _ in range(sets + 2):
        out = transformer(p["decoder"], h, positions, mask, heads, act)
        fed = h.copy()
        for a, t in enumerate(tokens):
            if t.kind == "summary":
                fed[a] = out[where_query[(t.segment, t.index)]]
        if np.array_equal(fed, h):
            break
        h = fed
    else:
        raise AssertionError("the summary inputs did not settle")
    obs = [(t.index, a) for a, t in enumerate(tokens) if t.kind == "obs"]
    return np.stack([out[a] for _, a in sorted(obs)])


def memo_episode(
    params,
    xs,
    *,
    heads: int,
    segment_length: int,
    summary_length: int,
    kept_sets: int,
    accumulate: bool = True,
    act: str = "silu",
    variant: Variant = Variant(),
) -> np.ndarray:
    """Memo/RMT outputs ``(T, W)`` of one memory episode ``xs`` ``(T, F)`` from its reset."""
    tokens, mask = memo_tokens(
        xs.shape[0], segment_length, summary_length, kept_sets, accumulate, variant
    )
    return run_tokens(params, xs, tokens, mask, heads, act)


def fct_episode(params, xs, *, heads: int, max_context: int, act: str = "silu") -> np.ndarray:
    """FCT outputs ``(T, W)`` of one memory episode ``xs`` ``(T, F)`` from its reset."""
    tokens, mask = fct_tokens(xs.shape[0], max_context)
    return run_tokens(params, xs, tokens, mask, heads, act)


def episodes(resets) -> list[tuple[int, int]]:
    """``(start, end)`` of the memory episodes of one environment's ``resets`` ``(T,)``
    (the first step must be a reset)."""
    resets = np.asarray(resets, bool)
    assert resets[0], "the first step must start an episode"
    starts = list(np.flatnonzero(resets)) + [len(resets)]
    return list(zip(starts[:-1], starts[1:], strict=True))
