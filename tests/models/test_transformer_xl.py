"""Transformer-XL memory: outputs against a NumPy loop written from CleanRL ``ppo_trxl``'s
rules (which keys a step attends, the first step's uniform window, the reversed positional
encoding), learning from ``recorded`` layer inputs, the protocol promise that ``sequence``
equals repeated ``step``, chunk chaining, episode isolation, the attention window, the carry
and configuration checks (``src/engram/models/transformer_xl.py``; the comparison with
CleanRL itself is ``test_trxl_golden.py``). Tiny dimensions keep compilation short."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram.models.transformer_xl import (
    TransformerXLCarry,
    TransformerXLMemory,
    carry_bytes,
    check_transformer_xl_config,
    episode_position_encoding,
    recorded_step,
    sinusoidal_encoding,
    transformer_xl_initial_carry,
)

F, B, DIM, HEADS, LAYERS, WINDOW = 3, 3, 16, 2, 2, 5
T = 10  # chunk length used by most tests

# Each variant costs a few seconds of compilation, so the gated one also covers the query
# positional encoding (alone, so that a test can see it matter), and every chunk is ``T`` steps
# long (one compiled shape per variant).
VARIANTS = {
    "plain": {},
    "gated_query_pe": {
        "gated": True,
        "positional_encoding": False,
        "query_positional_encoding": True,
    },
    "no_pe": {"positional_encoding": False},
    "window_2": {"memory_length": 2},
    "one_layer": {"num_layers": 1},
}
EQUALITY_VARIANTS = ["plain", "gated_query_pe", "window_2"]


@functools.cache
def _setup(variant: str):
    """(model, params, jitted sequence, jitted step) of one variant, built once per run."""
    kw = {"num_layers": LAYERS, "dim": DIM, "num_heads": HEADS, "memory_length": WINDOW}
    kw.update(VARIANTS[variant])
    model = TransformerXLMemory(**kw)
    params = jax.jit(model.init)(
        jax.random.key(0), model.initial_carry(B), jnp.zeros((T, B, F)), jnp.ones((T, B), bool)
    )
    seq = jax.jit(functools.partial(model.apply, params))
    step = jax.jit(functools.partial(model.apply, params, method="step"))
    return model, params, seq, step


def _xs(key, t_len, batch=B):
    return jax.random.normal(jax.random.key(key), (t_len, batch, F))


def _resets(t_len, batch, where):
    """Bool ``(t_len, batch)`` that is True at the ``(t, b)`` pairs in ``where``."""
    r = np.zeros((t_len, batch), bool)
    for t, b in where:
        r[t, b] = True
    return jnp.asarray(r)


def _started_carry(variant: str):
    """A non-empty carry: env 0 runs ``T`` steps without a reset (a full window, positions
    past 0), env 1 resets 2 steps before the end (slots partly empty), env 2 at the start."""
    model, _, seq, _ = _setup(variant)
    carry, _ = seq(model.initial_carry(B), _xs(100, T), _resets(T, B, [(T - 2, 1), (0, 2)]))
    return carry


def _assert_carry_equal(a: TransformerXLCarry, b: TransformerXLCarry, atol=1e-5):
    np.testing.assert_allclose(a.memory, b.memory, rtol=1e-5, atol=atol)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.step, b.step)


def _run_steps(variant, carry, xs, resets):
    _, _, _, step = _setup(variant)
    ys = []
    for t in range(xs.shape[0]):
        carry, y = step(carry, xs[t], resets[t])
        ys.append(y)
    return carry, jnp.stack(ys)


# Resets inside the chunk: env 0 twice (one at the very first step), env 1 once late, env 2
# never (its episode continues from the carry across the whole chunk).
CHUNK_RESETS = [(0, 0), (6, 0), (8, 1)]


@pytest.mark.parametrize("variant", EQUALITY_VARIANTS)
def test_sequence_equals_repeated_step(variant):
    """The protocol promise, from a non-empty carry with resets inside the chunk: outputs and
    the final carries agree."""
    model, _, seq, _ = _setup(variant)
    carry = _started_carry(variant)
    xs, resets = _xs(1, T), _resets(T, B, CHUNK_RESETS)
    seq_carry, seq_ys = seq(carry, xs, resets)
    step_carry, step_ys = _run_steps(variant, carry, xs, resets)
    assert seq_ys.shape == (T, B, model.dim) and seq_ys.dtype == jnp.float32
    np.testing.assert_allclose(seq_ys, step_ys, rtol=1e-5, atol=1e-5)
    _assert_carry_equal(seq_carry, step_carry)


@settings(max_examples=12, deadline=None)
@given(
    resets=st.lists(st.lists(st.booleans(), min_size=B, max_size=B), min_size=T, max_size=T),
    seed=st.integers(0, 2**16),
)
def test_sequence_equals_repeated_step_random_resets(resets, seed):
    carry = _started_carry("plain")
    xs, resets = _xs(seed, T), jnp.asarray(resets)
    _, _, seq, _ = _setup("plain")
    seq_carry, seq_ys = seq(carry, xs, resets)
    step_carry, step_ys = _run_steps("plain", carry, xs, resets)
    np.testing.assert_allclose(seq_ys, step_ys, rtol=1e-5, atol=1e-5)
    _assert_carry_equal(seq_carry, step_carry)


@pytest.mark.parametrize("variant", ["plain", "window_2"])
def test_chunks_chain(variant):
    """Chunk A then chunk B from A's carry equals A+B at once: the carry holds exactly what
    later steps need (the second chunk's resets differ per env, one env never resets)."""
    _, _, seq, _ = _setup(variant)
    carry = _started_carry(variant)
    xs = _xs(2, 2 * T)
    resets = _resets(2 * T, B, [(0, 0), (T + 1, 0), (T - 1, 1), (T + 3, 1)])
    whole_carry, whole_ys = seq(carry, xs, resets)
    mid, ys_a = seq(carry, xs[:T], resets[:T])
    end, ys_b = seq(mid, xs[T:], resets[T:])
    np.testing.assert_allclose(jnp.concatenate([ys_a, ys_b]), whole_ys, rtol=1e-5, atol=1e-5)
    _assert_carry_equal(end, whole_carry)


def test_carry_holds_the_window():
    """After a chunk the carry holds the last ``memory_length - 1`` steps' layer-0 inputs
    (the embedded inputs) with their episode positions; slots of finished episodes are
    empty."""
    model, params, seq, _ = _setup("plain")
    m = WINDOW - 1
    xs = _xs(3, T)
    resets = _resets(T, B, [(0, 0), (8, 1), (0, 2), (9, 2)])
    start = model.initial_carry(B)._replace(step=jnp.array([0, 50, 0], jnp.int32))
    carry, _ = seq(start, xs, resets)
    p = params["params"]["embed"]
    embedded = nn.relu(xs @ p["kernel"] + p["bias"])  # (T, B, DIM)
    np.testing.assert_array_equal(carry.step, [10, 2, 1])
    np.testing.assert_array_equal(carry.positions, [[6, 7, 8, 9], [-1, -1, 0, 1], [-1] * 3 + [0]])
    np.testing.assert_allclose(carry.memory[0, :, 0], embedded[T - m :, 0], atol=1e-6)
    np.testing.assert_allclose(carry.memory[1, 2:, 0], embedded[8:, 1], atol=1e-6)
    np.testing.assert_array_equal(carry.memory[1, :2], 0.0)
    np.testing.assert_allclose(carry.memory[2, 3, 0], embedded[9, 2], atol=1e-6)
    np.testing.assert_array_equal(carry.memory[2, :3], 0.0)


@pytest.mark.parametrize("variant", ["plain", "gated_query_pe"])
def test_no_leak_across_episodes(variant):
    """After a reset, outputs do not depend on the earlier inputs nor on the carry; without
    the reset they do (so this test can fail)."""
    _, _, seq, _ = _setup(variant)
    carry = _started_carry(variant)
    xs, r = _xs(4, T), 4
    noise = 3.0 * _xs(5, r)
    other_xs = xs.at[:r].add(noise)
    other_carry = carry._replace(memory=carry.memory + 1.0)

    resets = _resets(T, B, [(r, b) for b in range(B)])
    c1, ys = seq(carry, xs, resets)
    c2, ys_other = seq(other_carry, other_xs, resets)
    np.testing.assert_allclose(ys_other[r:], ys[r:], rtol=0, atol=1e-6)
    _assert_carry_equal(c1, c2, atol=1e-6)
    assert np.abs(ys_other[:r] - ys[:r]).max() > 1e-3  # sanity: the noise reached ys[:r]

    no_resets = jnp.zeros((T, B), bool)
    _, ys = seq(carry, xs, no_resets)
    _, ys_other = seq(carry, other_xs, no_resets)
    assert np.abs(ys_other[r] - ys[r]).max(axis=-1).min() > 1e-3  # every env depends


@pytest.mark.parametrize("variant", ["one_layer", "plain"])
def test_window(variant):
    """Each block attends to at most ``memory_length`` steps (the current one included), so
    the output at step ``t`` depends on the input ``num_layers * (memory_length - 1)`` steps
    earlier (through the cached layer inputs) but on none before it."""
    model, _, seq, _ = _setup(variant)
    t = T - 1
    reach = model.num_layers * (model.memory_length - 1)
    assert 0 < reach <= t
    xs = _xs(6, T)
    resets = _resets(T, B, [(0, b) for b in range(B)])
    _, ys = seq(model.initial_carry(B), xs, resets)

    _, ys_far = seq(model.initial_carry(B), xs.at[: t - reach].add(5.0), resets)
    np.testing.assert_allclose(ys_far[t], ys[t], rtol=0, atol=1e-6)
    _, ys_edge = seq(model.initial_carry(B), xs.at[t - reach].add(5.0), resets)
    assert np.abs(ys_edge[t] - ys[t]).max(axis=-1).min() > 1e-4


def test_positional_encoding_uses_episode_position():
    """With positional encoding (of the memory, or of the query alone) the same inputs give
    other outputs at another episode position; without it the position is irrelevant."""
    xs, resets = _xs(7, T), jnp.zeros((T, B), bool)
    for variant, differs in [("plain", True), ("gated_query_pe", True), ("no_pe", False)]:
        model, _, seq, _ = _setup(variant)
        start = model.initial_carry(B)
        _, ys = seq(start, xs, resets)
        _, ys_later = seq(start._replace(step=jnp.full((B,), 1000, jnp.int32)), xs, resets)
        if differs:
            assert np.abs(ys_later - ys).max() > 1e-3
        else:
            np.testing.assert_allclose(ys_later, ys, rtol=0, atol=1e-6)


def test_sinusoidal_encoding():
    pe = sinusoidal_encoding(jnp.array([0, 3, 10**7]), 16)
    assert pe.shape == (3, 16) and pe.dtype == jnp.float32
    np.testing.assert_allclose(pe[0], [0.0] * 8 + [1.0] * 8)
    np.testing.assert_allclose(pe[1, 0], np.sin(3.0), rtol=1e-6)
    np.testing.assert_allclose(pe[1, 8], np.cos(3.0), rtol=1e-6)
    np.testing.assert_allclose(pe[1, 1], np.sin(3.0 / 10000 ** (2 / 16)), rtol=1e-5)
    assert np.all(np.isfinite(pe)) and np.all(np.abs(pe) <= 1.0)
    assert sinusoidal_encoding(jnp.zeros((2, 5), jnp.int32), 7).shape == (2, 5, 7)


@pytest.mark.parametrize("variant", ["plain", "window_2"])
def test_initial_carry_and_bytes(variant):
    model, _, _, _ = _setup(variant)
    carry = model.initial_carry(B)
    assert isinstance(carry, TransformerXLCarry)
    other = transformer_xl_initial_carry(B, model.num_layers, model.dim, model.memory_length)
    jax.tree.map(np.testing.assert_array_equal, carry, other)
    m = model.memory_length - 1
    assert carry.memory.shape == (B, m, model.num_layers, model.dim)
    assert carry.memory.dtype == jnp.float32
    assert carry.positions.shape == (B, m) and carry.positions.dtype == jnp.int32
    assert carry.step.shape == (B,) and carry.step.dtype == jnp.int32
    assert np.all(carry.positions == -1) and np.all(carry.step == 0)
    total = sum(leaf.nbytes for leaf in jax.tree.leaves(carry))
    assert carry_bytes(model.num_layers, model.dim, model.memory_length) == total // B
    assert total % B == 0


def test_defaults_follow_the_paper():
    model = TransformerXLMemory()
    assert (model.num_layers, model.dim, model.num_heads) == (3, 384, 4)
    assert not model.gated and model.positional_encoding and not model.query_positional_encoding
    assert carry_bytes(3, 384, 256) == 4 * (255 * 3 * 384 + 255 + 1)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_heads": 3}, "num_heads"),
        ({"num_heads": 0}, "num_heads"),
        ({"memory_length": 0}, "memory_length"),
        ({"memory_length": 1}, "memory_length"),
        ({"positional_encoding_horizon": 0}, "positional_encoding_horizon"),
        ({"num_layers": 0}, "num_layers"),
        ({"dim": 0}, "dim"),
    ],
)
def test_bad_config_raises(kwargs, name):
    cfg = {"num_layers": LAYERS, "dim": DIM, "num_heads": HEADS, "memory_length": WINDOW}
    cfg.update(kwargs)
    with pytest.raises(ValueError, match=name):
        check_transformer_xl_config(**cfg)
    model = TransformerXLMemory(**cfg)
    with pytest.raises(ValueError, match=name):
        model.init(
            jax.random.key(0),
            transformer_xl_initial_carry(1, LAYERS, DIM, WINDOW),
            jnp.zeros((1, 1, F)),
            jnp.ones((1, 1), bool),
        )


