"""Memory models and the actor-critic: the GRU equations, reset semantics and the protocol
promise that ``sequence`` equals repeated ``step`` (DESIGN.md, memory-model protocol)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engram
from engram.models import (
    ActorCritic,
    DecoderMemorySettings,
    GRUMemory,
    LSTMMemory,
    NoMemory,
    RecurrentSettings,
    TransformerXLSettings,
    encoder_for,
    log_prob_entropy,
    memory_spec,
    sample_action,
)
from engram.models.fct import FCTCarry

H, F = 6, 5


def _gru(key=0):
    gru = GRUMemory(H)
    xs = jnp.zeros((1, 1, F))
    params = gru.init(jax.random.key(key), gru.initial_carry(1), xs, jnp.zeros((1, 1), bool))
    return gru, params


def test_gru_matches_flax_gru_cell_equations():
    """Our fused GRU is the standard GRU (Cho et al. 2014) as flax's GRUCell computes it,
    once its parameters are mapped onto the cell's per-gate layout."""
    gru, params = _gru()
    p = params["params"]
    wi, bi = p["input"]["kernel"], p["input"]["bias"]
    wh, bh = p["recurrent_kernel"], p["recurrent_bias"]
    split = lambda a: jnp.split(a, 3, axis=-1)  # noqa: E731
    (wir, wiz, win), (bir, biz, bin_) = split(wi), split(bi)
    (whr, whz, whn), (bhr, bhz, bhn) = split(wh), split(bh)
    cell_params = {
        "params": {
            # flax's GRUCell has no bias on the hidden r/z products: fold them into the input.
            "ir": {"kernel": wir, "bias": bir + bhr},
            "iz": {"kernel": wiz, "bias": biz + bhz},
            "in": {"kernel": win, "bias": bin_},
            "hr": {"kernel": whr},
            "hz": {"kernel": whz},
            "hn": {"kernel": whn, "bias": bhn},
        }
    }
    cell = nn.GRUCell(features=H)
    xs = jax.random.normal(jax.random.key(1), (7, 3, F))
    h = jax.random.normal(jax.random.key(2), (3, H))
    ours_h, ours_ys = gru.apply(params, h, xs, jnp.zeros((7, 3), bool))
    ref = h
    for t in range(7):
        ref, y = cell.apply(cell_params, ref, xs[t])
        np.testing.assert_allclose(ours_ys[t], y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours_h, ref, rtol=1e-5, atol=1e-5)


def _lstm(key=0):
    lstm = LSTMMemory(H)
    xs = jnp.zeros((1, 1, F))
    carry = lstm.initial_carry(1)
    return lstm, lstm.init(jax.random.key(key), carry, xs, jnp.zeros((1, 1), bool))


