"""Memo/RMT's parallel ``sequence`` (``src/engram/models/memo.py``: ``_memo_segments``, a
segment at a time) against the scan of the single-step function (``_memo_scan``, the step
path): equal outputs, final carries and gradients (parameters, inputs, carry) for chunks that
are a multiple of the segment length, that end mid-segment, and that drop summary sets (FIFO);
``sequence`` choosing the parallel path exactly when the chunk is aligned and the scan
otherwise (mid-chunk resets, unequal segment phases), with the same results either way.
Small decoders and two chunk lengths (24 and 29 steps, three summary sets: one more than Memo
keeps) keep compilation short: four compiled programs per variant."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from configs import O0

from engram.models.memo import MemoCarry, MemoMemory, _memo_scan, segments_aligned

F, B = 3, 3  # input features, environments
SEG, SUM, CONTEXT = 8, 2, 16  # Memo keeps 16 // 8 = 2 summary sets
DEC = {"num_layers": 1, "width": 32, "num_heads": 4, "mlp_hidden": 64}
VARIANTS = {"memo": True, "rmt": False}


def _path(name):
    """``method`` for ``model.apply``: ``sequence`` (``"sequence"``) or the scan of the
    single-step function (``"scan"``)."""

    def run(m: MemoMemory, carry, xs, resets):
        if name == "scan":
            args = (m.decoder, m.summary_queries, m.spec, m.layout, jnp.int32(SEG))
            return _memo_scan(*args, carry, m.embed(xs), resets)
        return m.sequence(carry, xs, resets)

    return run


@functools.cache
def _setup(variant):
    """(model, parameters, jitted ``run(path, params, carry, xs, resets)`` returning the
    outputs, the final carry and the gradients of a loss of both with respect to the
    parameters, the inputs and the carry)."""
    model = MemoMemory(
        **DEC,
        segment_length=SEG,
        summary_length=SUM,
        max_context=CONTEXT,
        accumulate=VARIANTS[variant],
    )
    params = model.init(
        jax.random.key(0), model.initial_carry(B), jnp.zeros((SEG, B, F)), jnp.ones((SEG, B), bool)
    )
    # Decoder matrices 5x and summary queries 50x (std 1, the inputs' scale), so that what
    # each token attends to, and where, changes the outputs well beyond rounding.
    p = dict(params["params"])
    p["decoder"] = {k: (5.0 * v if v.ndim == 3 else v) for k, v in p["decoder"].items()}
    p["summary_queries"] = 50.0 * p["summary_queries"]
    params = {"params": p}

    # Compiling these eight programs is this file's cost: O0 (tests/configs.py).
    @functools.partial(jax.jit, static_argnums=0, compiler_options=O0)
    def run(path, params, carry, xs, resets):
        def loss(params, xs, floats):
            new, ys = model.apply(params, carry._replace(**floats), xs, resets, method=_path(path))
            # Weights that differ by step, environment and feature (a plain sum of RMSNormed
            # outputs would hide errors); the carry's floats enter too.
            w = jnp.cos(jnp.arange(ys.size, dtype=jnp.float32)).reshape(ys.shape)
            total = jnp.sum(w * ys)
            for leaf in (new.summary_keys, new.summary_values, new.segment_keys):
                total = total + 0.01 * jnp.sum(jnp.sin(leaf))
            return total, (ys, new)

        floats = {k: v for k, v in carry._asdict().items() if v.dtype == jnp.float32}
        grads, (ys, new) = jax.grad(loss, argnums=(0, 1, 2), has_aux=True)(params, xs, floats)
        return ys, new, grads

    return model, params, run


def _xs(key, t_len):
    return jax.random.normal(jax.random.key(key), (t_len, B, F))


def _resets(t_len, where):
    r = np.zeros((t_len, B), bool)
    for t, b in where:
        r[t, b] = True
    return jnp.asarray(r)


def _assert_close(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5)


def _compare(variant, carry, xs, resets):
    """``sequence`` and the scan agree on outputs, final carry and all gradients; returns
    ``sequence``'s ``(ys, carry, grads)``."""
    _, params, run = _setup(variant)
    got = run("sequence", params, carry, xs, resets)
    _assert_close(got, run("scan", params, carry, xs, resets))
    return got


