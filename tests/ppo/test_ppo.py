"""GAE and the clipped PPO loss, against hand-computed values and the definitions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engram.ppo import gae, ppo_loss, rollout_advantages

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


def test_rollouts_cut_returns_at_time_limits_unless_bootstrapping_is_asked_for():
    """The papers' PPO (neroRL, CleanRL ``ppo_trxl``) treats a time limit like any episode
    end: no value after it. ``bootstrap_truncation=True`` (engram's option) uses the final
    observation's value."""
    traj = {
        "reward": _col(1.0, 0.0, 2.0),
        "value": _col(0.5, 1.0, 1.5),
        "terminated": _col(False, False, False, dtype=bool),
        "truncated": _col(False, True, False, dtype=bool),
        "final_value": _col(0.0, 3.0, 0.0),
    }
    adv, _ = rollout_advantages(traj, jnp.array([2.0]), G, L)
    np.testing.assert_allclose(adv[1, 0], 0.0 - 1.0, rtol=1e-6)  # reward only
    adv, _ = rollout_advantages(traj, jnp.array([2.0]), G, L, bootstrap_truncation=True)
    np.testing.assert_allclose(adv[1, 0], 0.0 + G * 3.0 - 1.0, rtol=1e-6)


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
    """``new_logp`` (N,) of a one-component action, everything else zero."""
    n = jnp.shape(adv)[0]
    args = dict(
        old_logp=jnp.zeros((n, 1)),
        new_values=jnp.zeros(n),
        old_values=jnp.zeros(n),
        returns=jnp.zeros(n),
        entropy=jnp.zeros(n),
        clip=0.1,
        vf_coef=0.5,
        ent_coef=0.0,
    )
    args.update(kw)
    return ppo_loss(jnp.reshape(new_logp, (n, 1)), advantages=adv, **args)


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
    (2 - 1)^2 = 1 and (0.1 - 1)^2 = 0.81 is taken, with no factor 1/2 (neroRL, CleanRL:
    ``max(unclipped, clipped).mean()``, weighted by vf_coef in the total)."""
    _, m = _loss(jnp.zeros(1), jnp.zeros(1), new_values=jnp.array([2.0]), returns=jnp.array([1.0]))
    np.testing.assert_allclose(m["value_loss"], 1.0, rtol=1e-6)
    loss, m = _loss(
        jnp.zeros(1), jnp.zeros(1), new_values=jnp.array([0.5]), returns=jnp.array([1.0])
    )
    np.testing.assert_allclose(m["value_loss"], 0.9**2, rtol=1e-6)
    np.testing.assert_allclose(loss, 0.5 * 0.9**2, rtol=1e-6)


def test_advantage_normalisation_and_mask():
    adv = jnp.array([1.0, 3.0, 100.0])
    _, m = _loss(jnp.zeros(3), adv, normalize_advantages=True, mask=jnp.array([1.0, 1.0, 0.0]))
    # Normalised over the two unmasked entries: (-1, +1) / sqrt(2) (Bessel), mean 0.
    np.testing.assert_allclose(m["policy_loss"], 0.0, atol=1e-6)
    _, m = _loss(jnp.zeros(3), adv, mask=jnp.array([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(m["policy_loss"], -2.0, rtol=1e-6)


def _paper_loss(new_logp, old_logp, adv, v, v_old, ret, ent, clip, vf, ent_coef, norm):
    """The Memory Gym paper's PPO loss written out in float64 from its definition (neroRL;
    CleanRL ``ppo_trxl``): advantages normalised with the Bessel-corrected std + 1e-8 and
    repeated per action component; each component's ratio clipped; the policy loss the
    mean over samples and components; the value loss ``max`` of the unclipped and clipped
    squared errors, averaged; the entropy (summed over components) averaged."""
    new_logp, old_logp = np.float64(new_logp), np.float64(old_logp)
    adv, v, v_old, ret, ent = (np.float64(x) for x in (adv, v, v_old, ret, ent))
    if norm:
        adv = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)
    a = np.repeat(adv[:, None], new_logp.shape[1], axis=1)
    ratio = np.exp(new_logp - old_logp)
    pg = np.maximum(-a * ratio, -a * np.clip(ratio, 1 - clip, 1 + clip)).mean()
    v_clip = v_old + np.clip(v - v_old, -clip, clip)
    vl = np.maximum((v - ret) ** 2, (v_clip - ret) ** 2).mean()
    return pg + vf * vl - ent_coef * ent.mean(), pg, vl


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.booleans(), st.sampled_from([1, 2, 3]))
def test_matches_the_papers_loss_written_out(seed, norm, components):
    """Random minibatches with ratios well outside the clip range, one to three action
    components (MultiDiscrete: every component's ratio is clipped on its own)."""
    rng = np.random.default_rng(seed)
    n = 12
    new_logp = rng.normal(-1.0, 0.3, (n, components)).astype(np.float32)
    old_logp = rng.normal(-1.0, 0.3, (n, components)).astype(np.float32)
    adv, v, v_old, ret = rng.normal(0, 2, (4, n)).astype(np.float32)
    ent = rng.uniform(0, 2, n).astype(np.float32)
    expected, pg, vl = _paper_loss(
        new_logp, old_logp, adv, v, v_old, ret, ent, 0.1, 0.5, 0.01, norm
    )
    loss, m = ppo_loss(
        jnp.asarray(new_logp),
        jnp.asarray(old_logp),
        jnp.asarray(adv),
        jnp.asarray(v),
        jnp.asarray(v_old),
        jnp.asarray(ret),
        jnp.asarray(ent),
        0.1,
        0.5,
        0.01,
        normalize_advantages=norm,
    )
    np.testing.assert_allclose(m["policy_loss"], pg, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m["value_loss"], vl, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-6)


def test_each_component_ratio_is_clipped_on_its_own():
    """Two components whose ratios move in opposite directions (2.0 and 0.5) with a
    positive advantage: per component, the first is clipped at 1.1, the second kept
    (pessimistic), mean -(1.1 + 0.5) / 2 = -0.8. A joint ratio (their product, 1.0) would
    give -1.0 and be unclipped."""
    new = jnp.log(jnp.array([[2.0, 0.5]]))
    loss, m = ppo_loss(
        new,
        jnp.zeros((1, 2)),
        jnp.ones(1),
        jnp.zeros(1),
        jnp.zeros(1),
        jnp.zeros(1),
        jnp.zeros(1),
        0.1,
        0.5,
        0.0,
    )
    np.testing.assert_allclose(m["policy_loss"], -0.8, rtol=1e-6)
    np.testing.assert_allclose(m["clipfrac"], 1.0, rtol=1e-6)