def test_lstm_matches_flax_lstm_cell_equations():
    """Our fused LSTM is flax's LSTMCell once the parameters are mapped per gate (flax
    orders its carry (c, h); ours is (h, c))."""
    lstm, params = _lstm()
    p = params["params"]
    wi, bi = p["input"]["kernel"], p["input"]["bias"]
    wh, bh = p["recurrent_kernel"], p["recurrent_bias"]
    split = lambda a: jnp.split(a, 4, axis=-1)  # noqa: E731
    gates = ("i", "f", "g", "o")
    cell_params = {"params": {}}
    for g, w_i, w_h, b in zip(gates, split(wi), split(wh), split(bi + bh), strict=True):
        cell_params["params"][f"i{g}"] = {"kernel": w_i}
        cell_params["params"][f"h{g}"] = {"kernel": w_h, "bias": b}
    cell = nn.LSTMCell(features=H)
    xs = jax.random.normal(jax.random.key(1), (7, 3, F))
    h = jax.random.normal(jax.random.key(2), (3, H))
    c = jax.random.normal(jax.random.key(3), (3, H))
    (ours_h, ours_c), ours_ys = lstm.apply(params, (h, c), xs, jnp.zeros((7, 3), bool))
    ref = (c, h)
    for t in range(7):
        ref, y = cell.apply(cell_params, ref, xs[t])
        np.testing.assert_allclose(ours_ys[t], y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours_c, ref[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours_h, ref[1], rtol=1e-5, atol=1e-5)
    # The forget gate starts open (bias 1), the other gates at 0.
    np.testing.assert_array_equal(split(bh)[1], 1.0)
    np.testing.assert_array_equal(jnp.concatenate([split(bh)[0], *split(bh)[2:]]), 0.0)


@settings(max_examples=15, deadline=None)
@given(
    st.sampled_from(["gru", "lstm"]),
    st.lists(st.lists(st.booleans(), min_size=3, max_size=3), min_size=1, max_size=9),
)
def test_recurrent_sequence_equals_step_loop(name, resets):
    mem, params = _gru() if name == "gru" else _lstm()
    resets = jnp.asarray(resets)
    T = resets.shape[0]
    xs = jax.random.normal(jax.random.key(T), (T, 3, F))
    h0 = jax.tree.map(lambda z: jax.random.normal(jax.random.key(5), z.shape), mem.initial_carry(3))
    h_seq, ys = mem.apply(params, h0, xs, resets)
    h = h0
    for t in range(T):
        h, y = mem.apply(params, h, xs[t], resets[t], method=type(mem).step)
        np.testing.assert_allclose(ys[t], y, rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree.leaves(h_seq), jax.tree.leaves(h), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_reset_clears_memory_before_reading_the_input():
    """After a reset at step t the outputs are those of a fresh memory started at t."""
    gru, params = _gru()
    xs = jax.random.normal(jax.random.key(3), (6, 2, F))
    h0 = jax.random.normal(jax.random.key(4), (2, H))
    resets = jnp.zeros((6, 2), bool).at[3].set(True)
    _, ys = gru.apply(params, h0, xs, resets)
    _, fresh = gru.apply(params, gru.initial_carry(2), xs[3:], jnp.zeros((3, 2), bool))
    np.testing.assert_allclose(ys[3:], fresh, rtol=1e-6, atol=1e-6)
    # Without the reset the memory of steps 0-2 changes what follows.
    _, no_reset = gru.apply(params, h0, xs, jnp.zeros((6, 2), bool))
    assert not np.allclose(no_reset[3:], fresh, atol=1e-4)


def test_no_memory_passes_features_through():
    mem = NoMemory()
    xs = jnp.arange(12.0).reshape(2, 3, 2)
    carry, ys = mem.apply({}, mem.initial_carry(3), xs, jnp.ones((2, 3), bool))
    np.testing.assert_array_equal(ys, xs)
    assert carry.shape == (3, 1)


#: A decoder memory small enough to compile in seconds: segments of 2 steps, so a 5-step
#: sequence crosses two segment boundaries; a 4-step cache, so the FCT ring wraps.
TINY_DECODER = DecoderMemorySettings(
    num_layers=1,
    width=8,
    num_heads=2,
    mlp_hidden=16,
    max_context=4,
    segment_length=2,
    summary_length=1,
)


def test_unknown_memory_model_is_rejected():
    # The spec's empty memory against the module's is in test_model_contract.py, for
    # every registered model.
    with pytest.raises(ValueError, match=r"agent: unknown memory model 'lstmx'.*gru"):
        memory_spec("lstmx")


@pytest.mark.parametrize(
    ("env_id", "dims", "memory", "shared"),
    [
        ("MortarMayhem-Grid-v0", (4,), "gru", True),
        ("MortarMayhemB-v0", (3, 3), "lstm", False),
        ("TMaze-v0", (4,), "trxl", False),
        ("DarkKeyToDoor-v0", (5,), "fct", True),
        ("DarkKeyToDoor-v0", (5,), "memo", True),
        ("DarkKeyToDoor-v0", (5,), "rmt", False),
    ],
)
def test_actor_critic_step_equals_sequence_on_real_observations(env_id, dims, memory, shared):
    """Image and dict (image + one-hot commands) observations of real environments; a
    shared body with a GRU, separate actor and critic bodies with LSTMs; vector
    observations (MLP encoder) with Transformer-XL bodies whose window (3) is shorter than
    the sequence, so the carry's sliding window is exercised."""
    env, params = engram.make(env_id)
    T, B = 5, 2
    keys = jax.random.split(jax.random.key(0), B)
    obs0, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    frames = [obs0]
    for t in range(T - 1):
        n = env.action_space.sample(jax.random.key(t))
        action = jnp.broadcast_to(n, (B, *jnp.shape(n)))
        obs, state, *_ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(jax.random.key(10 + t), B), state, action, params
        )
        frames.append(obs)
    seq = jax.tree.map(lambda *x: jnp.stack(x), *frames)
    resets = jnp.zeros((T, B), bool).at[0].set(True).at[3, 1].set(True)
    settings = {
        "trxl": TransformerXLSettings(num_layers=2, dim=16, num_heads=2, memory_length=3),
        "gru": RecurrentSettings(32),
        "lstm": RecurrentSettings(32),
    }.get(memory, TINY_DECODER if memory_spec(memory).token_cache else None)
    agent = ActorCritic(
        dims,
        memory,
        settings,
        hidden=32,
        shared=shared,
        encoder=encoder_for(env.observation_space),
    )
    carry0 = agent.initial_carry(B)
    variables = agent.init(jax.random.key(1), carry0, seq, resets)
    assert ("critic_trunk" in variables["params"]) is not shared
    carry_seq, logits, values = agent.apply(variables, carry0, seq, resets)
    assert logits.shape == (T, B, sum(dims)) and logits.dtype == jnp.float32
    assert values.shape == (T, B)
    carry = carry0
    for t in range(T):
        obs_t = jax.tree.map(lambda x, t=t: x[t], seq)
        carry, lg, v = agent.apply(variables, carry, obs_t, resets[t], method=ActorCritic.step)
        np.testing.assert_allclose(lg, logits[t], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(v, values[t], rtol=1e-4, atol=1e-5)
    for a, b in zip(jax.tree.leaves(_live(carry)), jax.tree.leaves(_live(carry_seq)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def _live(carry):
    """A full-context transformer's cache with the slots of no step (position -1) zeroed:
    their stale keys and values are never attended and need not agree."""
    if not isinstance(carry, FCTCarry):
        return carry
    live = (carry.positions >= 0)[:, None, :, None]
    return carry._replace(
        keys=jnp.where(live, carry.keys, 0.0), values=jnp.where(live, carry.values, 0.0)
    )


def test_log_prob_and_entropy_of_a_multi_discrete_action():
    """Components are independent: one log-probability per component (PPO clips each
    component's ratio), entropies add up."""
    dims = (3, 2)
    logits = jnp.log(jnp.array([0.2, 0.3, 0.5, 0.6, 0.4]))
    logp, ent = log_prob_entropy(logits, jnp.array([2, 1]), dims)
    np.testing.assert_allclose(logp, [np.log(0.5), np.log(0.4)], rtol=1e-6)
    h = lambda p: -np.sum(np.asarray(p) * np.log(p))  # noqa: E731
    np.testing.assert_allclose(ent, h([0.2, 0.3, 0.5]) + h([0.6, 0.4]), rtol=1e-6)


def test_sampled_actions_follow_the_logits():
    dims = (3, 2)
    logits = jnp.log(jnp.array([0.7, 0.2, 0.1, 0.25, 0.75]))
    actions = jax.vmap(lambda k: sample_action(k, logits, dims))(
        jax.random.split(jax.random.key(0), 20_000)
    )
    assert actions.shape == (20_000, 2) and actions.dtype == jnp.int32
    np.testing.assert_allclose(
        np.bincount(actions[:, 0], minlength=3) / 20_000, [0.7, 0.2, 0.1], atol=0.015
    )
    np.testing.assert_allclose(np.mean(actions[:, 1]), 0.75, atol=0.015)


def test_observation_decoder_mirrors_the_encoder():
    from engram.models.encoders import ObservationDecoder

    dec = ObservationDecoder()
    x = jax.random.normal(jax.random.key(0), (2, 3, 16))
    params = dec.init(jax.random.key(1), x)
    out = dec.apply(params, x)
    assert out.shape == (2, 3, 84, 84, 3) and out.dtype == jnp.float32
    assert float(out.min()) > 0.0 and float(out.max()) < 1.0
