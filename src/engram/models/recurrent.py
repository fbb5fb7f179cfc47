"""Recurrent memories: a GRU (the Memory Gym paper's), an LSTM, and the memory-less
baseline. Each follows the memory-model protocol of :mod:`engram.models.memory` and is
registered there by name (``gru``, ``lstm``, ``none``)."""

from __future__ import annotations

from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp

from engram.models.memory import MemoryModule, MemorySpec, register_memory


def _zeros(batch_size: int, hidden: int):
    """The empty recurrent state: float32 ``(batch_size, hidden)`` zeros (one home for the
    modules' ``initial_carry`` and their specs', which cannot build a module)."""
    return jnp.zeros((batch_size, hidden), jnp.float32)


class GRUMemory(MemoryModule):
    """One GRU layer (Cho et al. 2014), the paper's recurrent baseline: hidden 512, zero
    initial state, reset at every episode start. Carry: float32 ``(B, hidden)``.

    ``r = sigmoid(W_ir x + W_hr h + b_r)``, ``z = sigmoid(W_iz x + W_hz h + b_z)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    The input projection of a whole sequence is one matrix product before the time loop;
    only the small recurrent product runs step by step. (Projecting inside the loop made
    learning over 128-step sequences of 3136 CNN features several times slower on a CPU,
    because the large input matrix was re-read at every step.)
    """

    hidden: int = 512

    def setup(self):
        h = self.hidden
        self.input_proj = nn.Dense(3 * h, name="input")
        self.recurrent_kernel = self.param(
            "recurrent_kernel", nn.initializers.orthogonal(), (h, 3 * h)
        )
        self.recurrent_bias = self.param("recurrent_bias", nn.initializers.zeros, (3 * h,))

    def initial_carry(self, batch_size: int):
        return _zeros(batch_size, self.hidden)

    def sequence(self, carry, xs, resets):
        projected = self.input_proj(xs)  # (T, B, 3H) in one product
        return gru_recurrence(carry, projected, resets, self.recurrent_kernel, self.recurrent_bias)


def _gru_cell(h, xp, w, b):
    """One GRU step from the masked state ``h`` (B, H) and the projected input ``xp``
    (B, 3H): ``(h', (r, z, n, hn))``, with ``hn = W_hn h + b_hn`` (the gradient's
    residuals)."""
    xr, xz, xn = jnp.split(xp, 3, axis=-1)
    hr, hz, hn = jnp.split(h @ w + b, 3, axis=-1)
    r = nn.sigmoid(xr + hr)
    z = nn.sigmoid(xz + hz)
    n = jnp.tanh(xn + r * hn)
    return (1.0 - z) * n + z * h, (r, z, n, hn)


def _gru_scan(h0, projected, resets, w, b):
    def one(h, inp):
        xp, reset = inp
        h = jnp.where(reset[:, None], 0.0, h)
        h_next, gates = _gru_cell(h, xp, w, b)
        return h_next, (h_next, h, gates)

    return jax.lax.scan(one, h0, (projected, resets))


@jax.custom_vjp
def gru_recurrence(h0, projected, resets, w, b):
    """The GRU's time loop: ``h0`` float32 ``(B, H)``, ``projected`` the input projection
    ``(T, B, 3H)`` (gates r, z, n), ``resets`` bool ``(T, B)`` (the state is zeroed before
    a step that starts an episode), recurrent kernel ``w`` ``(H, 3H)`` and bias ``b``
    ``(3H,)`` -> ``(h_T, hs (T, B, H))``.

    Its gradient is written out (the same derivative as JAX's, summed in another order):
    the backward loop carries only ``dh`` and reads a transposed copy of ``w`` made once,
    and the recurrent kernel's gradient is one ``(H, T*B) x (T*B, 3H)`` product after the
    loop. Differentiating the scan instead accumulates ``dW`` inside the loop, reading
    and writing the 3 MB ``(512, 1536)`` accumulator at every step besides ``w``: at the
    PPO minibatch of the paper's configuration (2 sequences of 128 steps) that was about
    a third of the recurrence's gradient time on a CPU.
    """
    h_last, (hs, _, _) = _gru_scan(h0, projected, resets, w, b)
    return h_last, hs


def _gru_forward(h0, projected, resets, w, b):
    h_last, (hs, masked, gates) = _gru_scan(h0, projected, resets, w, b)
    return (h_last, hs), (masked, gates, resets, w)