def _carry_after(variant, starts):
    """The carry after a first chunk of 24 steps in which environment ``b`` reset at step
    ``starts[b]`` (and all at step 0)."""
    model, params, run = _setup(variant)
    first = _resets(24, [(s, b) for b, s in enumerate(starts)] + ALL_RESET)
    return run("scan", params, model.initial_carry(B), _xs(1, 24), first)[1]


ALL_RESET = [(0, b) for b in range(B)]


def test_segments_aligned():
    """The parallel path's condition: every environment at a segment start at step 0 (after
    its reset there, if any), no reset after step 0."""
    z = np.zeros(B, np.int32)

    def carry(count):
        return MemoCarry(z, z, z, z, z, jnp.asarray(count, jnp.int32))

    none = _resets(5, [])
    assert segments_aligned(carry([0, 0, 0]), none)
    assert segments_aligned(carry([3, 0, 5]), _resets(5, [(0, 0), (0, 2)]))
    assert not segments_aligned(carry([3, 0, 5]), _resets(5, [(0, 0)]))
    assert not segments_aligned(carry([3, 3, 3]), none)  # a common phase, not 0
    assert not segments_aligned(carry([0, 0, 0]), _resets(5, [(4, 1)]))
    assert segments_aligned(carry([0, 0, 0]), _resets(1, [(0, 1)]))


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize(
    "t_len",
    [
        24,  # three whole segments, ends on a summary
        29,  # three segments and a partial one
    ],
)
def test_parallel_equals_scan_from_reset(variant, t_len):
    """Every environment resets at step 0 (the initial carry perturbed, so its contents must
    be ignored): three summary sets, one more than Memo keeps (the oldest is dropped)."""
    model, _, _ = _setup(variant)
    carry = jax.tree.map(
        lambda a: a + 1 if a.dtype == jnp.int32 else a + 1.0, model.initial_carry(B)
    )
    resets = _resets(t_len, ALL_RESET)
    assert segments_aligned(carry, resets)
    ys, new, _ = _compare(variant, carry, _xs(t_len, t_len), resets)
    sets, rest = divmod(t_len, SEG)
    np.testing.assert_array_equal(new.num_summaries, sets)
    np.testing.assert_array_equal(new.segment_count, rest)
    assert np.isfinite(ys).all()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_parallel_continues_a_started_carry(variant):
    """A carry where every environment is between segments but with different numbers of
    summary sets (1, 2 and 3: resets at steps 16, 8 and 0 of a first chunk) goes on without
    a reset."""
    carry = _carry_after(variant, [16, 8, 0])
    np.testing.assert_array_equal(carry.num_summaries, [1, 2, 3])
    np.testing.assert_array_equal(carry.segment_count, 0)
    resets = _resets(29, [])
    assert segments_aligned(carry, resets)
    _compare(variant, carry, _xs(2, 29), resets)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("case", ["mid_chunk_reset", "unequal_phases", "common_nonzero_phase"])
def test_sequence_falls_back_to_scan(variant, case):
    """Chunks the parallel path cannot do exactly: ``segments_aligned`` is False and
    ``sequence`` equals the scan, values and gradients (the scan equals repeated ``step``:
    ``test_memo.py``)."""
    if case == "mid_chunk_reset":
        carry = _setup(variant)[0].initial_carry(B)
        resets = _resets(29, ALL_RESET + [(11, 1)])
    else:
        # Environments 3, 5 and 3 steps into a segment, or all 3 steps in.
        counts = [3, 5, 3] if case == "unequal_phases" else [3, 3, 3]
        carry = _carry_after(variant, [24 - 8 - c for c in counts])
        np.testing.assert_array_equal(carry.segment_count, counts)
        resets = _resets(29, [])
    assert not segments_aligned(carry, resets)
    _compare(variant, carry, _xs(5, 29), resets)
