"""Generalised advantage estimation with terminated and truncated episodes kept apart."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gae(rewards, values, terminated, truncated, next_value, final_value, gamma, lam):
    """Advantages and returns of one rollout (Schulman et al. 2016, GAE).

    Time-major arrays of shape ``(T, B)``: ``values[t]`` is V(s_t); ``next_value`` ``(B,)``
    is V of the observation after the last step. An episode that *terminated* at step t
    contributes no value beyond it; one that was *truncated* (time limit) is bootstrapped
    with ``final_value[t]``, V of its last observation. Neither the TD error nor the
    accumulated advantage crosses an episode boundary.

    Returns:
        ``(advantages, returns)``, float32 ``(T, B)``; ``returns = advantages + values``.
    """
    done = terminated | truncated
    following = jnp.concatenate([values[1:], next_value[None]], 0)
    bootstrap = jnp.where(done, jnp.where(truncated, final_value, 0.0), following)
    deltas = rewards + gamma * bootstrap - values

    def back(carry, inp):
        delta, d = inp
        adv = delta + gamma * lam * jnp.where(d, 0.0, carry)
        return adv, adv

    _, adv = jax.lax.scan(back, jnp.zeros_like(next_value), (deltas, done), reverse=True)
    return adv, adv + values


def rollout_advantages(traj, next_value, gamma, lam, bootstrap_truncation=False):
    """:func:`gae` of a rollout's transitions (:func:`engram.ppo.rollout.rollout`'s dict:
    ``reward``, ``value``, ``terminated``, ``truncated``, ``final_value``, all ``(T, B)``).

    With ``bootstrap_truncation=False`` (the papers' PPO: neroRL, CleanRL's ``ppo_trxl``,
    the Memo code) every episode end cuts the return, a time limit as a termination;
    with ``True`` (engram's option) a truncated episode is bootstrapped with
    ``final_value``.

    Returns:
        ``(advantages, returns)``, float32 ``(T, B)``.
    """
    terminated, truncated = traj["terminated"], traj["truncated"]
    if not bootstrap_truncation:
        terminated, truncated = terminated | truncated, jnp.zeros_like(truncated)
    return gae(
        traj["reward"],
        traj["value"],
        terminated,
        truncated,
        next_value,
        traj["final_value"],
        gamma,
        lam,
    )
