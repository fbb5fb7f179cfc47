"""The GRU's written-out gradient (``gru_recurrence``) against JAX's derivative of a plain
GRU loop written here."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from engram.models.recurrent import GRUMemory, gru_recurrence


def plain_gru(h, projected, resets, w, b):
    """The GRU equations (Cho et al. 2014, the docstring of GRUMemory), step by step."""
    outputs = []
    for t in range(projected.shape[0]):
        h = jnp.where(resets[t][:, None], 0.0, h)
        xr, xz, xn = jnp.split(projected[t], 3, axis=-1)
        hr, hz, hn = jnp.split(h @ w + b, 3, axis=-1)
        r, z = nn.sigmoid(xr + hr), nn.sigmoid(xz + hz)
        n = jnp.tanh(xn + r * hn)
        h = (1.0 - z) * n + z * h
        outputs.append(h)
    return h, jnp.stack(outputs)


def test_gru_recurrence_values_and_gradients_equal_the_plain_loop():
    T, B, H = 7, 3, 16
    k = jax.random.split(jax.random.key(0), 6)
    h0 = jax.random.normal(k[0], (B, H))
    projected = jax.random.normal(k[1], (T, B, 3 * H))
    resets = jnp.zeros((T, B), bool).at[3, 1].set(True).at[0, 2].set(True)
    w = jax.random.normal(k[2], (H, 3 * H)) * 0.3
    b = jax.random.normal(k[3], (3 * H,)) * 0.1
    # Weights on both outputs, so that every path of the gradient is used.
    u = jax.random.normal(k[4], (T, B, H))
    v = jax.random.normal(k[5], (B, H))

    def loss(f):
        def value(h0, projected, w, b):
            last, hs = f(h0, projected, resets, w, b)
            return (jnp.sin(hs) * u).sum() + (last * v).sum()

        return value

    got_out = gru_recurrence(h0, projected, resets, w, b)
    want_out = plain_gru(h0, projected, resets, w, b)
    for g, want in zip(got_out, want_out, strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)
    got = jax.grad(loss(gru_recurrence), argnums=(0, 1, 2, 3))(h0, projected, w, b)
    want = jax.grad(loss(plain_gru), argnums=(0, 1, 2, 3))(h0, projected, w, b)
    for name, g, wnt in zip(("h0", "projected", "w", "b"), got, want, strict=True):
        np.testing.assert_allclose(g, wnt, rtol=1e-4, atol=1e-5, err_msg=name)
    # The gradient of the state zeroed at a reset does not flow past it.
    assert float(jnp.abs(got[0][2]).max()) == 0.0


def test_gru_memory_gradients_under_vmap_and_jit():
    """As PPO uses it: the module's parameters' gradient, jitted, vmapped over seeds."""
    T, B, F = 5, 2, 6
    mem = GRUMemory(8)
    xs = jax.random.normal(jax.random.key(1), (T, B, F))
    resets = jnp.zeros((T, B), bool).at[2, 0].set(True)
    carry = mem.initial_carry(B)
    keys = jax.random.split(jax.random.key(2), 2)
    params = jax.vmap(lambda k: mem.init(k, carry, xs, resets))(keys)

    def loss(p, reference: bool):
        if reference:
            proj = mem.apply(p, xs, method=lambda m, x: m.input_proj(x))
            pp = p["params"]
            _, hs = plain_gru(carry, proj, resets, pp["recurrent_kernel"], pp["recurrent_bias"])
        else:
            _, hs = mem.apply(p, carry, xs, resets)
        return (hs**2).sum()

    got = jax.jit(jax.vmap(jax.grad(lambda p: loss(p, False))))(params)
    want = jax.vmap(jax.grad(lambda p: loss(p, True)))(params)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
