"""Evaluation of a trained policy: one episode in each of N parallel environments."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from engram.models import greedy_action, sample_action


def evaluate(
    trainer,
    params,
    episodes: int,
    seed: int,
    deterministic: bool = False,
    chunk: int = 128,
    max_steps: int = 100_000,
    random_policy: bool = False,
) -> dict:
    """Play ``episodes`` episodes (one per environment, level seeds drawn from ``seed``).

    Args:
        trainer: a :class:`engram.train.Trainer` (environment, agent and action layout).
        params: the agent's parameters.
        episodes: number of episodes, played in parallel.
        seed: seed of the level and action keys; use one not used in training.
        deterministic: take the most likely action instead of sampling.
        chunk: steps compiled into one call (the loop stops once every episode ended).
        max_steps: give up after this many steps (an episode still running is reported
            with ``done`` False).
        random_policy: ignore ``params`` and pick actions uniformly at random: the
            baseline a trained agent must beat, on the same level seeds.

    Returns:
        a JSON-ready dict: ``returns``, ``lengths``, ``success`` (None if the environment
        has no success flag) and ``done`` per episode; ``mean_return``, ``std_return``,
        ``mean_length``, ``success_rate``.
    """
    env = trainer.env.unwrapped
    env_params = trainer.env_params
    key = jax.random.key(seed)
    k_env, key = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(k_env, episodes), env_params
    )
    carry = trainer.agent.initial_carry(episodes)
    first = jnp.ones((episodes,), bool)
    alive = jnp.ones((episodes,), bool)
    ret = jnp.zeros((episodes,), jnp.float32)
    length = jnp.zeros((episodes,), jnp.int32)
    success = jnp.zeros((episodes,), bool)

    @jax.jit
    def run(c):
        def one(c, _):
            obs, state, carry, first, alive, ret, length, success, key = c
            key, k_act, k_env = jax.random.split(key, 3)
            if random_policy:
                logits = jnp.zeros((episodes, sum(trainer.dims)))
            else:
                carry, logits, _ = trainer.act(params, carry, obs, first)
            if deterministic and not random_policy:
                action = greedy_action(logits, trainer.dims)
            else:
                action = sample_action(k_act, logits, trainer.dims)
            obs, state, r, term, trunc, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_env, episodes), state, trainer.env_action(action), env_params
            )
            ret = ret + jnp.where(alive, r, 0.0)
            length = length + alive
            done = term | trunc
            if trainer.has_success:
                success = jnp.where(alive & done, info["success"].astype(bool), success)
            alive = alive & ~done
            return (
                obs,
                state,
                carry,
                jnp.zeros_like(first),
                alive,
                ret,
                length,
                success,
                key,
            ), None

        return jax.lax.scan(one, c, None, chunk)[0]

    c = (obs, state, carry, first, alive, ret, length, success, key)
    for _ in range(0, max_steps, chunk):
        c = run(c)
        if not bool(c[4].any()):
            break
    _, _, _, _, alive, ret, length, success, _ = jax.device_get(c)
    returns = np.asarray(ret, float)
    return {
        "episodes": episodes,
        "policy": "random" if random_policy else "agent",
        "deterministic": deterministic and not random_policy,
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "mean_length": float(np.mean(length)),
        "success_rate": float(np.mean(success)) if trainer.has_success else None,
        "returns": returns.tolist(),
        "lengths": np.asarray(length).tolist(),
        "success": np.asarray(success).tolist() if trainer.has_success else None,
        "done": (~np.asarray(alive)).tolist(),
    }