def _gru_backward(residuals, cotangents):
    masked, (r, z, n, hn), resets, w = residuals
    d_last, d_hs = cotangents
    w_t = w.T  # (3H, H), made once: the loop reads it row by row

    def one(dh, inp):
        dh_out, h, r, z, n, hn, reset = inp
        dh = dh + dh_out  # d loss / d h_t
        dn = dh * (1.0 - z)
        d_pre_n = dn * (1.0 - n * n)
        d_pre_r = d_pre_n * hn * r * (1.0 - r)
        d_pre_z = dh * (h - n) * z * (1.0 - z)
        d_projected = jnp.concatenate([d_pre_r, d_pre_z, d_pre_n], axis=-1)
        d_hidden = jnp.concatenate([d_pre_r, d_pre_z, d_pre_n * r], axis=-1)
        dh_prev = dh * z + d_hidden @ w_t
        dh_prev = jnp.where(reset[:, None], 0.0, dh_prev)
        return dh_prev, (d_projected, d_hidden)

    d_h0, (d_projected, d_hidden) = jax.lax.scan(
        one, d_last, (d_hs, masked, r, z, n, hn, resets), reverse=True
    )
    hidden = masked.shape[-1]
    dw = masked.reshape(-1, hidden).T @ d_hidden.reshape(-1, 3 * hidden)
    db = d_hidden.sum(axis=(0, 1))
    return d_h0, d_projected, None, dw, db


gru_recurrence.defvjp(_gru_forward, _gru_backward)


class LSTMMemory(MemoryModule):
    """One LSTM layer (Hochreiter & Schmidhuber 1997), an alternative recurrent memory.
    Carry: a pair ``(h, c)`` of float32 ``(B, hidden)``, zero at every episode start.

    ``i, f, g, o = W_x x + W_h h + b``; ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)``;
    ``h' = sigmoid(o) * tanh(c')``. The forget-gate bias starts at 1 (Jozefowicz et al.
    2015). As in :class:`GRUMemory`, the input projection of a sequence is one product
    before the time loop.
    """

    hidden: int = 512

    def setup(self):
        h = self.hidden
        self.input_proj = nn.Dense(4 * h, name="input")
        self.recurrent_kernel = self.param(
            "recurrent_kernel", nn.initializers.orthogonal(), (h, 4 * h)
        )
        forget_one = lambda key, shape: jnp.zeros(shape).at[h : 2 * h].set(1.0)  # noqa: E731
        self.recurrent_bias = self.param("recurrent_bias", forget_one, (4 * h,))

    def initial_carry(self, batch_size: int):
        return (_zeros(batch_size, self.hidden), _zeros(batch_size, self.hidden))

    def sequence(self, carry, xs, resets):
        projected = self.input_proj(xs)  # (T, B, 4H) in one product
        w, b = self.recurrent_kernel, self.recurrent_bias

        def one(hc, inp):
            xp, reset = inp
            h, c = (jnp.where(reset[:, None], 0.0, a) for a in hc)
            i, f, g, o = jnp.split(xp + h @ w + b, 4, axis=-1)
            c = nn.sigmoid(f) * c + nn.sigmoid(i) * jnp.tanh(g)
            h = nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        return jax.lax.scan(one, carry, (projected, resets))


class NoMemory(MemoryModule):
    """The memory-less baseline: passes its input through. Carry: float32 ``(B, 1)``,
    unused."""

    def initial_carry(self, batch_size: int):
        return _zeros(batch_size, 1)

    def sequence(self, carry, xs, resets):
        del resets
        return carry, xs

    def step(self, carry, x, reset):
        del reset
        return carry, x


@dataclass(frozen=True)
class RecurrentSettings:
    """Size of a recurrent memory: ``hidden`` units (the paper's GRU: 512), from
    ``TrainConfig.memory_hidden``."""

    hidden: int = 512


def _recurrent_settings(config) -> RecurrentSettings:
    return RecurrentSettings(hidden=config.memory_hidden)


register_memory(
    MemorySpec(
        name="gru",
        summary="one GRU layer (the Memory Gym paper's recurrent agent)",
        settings=_recurrent_settings,
        module=lambda s: GRUMemory(s.hidden),
        initial_carry=lambda s, n: _zeros(n, s.hidden),
        defaults=RecurrentSettings(),
    )
)
register_memory(
    MemorySpec(
        name="lstm",
        summary="one LSTM layer",
        settings=_recurrent_settings,
        module=lambda s: LSTMMemory(s.hidden),
        initial_carry=lambda s, n: (_zeros(n, s.hidden), _zeros(n, s.hidden)),
        defaults=RecurrentSettings(),
    )
)
register_memory(
    MemorySpec(
        name="none",
        summary="no memory (the memory-less baseline)",
        settings=lambda config: None,
        module=lambda s: NoMemory(),
        initial_carry=lambda s, n: _zeros(n, 1),
    )
)
