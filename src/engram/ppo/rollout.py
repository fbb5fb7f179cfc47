"""Collecting a rollout: ``num_steps`` steps of every environment, acting with the memory
agent, with same-step autoreset, into a time-major batch of transitions."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from engram.core.wrappers import autoreset_step_batch
from engram.models import log_prob_entropy


def rollout(policy, ts, num_steps: int):
    """Run ``num_steps`` steps of the ``B`` environments of ``ts`` (a
    :class:`engram.ppo.trainer.TrainState`) with ``policy`` (:class:`engram.policy.Policy`).

    The memory resets where the protocol's episode ends (a trial, for trial tasks);
    advantages, returns and the episode statistics stop at every episode end, including
    those inside a trial.

    Returns:
        ``(ts, transitions, stats)``: the state after the last step; a dict of time-major
        arrays ``(T, B, ...)``: ``obs``, ``reset`` (the observation starts an episode),
        ``action`` int32 ``(T, B, n_components)``, ``value``, ``reward``,
        ``terminated``, ``truncated`` (of the episode, inside a trial too),
        ``final_value`` (with ``bootstrap_truncation``: V of a truncated episode's last
        observation; else 0), ``logp`` float32 ``(T, B, n_components)`` and
        ``ground_truth`` float32 ``(T, B, G)``, and ``recorded`` where the memory records
        what acting computed (:meth:`engram.policy.Policy.recorded`); and sums over the
        episodes that ended:
        ``episodes``, ``return_sum``, ``length_sum``, ``success_sum``, ``task/<key>`` for
        the task's metrics, and for trial tasks ``trials`` and ``trial_return_sum``.
    """
    env, env_params = policy.env, policy.env_params
    num_envs = ts.reset.shape[-1]

    def one_step(s, _):
        key, k_act, k_env = jax.random.split(s.key, 3)
        carry, logits, value = policy.act(s.params, s.carry, s.obs, s.reset)
        action = policy.choose(k_act, logits)
        logp, _ = log_prob_entropy(logits, action, policy.dims)
        obs, env_state, reward, term, trunc, info = autoreset_step_batch(
            env,
            jax.random.split(k_env, num_envs),
            s.env_state,
            policy.env_action(action),
            env_params,
        )
        done = term | trunc
        if policy.trials:
            ep_term, ep_trunc = info["episode_terminated"], info["episode_truncated"]
            final_obs = info["episode_final_obs"]
        else:
            ep_term, ep_trunc, final_obs = term, trunc, info["final_obs"]
        if policy.config.bootstrap_truncation:
            # A time-limited episode is bootstrapped with the value of its last
            # observation, read by the memory as the continuation of that episode.
            final_value = jax.lax.cond(
                jnp.any(ep_trunc),
                lambda: policy.act(s.params, carry, final_obs, jnp.zeros_like(s.reset))[2],
                lambda: jnp.zeros_like(value),
            )
        else:  # the papers' PPO never bootstraps at an episode end
            final_value = jnp.zeros_like(value)
        ep_done = ep_term | ep_trunc
        ep_ret = s.episode_return + reward
        ep_len = s.episode_length + 1
        success = info["success"].astype(bool) if policy.has_success else jnp.zeros_like(done)
        stats = {
            "episodes": ep_done.sum(),
            "return_sum": jnp.where(ep_done, ep_ret, 0.0).sum(),
            "length_sum": jnp.where(ep_done, ep_len, 0).sum(),
            "success_sum": (ep_done & success).sum(),
        }
        if policy.trials:
            stats["trials"] = done.sum()
            stats["trial_return_sum"] = jnp.where(done, info["trial_return"], 0.0).sum()
        for k in policy.task_metrics:
            if k in info and info[k].ndim == 1:  # one number per environment
                stats[f"task/{k}"] = jnp.where(ep_done, info[k], 0).sum().astype(jnp.float32)
        transition = {
            "obs": s.obs,
            "reset": s.reset,
            "action": action,
            "logp": logp,
            "value": value,
            "reward": reward,
            "terminated": ep_term,
            "truncated": ep_trunc,
            "final_value": final_value,
            "ground_truth": s.ground_truth,
        }
        recorded = policy.recorded(carry)
        if recorded is not None:
            transition["recorded"] = recorded
        s = s.replace(
            env_state=env_state,
            obs=obs,
            carry=carry,
            reset=done,
            episode_return=jnp.where(ep_done, 0.0, ep_ret),
            episode_length=jnp.where(ep_done, 0, ep_len),
            ground_truth=(
                info["ground_truth"].reshape(num_envs, -1).astype(jnp.float32)
                if policy.ground_truth_dims
                else s.ground_truth
            ),
            key=key,
        )
        return s, (transition, stats)

    ts, (traj, stats) = jax.lax.scan(one_step, ts, None, num_steps)
    stats = jax.tree.map(lambda x: x.sum(), stats)
    return ts, traj, stats