def test_gradients_are_finite():
    """The masked attention (a large negative logit; a row without any valid key takes the
    empty window's value) has finite, non-zero gradients under ``jax.jit`` (every other test
    also runs the jitted model)."""
    model, params, _, _ = _setup("plain")
    start = model.initial_carry(B)
    xs, resets = _xs(8, T), _resets(T, B, CHUNK_RESETS)

    def loss(p):
        return jnp.sum(model.apply(p, start, xs, resets)[1] ** 2)

    leaves = jax.tree.leaves(jax.jit(jax.grad(loss))(params))
    assert all(np.all(np.isfinite(g)) for g in leaves)
    assert all(np.abs(g).max() > 0 for g in leaves)


# --- CleanRL ppo_trxl's rules, by hand -----------------------------------------------------


def _np_layer_norm(x, p):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * p["scale"] + p["bias"]


def _np_encoding(step, dim, horizon=1024):
    """CleanRL's table row ``step``: the sinusoid of ``horizon - 1 - step``."""
    position = horizon - 1 - step
    inv = 10000.0 ** (-np.arange(0, dim, 2) / dim)
    return np.concatenate([np.sin(position * inv), np.cos(position * inv)])[:dim]


def _np_attention(p, query, keys, dim, heads, uniform=False):
    """CleanRL's MultiHeadAttention for one query ``(dim,)`` over ``keys`` ``(K, dim)``
    (keys = values): per-head slices through shared projections, logits over sqrt(dim);
    ``uniform``: every key masked, CleanRL's softmax of equal -1e20 logits is uniform."""
    size = dim // heads
    out = []
    for h in range(heads):
        part = slice(h * size, (h + 1) * size)
        q = query[part] @ p["query"]["kernel"]
        k = keys[:, part] @ p["key"]["kernel"]
        v = keys[:, part] @ p["value"]["kernel"]
        logits = k @ q / np.sqrt(dim)
        w = np.ones_like(logits) if uniform else np.exp(logits - logits.max())
        out.append((w / w.sum()) @ v)
    return np.concatenate(out) @ p["out"]["kernel"] + p["out"]["bias"]


