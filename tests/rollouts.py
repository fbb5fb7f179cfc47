"""A random-action rollout through the JAX API (test helper shared by the environment
contract and the fuzz tests)."""

from __future__ import annotations

from collections.abc import Callable

import jax


def random_rollout(env, steps: int, on_trace: Callable[[], None] | None = None):
    """``run(key, params) -> (reset obs, per-step (obs, action, reward, terminated,
    truncated, info))``: one episode of ``env`` with uniformly random actions for ``steps``
    steps (continued past its end, as the protocol allows; autoreset is a wrapper), the
    per-step outputs stacked on a leading axis of length ``steps``. ``on_trace`` is called
    each time ``run`` is traced (to count compilations)."""

    def run(key, params):
        if on_trace is not None:
            on_trace()
        k_reset, k_steps = jax.random.split(key)
        obs, state = env.reset(k_reset, params)

        def one(state, k):
            k_act, k_env = jax.random.split(k)
            action = env.action_space.sample(k_act)
            obs, state, reward, term, trunc, info = env.step(k_env, state, action, params)
            return state, (obs, action, reward, term, trunc, info)

        _, per_step = jax.lax.scan(one, state, jax.random.split(k_steps, steps))
        return obs, per_step

    return run
