"""Long episodes of the endless tasks: one episode of ``--steps`` steps (default 10^6) per
endless id, stepped in ``lax.scan`` chunks, with a policy and reset parameters that keep
the episode going, checking for int32/float32 overflow and precision loss.

How each id is kept alive (the rules allow each; nothing inside the environment changes):

- ``Endless-MortarMayhem-v0``: an oracle that stands on the target tile (the agent is
  placed on ``state.target``'s centre before each step and does not move), so every
  check succeeds and the sequence grows; ``explosion_delay=[200]`` stretches each command
  so that 10^6 steps fit in the 128-command buffer (the episode truncates beyond it).
- ``Endless-MysteryPath-v0``: ``stamina_level`` at the int32 limit and an agent that
  waits (action 0): it never runs out of stamina and never falls; ``reward_step=-0.001``
  gives every step a reward to add up.
- ``Endless-SearingSpotlights-v0``: ``spot_damage=0`` and ``steps_per_coin`` at the int32
  limit, random actions: spotlights keep spawning, coins are collected by chance; a reward
  of +-0.01 outside / inside the spotlights on every step.

Checked after every chunk and at the end: the episode did not end; the step counter
``state.t`` equals the steps taken exactly; the episode return (a double-float) equals
the float64 sum of the rewards returned (up to the float32 rounding of each returned
reward, 2^-24 relative); positions stay inside their
bounds. At the end, the observation of the final state equals the observation of the same
state with its step counter and return set back to small values (a fresh episode's): the
picture does not depend on how long the episode has run. Writes a JSON summary::

    python benchmarks/long_episode.py --steps 1000000 --out runs/long_episode.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import engram
from engram.core import dfloat
from engram.core.params import INT32_MAX


def _mm_oracle(env, state, params, key):
    """Stand on the target tile's centre, do not move."""
    del key
    state = state.replace(pos=env._tile_center(state.target, params).astype(jnp.int32))
    return state, jnp.zeros(2, jnp.int32)


def _mp_wait(env, state, params, key):
    del env, params, key
    return state, jnp.int32(0)


def _random(env, state, params, key):
    del params
    return state, env.action_space.sample(key)


#: id -> (reset parameters, policy ``(env, state, params, key) -> (state, action)``)
TASKS = {
    "Endless-MortarMayhem-v0": (dict(explosion_delay=[200]), _mm_oracle),
    "Endless-MysteryPath-v0": (dict(stamina_level=INT32_MAX, reward_step=-0.001), _mp_wait),
    "Endless-SearingSpotlights-v0": (
        dict(
            spot_damage=0.0,
            steps_per_coin=INT32_MAX,
            reward_inside_spotlight=-0.01,
            reward_outside_spotlight=0.01,
        ),
        _random,
    ),
}


def make_chunk(env, params, policy, chunk: int):
    """A jitted ``(state, key) -> (state, rewards (chunk,) float32, ended bool)``."""

    @jax.jit
    def run(state, key):
        def one(st, k):
            k_pol, k_env = jax.random.split(k)
            st, action = policy(env, st, params, k_pol)
            _, st, reward, term, trunc, _ = env.step(k_env, st, action, params)
            return st, (reward, term | trunc)

        state, (rewards, ended) = jax.lax.scan(one, state, jax.random.split(key, chunk))
        return state, rewards, ended.any()

    return run


def fresh_counters(state):
    """``state`` with the step counter and the return of a fresh episode one step in
    (not at step 0: the reset frame legitimately differs, e.g. Searing Spotlights draws
    its top bar from the first step on)."""
    return state.replace(t=jnp.ones_like(state.t), episode_return=dfloat.zeros())


def positions_ok(env_id: str, state) -> bool:
    pos = np.asarray(state.pos)
    if env_id == "Endless-MysteryPath-v0":  # x grows without bound; y stays on screen
        return bool(pos[0] >= 0 and 0 <= pos[1] < 84)
    return bool(np.all((pos >= 0) & (pos < 84)))


def drive(env_id: str, steps: int, chunk: int, seed: int = 0) -> dict:
    """One episode of ``steps`` steps (a multiple of ``chunk``) of ``env_id``; the checks
    of the module docstring. Returns a summary dict (``ok`` True when all passed)."""
    over, policy = TASKS[env_id]
    env, params = engram.make(env_id, **over)
    key = jax.random.key(seed)
    key, k0 = jax.random.split(key)
    _, state = env.reset(k0, params)
    run = make_chunk(env, params, policy, chunk)
    total = 0.0  # float64 sum of the rewards the steps returned
    magnitude = 0.0  # sum of |reward|: bounds the float32 rounding of the returned rewards
    problems: list[str] = []
    start = time.time()
    done = 0
    while done < steps:
        key, k = jax.random.split(key)
        state, rewards, ended = run(state, k)
        done += chunk
        r64 = np.asarray(rewards, np.float64)
        total += float(r64.sum())
        magnitude += float(np.abs(r64).sum())
        if bool(ended):
            problems.append(f"the episode ended within steps {done - chunk}..{done}")
            break
        if int(state.t) != done:
            problems.append(f"after {done} steps state.t is {int(state.t)}")
            break
        hi, lo = np.asarray(state.episode_return, np.float64)
        ret = hi + lo
        # The env adds float64 rewards (as double-floats); a step returns each rounded to
        # float32 (relative error <= 2^-24). Accumulating in float32 instead would be off
        # by far more after 10^6 steps.
        # A double-float keeps about 48 bits: each addition may round by 2^-48 of the
        # running return (2^-44 leaves room).
        if abs(ret - total) > 2.0**-24 * magnitude + done * 2.0**-44 * abs(total) + 1e-12:
            problems.append(f"after {done} steps the return is {ret!r}, the rewards sum {total!r}")
            break
        if not positions_ok(env_id, state):
            problems.append(f"after {done} steps the position is {np.asarray(state.pos)}")
            break
    seconds = time.time() - start
    frame = np.asarray(env.observe(state, params))
    fresh = np.asarray(env.observe(fresh_counters(state), params))
    if not np.array_equal(frame, fresh):
        problems.append(
            f"the final frame differs from the fresh-counter frame in "
            f"{int((frame != fresh).any(-1).sum())} pixels"
        )
    extra = {}
    for name in ("num_commands", "commands_completed", "coins_collected", "spawned", "stamina"):
        if hasattr(state, name):
            extra[name] = int(np.asarray(getattr(state, name)))
    return dict(
        env=env_id,
        reset_parameters={k: v for k, v in over.items()},
        steps=done,
        t=int(state.t),
        episode_return=total,
        seconds=seconds,
        steps_per_second=done / seconds,
        ok=not problems,
        problems=problems,
        **extra,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--chunk", type=int, default=10_000)
    p.add_argument("--envs", nargs="*", default=list(TASKS))
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    steps = -(-args.steps // args.chunk) * args.chunk
    results = []
    for env_id in args.envs:
        r = drive(env_id, steps, args.chunk)
        print(json.dumps(r), flush=True)
        results.append(r)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    if not all(r["ok"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