def _np_reference(model, params, xs, resets):
    """The memory's outputs ``(T, B, dim)`` by a per-environment, per-step loop in float64:
    step ``t`` of an episode attends to the layer inputs (+ encoding) of its own episode's
    steps ``max(0, t - L + 1) .. t - 1``; with none (``t = 0``) the softmax of CleanRL's
    fully masked window is uniform over ``L`` empty slots (zeros + encoding of 0..L-1)."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params["params"])
    xs, resets = np.asarray(xs, np.float64), np.asarray(resets)
    dim, heads, window = model.dim, model.num_heads, model.memory_length
    ys = np.zeros(xs.shape[:2] + (dim,))
    for b in range(xs.shape[1]):
        history = [[] for _ in range(model.num_layers)]  # this episode's layer inputs
        for t in range(xs.shape[0]):
            if resets[t, b]:
                history = [[] for _ in range(model.num_layers)]
            pos = len(history[0])  # the episode step
            h = np.maximum(xs[t, b] @ p["embed"]["kernel"] + p["embed"]["bias"], 0.0)
            for i in range(model.num_layers):
                blk = p[f"block_{i}"]
                history[i].append(h)
                first = max(0, pos - window + 1)
                if pos == 0:
                    steps, inputs = range(window), [np.zeros(dim)] * window
                else:
                    steps, inputs = range(first, pos), history[i][first:pos]
                mem = np.stack(
                    [x + _np_encoding(s, dim) for x, s in zip(inputs, steps, strict=True)]
                )
                kv = _np_layer_norm(mem, blk["norm_kv"])
                q = _np_layer_norm(h, blk["norm_q"])
                h = h + _np_attention(blk["attention"], q, kv, dim, heads, pos == 0)
                f = _np_layer_norm(h, blk["norm_mlp"]) @ blk["mlp"]["kernel"]
                h = h + np.maximum(f + blk["mlp"]["bias"], 0.0)
            ys[t, b] = h
    return ys


def test_outputs_follow_cleanrl_rules_by_hand():
    """Two chained chunks (resets inside both, one environment never resetting, windows
    sliding) against :func:`_np_reference` over the whole history."""
    model, params, seq, _ = _setup("plain")
    xs = _xs(9, 2 * T)
    resets = _resets(2 * T, B, [(0, 0), (0, 1), (0, 2), (7, 0), (T + 2, 1), (T, 0)])
    mid, ys_a = seq(model.initial_carry(B), xs[:T], resets[:T])
    _, ys_b = seq(mid, xs[T:], resets[T:])
    expected = _np_reference(model, params, xs, resets)
    np.testing.assert_allclose(jnp.concatenate([ys_a, ys_b]), expected, rtol=0, atol=2e-5)


def test_a_step_does_not_attend_to_itself():
    """One block, window 2: step 1 attends to step 0 alone (its own layer input is no key):
    its output equals the by-hand value with step 0 as the only key, and changing step 0's
    input changes it."""
    model = TransformerXLMemory(num_layers=1, dim=DIM, num_heads=HEADS, memory_length=2)
    xs, resets = _xs(10, 2), _resets(2, B, [(0, b) for b in range(B)])
    params = model.init(jax.random.key(1), model.initial_carry(B), xs, resets)
    _, ys = model.apply(params, model.initial_carry(B), xs, resets)
    np.testing.assert_allclose(ys, _np_reference(model, params, xs, resets), atol=2e-5)
    _, ys_other = model.apply(params, model.initial_carry(B), xs.at[0].multiply(-2.0), resets)
    assert np.abs(ys_other[1] - ys[1]).max(axis=-1).min() > 1e-4


def test_episode_position_encoding_is_the_reversed_table():
    steps = jnp.array([0, 5, 118, 200])  # 200: past the horizon (negative positions)
    pe = episode_position_encoding(steps, 16, 119)
    expected = np.stack([_np_encoding(int(s), 16, 119) for s in steps])
    np.testing.assert_allclose(pe, expected, rtol=0, atol=1e-5)


def _acting(variant, carry, xs, resets):
    """Steps one by one; returns the carry, the outputs and the recorded layer inputs."""
    _, _, _, step = _setup(variant)
    ys, recorded = [], []
    for t in range(xs.shape[0]):
        carry, y = step(carry, xs[t], resets[t])
        ys.append(y)
        recorded.append(recorded_step(carry))
    return carry, jnp.stack(ys), jnp.stack(recorded)


def test_recorded_step_is_the_layer_inputs():
    """After a step, ``recorded_step`` holds its layer inputs: layer 0 is the embedded
    input, ReLU(x W + b), computed here by hand."""
    model, params, _, _ = _setup("plain")
    xs, resets = _xs(11, 3), _resets(3, B, [(0, b) for b in range(B)])
    _, _, recorded = _acting("plain", model.initial_carry(B), xs, resets)
    assert recorded.shape == (3, B, LAYERS, DIM) and recorded.dtype == jnp.float32
    p = params["params"]["embed"]
    np.testing.assert_allclose(recorded[:, :, 0], nn.relu(xs @ p["kernel"] + p["bias"]), atol=1e-6)


@pytest.mark.parametrize("variant", ["plain", "gated_query_pe"])
def test_learning_from_recorded_layer_inputs(variant):
    """``sequence(..., recorded=...)`` with what acting recorded gives acting's outputs and
    carry; the gradient of step t's output reaches the inputs of step t only (keys and
    values are constants), where without ``recorded`` it reaches earlier steps too."""
    model, params, seq, _ = _setup(variant)
    carry = _started_carry(variant)
    xs, resets = _xs(12, T), _resets(T, B, CHUNK_RESETS)
    act_carry, act_ys, recorded = _acting(variant, carry, xs, resets)
    learn_carry, learn_ys = seq(carry, xs, resets, recorded)
    np.testing.assert_allclose(learn_ys, act_ys, rtol=1e-5, atol=1e-5)
    _assert_carry_equal(learn_carry, act_carry)

    t = T - 1  # environment 2 never resets: steps 0..t-1 are in step t's window

    def out_t(x, rec, memory):
        c = carry._replace(memory=memory)
        return jnp.sum(model.apply(params, c, x, resets, rec)[1][t, 2])

    grad = jax.jit(jax.grad(out_t, argnums=(0, 1, 2)))
    d_xs, d_rec, d_memory = grad(xs, recorded, carry.memory)
    assert np.abs(d_xs[t, 2]).max() > 1e-4
    np.testing.assert_array_equal(d_xs[:t], 0.0)
    np.testing.assert_array_equal(d_rec, 0.0)
    np.testing.assert_array_equal(d_memory, 0.0)
    d_fresh = jax.jit(jax.grad(lambda x: out_t(x, None, carry.memory)))(xs)
    assert np.abs(d_fresh[t - 1, 2]).max() > 1e-4


def test_recorded_of_another_shape_raises():
    model, params, _, _ = _setup("plain")
    xs, resets = _xs(13, T), _resets(T, B, [])
    with pytest.raises(ValueError, match="recorded"):
        model.apply(params, model.initial_carry(B), xs, resets, jnp.zeros((T, B, LAYERS, 3)))
