"""The clipped PPO objective (Schulman et al. 2017) with a clipped value loss."""

from __future__ import annotations

import jax.numpy as jnp


def ppo_loss(
    new_logp,
    old_logp,
    advantages,
    new_values,
    old_values,
    returns,
    entropy,
    clip,
    vf_coef,
    ent_coef,
    normalize_advantages=False,
    mask=None,
):
    """Total loss and its parts for one minibatch (any matching shapes).

    ``mask`` (optional, same shape, 0/1) excludes padded entries from every mean.

    Returns:
        ``(loss, metrics)`` with metrics ``policy_loss``, ``value_loss``, ``entropy``,
        ``approx_kl`` (the low-variance estimator ``(r - 1) - log r``) and ``clipfrac``.
    """
    mask = jnp.ones_like(advantages) if mask is None else mask
    mean = lambda x: jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)  # noqa: E731
    if normalize_advantages:
        mu = mean(advantages)
        std = jnp.sqrt(mean((advantages - mu) ** 2))
        advantages = (advantages - mu) / (std + 1e-8)
    log_ratio = new_logp - old_logp
    ratio = jnp.exp(log_ratio)
    pg = jnp.maximum(-advantages * ratio, -advantages * jnp.clip(ratio, 1 - clip, 1 + clip))
    v_clipped = old_values + jnp.clip(new_values - old_values, -clip, clip)
    v_loss = 0.5 * jnp.maximum((new_values - returns) ** 2, (v_clipped - returns) ** 2)
    policy_loss, value_loss, ent = mean(pg), mean(v_loss), mean(entropy)
    loss = policy_loss + vf_coef * value_loss - ent_coef * ent
    metrics = {
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": ent,
        "approx_kl": mean((ratio - 1) - log_ratio),
        "clipfrac": mean((jnp.abs(ratio - 1) > clip).astype(jnp.float32)),
    }
    return loss, metrics
