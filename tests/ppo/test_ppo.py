"""GAE and the clipped PPO loss, against hand-computed values and the definitions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engram.ppo import gae, ppo_loss

G, L = 0.9, 0.5


def _col(*x, dtype=jnp.float32):
    return jnp.asarray(x, dtype)[:, None]  # (T, 1)


def test_gae_by_hand_without_episode_ends():
    r, v = _col(1.0, 0.0, 2.0), _col(0.5, 1.0, 1.5)
    no = _col(False, False, False, dtype=bool)
    adv, ret = gae(r, v, no, no, jnp.array([2.0]), jnp.zeros((3, 1)), G, L)
    d2 = 2.0 + G * 2.0 - 1.5  # 2.3
    d1 = 0.0 + G * 1.5 - 1.0  # 0.35
    d0 = 1.0 + G * 1.0 - 0.5  # 1.4
    a2 = d2
    a1 = d1 + G * L * a2
    a0 = d0 + G * L * a1
    np.testing.assert_allclose(adv[:, 0], [a0, a1, a2], rtol=1e-6)
    np.testing.assert_allclose(ret[:, 0], [a0 + 0.5, a1 + 1.0, a2 + 1.5], rtol=1e-6)


def test_terminated_episode_is_not_bootstrapped_and_advantages_do_not_cross():
    r, v = _col(1.0, 0.0, 2.0), _col(0.5, 1.0, 1.5)
    term = _col(False, True, False, dtype=bool)
    trunc = _col(False, False, False, dtype=bool)
    final = _col(0.0, 99.0, 0.0)  # ignored: a terminated episode has no future
    adv, _ = gae(r, v, term, trunc, jnp.array([2.0]), final, G, L)
    a2 = 2.0 + G * 2.0 - 1.5
    a1 = 0.0 - 1.0  # reward only, nothing of step 2 leaks back
    a0 = (1.0 + G * 1.0 - 0.5) + G * L * a1
    np.testing.assert_allclose(adv[:, 0], [a0, a1, a2], rtol=1e-6)


def test_truncated_episode_is_bootstrapped_with_its_final_value():
    r, v = _col(1.0, 0.0, 2.0), _col(0.5, 1.0, 1.5)
    term = _col(False, False, False, dtype=bool)
    trunc = _col(False, True, False, dtype=bool)
    final = _col(0.0, 3.0, 0.0)  # V of the last observation of the truncated episode
    adv, _ = gae(r, v, term, trunc, jnp.array([2.0]), final, G, L)
    a2 = 2.0 + G * 2.0 - 1.5
    a1 = 0.0 + G * 3.0 - 1.0  # bootstraps from final_value, not from V(s_2) = 1.5
    a0 = (1.0 + G * 1.0 - 0.5) + G * L * a1
    np.testing.assert_allclose(adv[:, 0], [a0, a1, a2], rtol=1e-6)


# A few rollout lengths only: every new length compiles the GAE scan again.
@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1, 2, 7, 12]), st.floats(0.0, 1.0), st.integers(0, 2**31 - 1))
def test_lambda_one_returns_are_discounted_reward_sums(T, gamma, seed):
    """With lambda = 1 and no episode end, returns are Monte-Carlo returns bootstrapped
    with the value after the rollout, whatever the value estimates in between."""
    rng = np.random.default_rng(seed)
    r = jnp.asarray(rng.normal(size=(T, 2)), jnp.float32)
    v = jnp.asarray(rng.normal(size=(T, 2)), jnp.float32)
    nv = jnp.asarray(rng.normal(size=(2,)), jnp.float32)
    no = jnp.zeros((T, 2), bool)
    _, ret = gae(r, v, no, no, nv, jnp.zeros((T, 2)), gamma, 1.0)
    r, nv = np.asarray(r, np.float64), np.asarray(nv, np.float64)
    expected = np.zeros((T, 2))
    g = nv
    for t in reversed(range(T)):
        g = r[t] + gamma * g
        expected[t] = g
    np.testing.assert_allclose(ret, expected, rtol=1e-4, atol=1e-4)


def _loss(new_logp, adv, **kw):
    n = jnp.shape(adv)[0]
    args = dict(
        old_logp=jnp.zeros(n),
        new_values=jnp.zeros(n),
        old_values=jnp.zeros(n),
        returns=jnp.zeros(n),
        entropy=jnp.zeros(n),
        clip=0.1,
        vf_coef=0.5,
        ent_coef=0.0,
    )
    args.update(kw)
    return ppo_loss(new_logp, advantages=adv, **args)


def test_unchanged_policy_gives_minus_mean_advantage_and_zero_kl():
    loss, m = _loss(jnp.zeros(3), jnp.array([1.0, -2.0, 4.0]))
    np.testing.assert_allclose(m["policy_loss"], -1.0, rtol=1e-6)
    assert float(m["approx_kl"]) == 0.0 and float(m["clipfrac"]) == 0.0
    np.testing.assert_allclose(loss, -1.0, rtol=1e-6)


def test_clipped_ratio_stops_the_policy_gradient():
    """Ratio 1.5 > 1 + clip with a positive advantage: the objective is flat (clipped);
    with a negative advantage the pessimistic unclipped term keeps its gradient."""
    logp = jnp.log(jnp.array([1.5]))
    grad = jax.grad(lambda lp, a: _loss(lp, a)[0])
    assert float(grad(logp, jnp.array([1.0]))[0]) == 0.0
    np.testing.assert_allclose(grad(logp, jnp.array([-1.0]))[0], 1.5, rtol=1e-6)
    _, m = _loss(logp, jnp.array([1.0]))
    assert float(m["clipfrac"]) == 1.0
    np.testing.assert_allclose(m["policy_loss"], -1.1, rtol=1e-6)


def test_value_loss_is_clipped_around_the_old_value():
    """New value 2.0 from old 0.0 with clip 0.1, return 1.0: the pessimistic maximum of
    0.5 (2 - 1)^2 = 0.5 and 0.5 (0.1 - 1)^2 = 0.405 is taken."""
    _, m = _loss(jnp.zeros(1), jnp.zeros(1), new_values=jnp.array([2.0]), returns=jnp.array([1.0]))
    np.testing.assert_allclose(m["value_loss"], 0.5, rtol=1e-6)
    _, m = _loss(jnp.zeros(1), jnp.zeros(1), new_values=jnp.array([0.5]), returns=jnp.array([1.0]))
    np.testing.assert_allclose(m["value_loss"], 0.5 * 0.9**2, rtol=1e-6)


def test_advantage_normalisation_and_mask():
    adv = jnp.array([1.0, 3.0, 100.0])
    _, m = _loss(jnp.zeros(3), adv, normalize_advantages=True, mask=jnp.array([1.0, 1.0, 0.0]))
    # Normalised over the two unmasked entries: (-1, +1), mean 0.
    np.testing.assert_allclose(m["policy_loss"], 0.0, atol=1e-6)
    _, m = _loss(jnp.zeros(3), adv, mask=jnp.array([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(m["policy_loss"], -2.0, rtol=1e-6)
