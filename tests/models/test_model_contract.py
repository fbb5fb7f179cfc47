"""The memory-model protocol's contract, checked on every registered model
(:data:`engram.models.MEMORY_MODELS`): ``sequence`` equals repeated ``step``, nothing leaks
across a reset, and the spec's empty memory is the module's. A new model is covered with
its spec's ``defaults`` unless it has small settings here."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from engram.models import (
    MEMORY_MODELS,
    DecoderMemorySettings,
    RecurrentSettings,
    TransformerXLSettings,
)

_DECODER = DecoderMemorySettings(
    num_layers=1, width=8, num_heads=2, mlp_hidden=16, max_context=4, segment_length=2,
    summary_length=1,
)  # fmt: skip
SMALL = {
    "gru": RecurrentSettings(8),
    "lstm": RecurrentSettings(8),
    "trxl": TransformerXLSettings(num_layers=2, dim=8, num_heads=2, memory_length=3),
    "fct": _DECODER,
    "memo": _DECODER,
    "rmt": _DECODER,
}
T, B, F = 7, 3, 5


@pytest.fixture(scope="module", params=list(MEMORY_MODELS))
def model(request):
    spec = MEMORY_MODELS[request.param]
    settings = SMALL.get(spec.name, spec.defaults)
    module = spec.build(settings)
    xs = jax.random.normal(jax.random.key(1), (T, B, F))
    # Every environment starts at t = 0; environment 1 starts again at t = 3, 2 at t = 5.
    resets = jnp.zeros((T, B), bool).at[0].set(True).at[3, 1].set(True).at[5, 2].set(True)
    carry0 = spec.empty_carry(settings, B)
    params = module.init(jax.random.key(2), carry0, xs, resets)
    return spec, settings, module, params, xs, resets


def _sequence(module, params, carry, xs, resets):
    return module.apply(params, carry, xs, resets, method="sequence")


def test_empty_memory_is_the_modules(model):
    spec, settings, module, *_ = model
    for a, b in zip(
        jax.tree.leaves(spec.empty_carry(settings, B)),
        jax.tree.leaves(module.initial_carry(B)),
        strict=True,
    ):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_sequence_equals_repeated_step(model):
    spec, settings, module, params, xs, resets = model
    carry0 = spec.empty_carry(settings, B)
    carry_seq, ys = jax.jit(_sequence, static_argnums=0)(module, params, carry0, xs, resets)
    step = jax.jit(lambda p, c, x, r: module.apply(p, c, x, r, method="step"))
    carry = carry0
    for t in range(T):
        carry, y = step(params, carry, xs[t], resets[t])
        np.testing.assert_allclose(y, ys[t], rtol=1e-5, atol=1e-5, err_msg=f"step {t}")
    # The two memories behave the same from here on (a cache may hold different stale
    # entries in slots that are masked out, so the carries are compared by what they do).
    more = jax.random.normal(jax.random.key(4), (3, B, F))
    no_reset = jnp.zeros((3, B), bool)
    _, a = jax.jit(_sequence, static_argnums=0)(module, params, carry, more, no_reset)
    _, b = jax.jit(_sequence, static_argnums=0)(module, params, carry_seq, more, no_reset)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_nothing_leaks_across_a_reset(model):
    spec, settings, module, params, xs, resets = model
    run = jax.jit(_sequence, static_argnums=0)
    # A memory full of another history, then the same inputs from a reset on.
    other = jax.random.normal(jax.random.key(3), (4, B, F))
    full, _ = run(module, params, spec.empty_carry(settings, B), other, resets[:4])
    _, fresh = run(module, params, spec.empty_carry(settings, B), xs, resets)
    _, after = run(module, params, full, xs, resets)
    np.testing.assert_allclose(after, fresh, rtol=1e-6, atol=1e-6)
    # Other inputs before environment 1's reset at t = 3 change nothing from t = 3 on.
    changed = xs.at[:3, 1].set(-xs[:3, 1])
    _, ys = run(module, params, spec.empty_carry(settings, B), changed, resets)
    np.testing.assert_allclose(ys[3:, 1], fresh[3:, 1], rtol=1e-6, atol=1e-6)
    assert not np.allclose(ys[:3, 1], fresh[:3, 1])  # the inputs do reach the output
