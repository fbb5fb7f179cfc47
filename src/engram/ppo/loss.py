"""The losses of learning: the clipped PPO objective (Schulman et al. 2017) with a clipped
value loss, per action component as in the Memory Gym paper's PPO; the paper's auxiliary
losses; and their sum for a minibatch."""

from __future__ import annotations

import jax.numpy as jnp

from engram.models import log_prob_entropy


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
    """Total loss and its parts for one minibatch, as the Memory Gym paper's PPO computes
    them (neroRL; CleanRL's ``ppo_trxl``, the paper's Transformer-XL code).

    Args:
        new_logp, old_logp: float32 ``(..., K)``, the log-probability of each of the
            ``K`` action components under the current and the acting policy. Every
            component has its own ratio, clipped on its own; the policy loss is the mean
            over samples and components.
        advantages: float32 ``(...)``; with ``normalize_advantages`` shifted and scaled
            to mean 0 and (Bessel-corrected, as ``torch.std``) standard deviation 1 over
            the minibatch.
        new_values, old_values, returns: float32 ``(...)``. The value loss is
            ``max((V - R)^2, (V_clipped - R)^2)`` with ``V_clipped = V_old +
            clip(V - V_old, -clip, clip)``, its mean weighted by ``vf_coef`` (no extra
            factor 1/2, as in the references).
        entropy: float32 ``(...)``, the entropy of the whole action (summed components).
        clip: the clip range of the ratio and of the value update.
        vf_coef, ent_coef: weights of the value loss and the entropy bonus.
        mask: optional float32 ``(...)`` of 0/1, excluding padded entries from every mean.

    Returns:
        ``(loss, metrics)``: ``loss = policy_loss + vf_coef * value_loss - ent_coef *
        entropy``; metrics ``policy_loss``, ``value_loss``, ``entropy``, ``approx_kl``
        (the low-variance estimator ``(r - 1) - log r``) and ``clipfrac``, the last two
        over every component's ratio.
    """
    mask = jnp.ones_like(advantages) if mask is None else mask
    count = jnp.maximum(jnp.sum(mask), 1.0)
    mean = lambda x: jnp.sum(x * mask) / count  # noqa: E731
    # Per component: the mask and the advantage are shared by the action's components.
    mean_k = lambda x: mean(jnp.mean(x, -1))  # noqa: E731
    if normalize_advantages:
        mu = mean(advantages)
        var = jnp.sum((advantages - mu) ** 2 * mask) / jnp.maximum(count - 1.0, 1.0)
        advantages = (advantages - mu) / (jnp.sqrt(var) + 1e-8)
    log_ratio = new_logp - old_logp
    ratio = jnp.exp(log_ratio)
    adv = advantages[..., None]
    pg = jnp.maximum(-adv * ratio, -adv * jnp.clip(ratio, 1 - clip, 1 + clip))
    v_clipped = old_values + jnp.clip(new_values - old_values, -clip, clip)
    v_loss = jnp.maximum((new_values - returns) ** 2, (v_clipped - returns) ** 2)
    policy_loss, value_loss, ent = mean_k(pg), mean(v_loss), mean(entropy)
    loss = policy_loss + vf_coef * value_loss - ent_coef * ent
    metrics = {
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": ent,
        "approx_kl": mean_k((ratio - 1) - log_ratio),
        "clipfrac": mean_k((jnp.abs(ratio - 1) > clip).astype(jnp.float32)),
    }
    return loss, metrics


def reconstruction_loss(prediction, obs):
    """Binary cross-entropy per pixel between the decoder's ``prediction`` float32 ``(T, B,
    84, 84, 3)`` in (0, 1) and the observed image (uint8; for a dict observation its
    ``visual_observation``) scaled to [0, 1], the mean over everything. The logs are
    clamped at -100 like torch's ``binary_cross_entropy`` (CleanRL's PPO-TrXL)."""
    image = obs["visual_observation"] if isinstance(obs, dict) else obs
    target = image.astype(jnp.float32) / 255.0
    bce = -(
        target * jnp.maximum(jnp.log(prediction), -100.0)
        + (1.0 - target) * jnp.maximum(jnp.log1p(-prediction), -100.0)
    )
    return bce.mean()


def ground_truth_loss(prediction, target, reset):
    """Mean squared error of the ground-truth head, ``prediction`` and ``target`` float32
    ``(T, B, G)``, over the steps whose observation does not start an episode (``reset``
    bool ``(T, B)``): a reset observation's ground truth is not known (the info of that
    step describes the episode that ended)."""
    err = ((prediction - target) ** 2).mean(-1)
    keep = (~reset).astype(jnp.float32)
    return (err * keep).sum() / jnp.maximum(keep.sum(), 1.0)


#: The rollout's entries :func:`minibatch_loss` reads (``ground_truth`` and ``recorded``
#: where the rollout kept them).
ROLLOUT_KEYS = ("obs", "reset", "action", "logp", "value", "ground_truth", "recorded")


def training_batch(traj: dict, advantages, returns) -> dict:
    """The batch :func:`minibatch_loss` reads: the rollout's :data:`ROLLOUT_KEYS` that
    ``traj`` has, plus ``advantages`` and ``returns``; time-major ``(T, B, ...)`` arrays as
    in ``traj``."""
    batch = {k: traj[k] for k in ROLLOUT_KEYS if k in traj}
    batch["advantages"], batch["returns"] = advantages, returns
    return batch


def minibatch_loss(policy, params, carry0, batch, ent_coef, key):
    """The loss of one minibatch of whole environment sequences: PPO's clipped objective
    (:func:`ppo_loss`) plus the configured auxiliary losses (observation reconstruction,
    ground-truth estimation), weighted by ``policy.config``.

    Args:
        policy: the :class:`engram.policy.Policy` (agent, action layout, configuration).
        params: the agent's parameters.
        carry0: the memory at the sequences' first step, leaves ``(B, ...)``.
        batch: time-major arrays ``(T, B, ...)``: ``obs``, ``reset``, ``action``, ``logp``,
            ``value``, ``advantages``, ``returns``, ``ground_truth``, and ``recorded``
            (what acting computed and the memory reuses) where the rollout kept it.
        ent_coef: the entropy coefficient of this update.
        key: draws the segment length of models with segments (``segment_jitter``).

    Returns:
        ``(loss, metrics)``; metrics as :func:`ppo_loss`'s plus ``reconstruction_loss`` and
        ``ground_truth_loss`` where configured.
    """
    c = policy.config
    rngs = {"segments": key} if policy.segment_rng else None
    _, logits, values, aux = policy.agent.apply(
        params,
        carry0,
        batch["obs"],
        batch["reset"],
        aux=True,
        recorded=batch.get("recorded"),
        rngs=rngs,
    )
    logp, entropy = log_prob_entropy(logits, batch["action"], policy.dims)
    loss, metrics = ppo_loss(
        logp,
        batch["logp"],
        batch["advantages"],
        values,
        batch["value"],
        batch["returns"],
        entropy,
        c.clip,
        c.vf_coef,
        ent_coef,
        c.advantage_normalization,
    )
    if c.obs_reconstruction:
        metrics["reconstruction_loss"] = reconstruction_loss(aux["reconstruction"], batch["obs"])
        loss = loss + c.obs_reconstruction * metrics["reconstruction_loss"]
    if policy.ground_truth_dims:
        metrics["ground_truth_loss"] = ground_truth_loss(
            aux["ground_truth"], batch["ground_truth"], batch["reset"]
        )
        loss = loss + c.ground_truth_estimation * metrics["ground_truth_loss"]
    return loss, metrics
