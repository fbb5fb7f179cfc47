"""Evaluation of a policy with the Memory Gym paper's protocol.

The paper evaluates every checkpoint on 50 level seeds never used in training, 3 episodes
per seed. Here a *level* is everything the environment draws at random: the reset key and
the key of every environment step are derived from the level's key alone, so the
repetitions of a level meet the same level and differ only in the policy's sampled
actions. All episodes run in parallel, one per vmapped environment.

Aggregates follow rliable (Agarwal et al., 2021): the interquartile mean (IQM) and the
mean with stratified-bootstrap 95% confidence intervals over episodes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

#: Level seeds of evaluation are ``seed + LEVEL_SEED_OFFSET``: far from the training seed,
#: whose levels come from ``jax.random.key(seed)``.
LEVEL_SEED_OFFSET = 1_000_003


#: Episode indices within a trial that :func:`evaluate` tells apart; later episodes of a
#: trial are counted in the last index.
MAX_EPISODE_INDEX = 1024


def evaluate(
    policy,
    params,
    levels: int,
    seed: int,
    repetitions: int = 1,
    deterministic: bool = False,
    chunk: int = 128,
    max_steps: int = 100_000,
    random_policy: bool = False,
    trial_scale: int = 1,
) -> dict:
    """Play ``repetitions`` episodes on each of ``levels`` levels, all in parallel.

    For a trial task (``engram.core.trials``) an "episode" here is a whole trial, and the
    episodes inside the trials are also reported by their index within the trial
    (``per_episode_index``), the in-context learning curve.

    Args:
        policy: a :class:`engram.policy.Policy` (environment, agent and action layout).
        params: the agent's parameters.
        levels: number of distinct levels (level seeds).
        seed: seed of the levels; use one not used in training (see
            :data:`LEVEL_SEED_OFFSET`). The same seed gives the same levels to every
            policy, so a trained agent and the random baseline meet the same levels.
        repetitions: episodes per level (the paper: 3).
        deterministic: take the most likely action instead of sampling.
        chunk: steps compiled into one call (the loop stops once every episode ended).
        max_steps: give up after this many steps (an episode still running is reported
            with ``done`` False).
        random_policy: ignore ``params`` and pick actions uniformly at random.
        trial_scale: trial tasks only: play trials this many times longer than in
            training (``trial_length`` x ``trial_scale``), the test of generalisation to
            longer contexts.

    Returns:
        a JSON-ready dict: per episode (level-major order) ``level``, ``returns``,
        ``lengths``, ``success`` (None if the environment has no success flag) and
        ``done``; ``mean_return``, ``std_return``, ``mean_length``, ``success_rate``; for
        trial tasks ``trial_length`` and ``per_episode_index``: lists by episode index
        within the trial of ``count`` (finished episodes; an episode cut by the trial's
        end is left out), ``mean_return``, ``success_rate`` and the means of the task's
        end-of-episode metrics (e.g. ``spl``).

    Raises:
        ValueError: ``levels``, ``repetitions`` or ``trial_scale`` below 1, or a
            ``trial_scale`` other than 1 for a task without trials.
    """
    for name, value in (
        ("levels", levels),
        ("repetitions", repetitions),
        ("trial_scale", trial_scale),
    ):
        if value < 1:
            raise ValueError(f"{name}: got {value}, expected an int >= 1")
    env = policy.env
    env_params = policy.env_params
    if trial_scale != 1:
        if not env.trials:
            raise ValueError(
                f"trial_scale: got {trial_scale}, but {env.env_id} has no trials (use 1)"
            )
        env_params = env_params.replace(trial_length=env_params.trial_length * trial_scale)
    episodes = levels * repetitions
    k_levels, k_actions = jax.random.split(jax.random.key(seed))
    level_keys = jnp.repeat(jax.random.split(k_levels, levels), repetitions, axis=0)
    action_keys = jax.random.split(k_actions, episodes)
    start, run = _program(policy, episodes, deterministic, random_policy, chunk)
    c = start(env_params, level_keys)
    for _ in range(0, max_steps, chunk):
        c = run(params, env_params, c, level_keys, action_keys)
        if not bool(c["alive"].any()):
            break
    c = jax.device_get(c)
    returns = np.asarray(c["ret"], float)
    success = np.asarray(c["success"])
    out = {
        "episodes": episodes,
        "levels": levels,
        "repetitions": repetitions,
        "seed": seed,
        "policy": "random" if random_policy else "agent",
        "deterministic": deterministic and not random_policy,
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "mean_length": float(np.mean(c["length"])),
        "success_rate": float(np.mean(success)) if policy.has_success else None,
        "level": np.repeat(np.arange(levels), repetitions).tolist(),
        "returns": returns.tolist(),
        "lengths": np.asarray(c["length"]).tolist(),
        "success": success.tolist() if policy.has_success else None,
        "done": (~np.asarray(c["alive"])).tolist(),
    }
    if env.trials:
        by_index = c["by_index"]
        out["trial_length"] = int(env_params.trial_length)
        out["per_episode_index"] = _curve({k: v.sum(0) for k, v in by_index.items()})
        if policy.has_success:  # a trial's success: the share of its episodes that succeeded
            count = by_index["count"].sum(1)
            success = by_index["success"].sum(1) / np.maximum(count, 1)
            out["success"] = success.tolist()
            out["success_rate"] = float(by_index["success"].sum() / max(count.sum(), 1))
    return out


def _curve(sums: dict) -> dict:
    """Means by episode index from summed ``count`` and metric arrays (trailing indices
    without episodes dropped)."""
    count = np.asarray(sums["count"], float)
    n = int(np.max(np.nonzero(count)[0], initial=-1)) + 1
    out = {"count": count[:n].astype(int).tolist(), "sums": {}}
    for k, v in sums.items():
        if k != "count":
            total = np.asarray(v, float)[:n]
            out["sums"][k] = total.tolist()
            name = "success_rate" if k == "success" else f"mean_{k}"
            pairs = zip(total, count[:n], strict=True)
            out[name] = [None if m == 0 else float(t / m) for t, m in pairs]
    return out


def _program(policy, episodes: int, deterministic: bool, random_policy: bool, chunk: int):
    """The jitted ``start(env_params, level_keys)`` and ``run(params, env_params, carry,
    level_keys, action_keys)`` (``chunk`` steps of every episode), built once per policy
    and setting so that periodic evaluation during training compiles only once."""
    cache = policy.eval_programs
    setting = (episodes, deterministic, random_policy, chunk)
    if setting in cache:
        return cache[setting]
    env = policy.env
    fold = jax.vmap(jax.random.fold_in, in_axes=(0, None))
    # The task's end-of-episode numbers that are averaged per episode index (trials only).
    metrics = [k for k in env.info_at_end if k not in ("success", "reward", "length")]
    slots = MAX_EPISODE_INDEX

    @jax.jit
    def start(env_params, level_keys):
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(fold(level_keys, 0), env_params)
        alive = jnp.ones((episodes,), bool)
        c = {
            "obs": obs,
            "state": state,
            "carry": policy.initial_carry(episodes),
            "first": alive,
            "alive": alive,
            "ret": jnp.zeros((episodes,), jnp.float32),
            "length": jnp.zeros((episodes,), jnp.int32),
            "success": ~alive,
            "t": jnp.int32(0),
        }
        if env.trials:
            names = ["count", "return"] + (["success"] if policy.has_success else []) + metrics
            c["by_index"] = {k: jnp.zeros((episodes, slots), jnp.float32) for k in names}
        return c

    @jax.jit
    def run(params, env_params, c, level_keys, action_keys):
        def one(c, _):
            c = dict(c)
            # Step t of every episode: env key from its level, action key from the episode.
            k_env, k_act = fold(level_keys, c["t"] + 1), fold(action_keys, c["t"])
            if random_policy:
                logits = jnp.zeros((episodes, sum(policy.dims)))
            else:
                c["carry"], logits, _ = policy.act(params, c["carry"], c["obs"], c["first"])
            if deterministic and not random_policy:
                action = policy.choose(None, logits, deterministic=True)
            else:
                action = jax.vmap(policy.choose)(k_act, logits)
            c["obs"], c["state"], r, term, trunc, info = jax.vmap(
                env.step, in_axes=(0, 0, 0, None)
            )(k_env, c["state"], policy.env_action(action), env_params)
            alive = c["alive"]
            c["ret"] = c["ret"] + jnp.where(alive, r, 0.0)
            c["length"] = c["length"] + alive
            done = term | trunc
            if env.trials:
                c["by_index"] = _count_episodes(c["by_index"], info, alive, trunc, slots)
            elif policy.has_success:
                c["success"] = jnp.where(alive & done, info["success"].astype(bool), c["success"])
            c["alive"] = alive & ~done
            c["first"] = jnp.zeros_like(c["first"])
            c["t"] = c["t"] + 1
            return c, None

        return jax.lax.scan(one, c, None, chunk)[0]

    cache[setting] = (start, run)
    return start, run


def _count_episodes(by_index: dict, info: dict, alive, trial_over, slots: int) -> dict:
    """Add the episodes that ended inside a trial on this step to the sums by episode
    index (an episode cut short by the trial's end is left out)."""
    ended = alive & (info["episode_terminated"] | (info["episode_truncated"] & ~trial_over))
    index = jnp.minimum(info["episode_index"], slots - 1)
    values = {"count": jnp.ones_like(info["episode_return"]), "return": info["episode_return"]}
    out = {}
    for k, total in by_index.items():
        v = values[k] if k in values else info[k]
        add = jnp.where(ended, v.astype(jnp.float32), 0.0)
        out[k] = total.at[jnp.arange(total.shape[0]), index].add(add)
    return out
