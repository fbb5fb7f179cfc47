"""Where an environment step's time goes: the picture, the rules and a reset, timed apart.

For each id, a batch of ``--batch`` environments plays ``--warmup`` random steps (exact
same-step autoreset), then three compiled programs are timed on those states, each under
``vmap`` over the batch:

- ``observe``: the observation of every state, every byte folded into a checksum that the
  program returns (``env_throughput.fold_checksum``: XLA cannot skip any pixel);
- ``transition``: one step of the rules from every state with random actions (the new
  states are returned);
- ``init_state``: a fresh episode for every environment (the states are returned).

Each is the best of 5 runs of ``--reps`` calls, printed in microseconds per environment.
Under autoreset a step computes ``observe`` and ``transition`` for every environment and
``init_state`` only for those whose episode ended (``engram.core.autoreset_step_batch``)::

    python benchmarks/frame_parts.py --ids MortarMayhem-v0 SearingSpotlights-v0 --batch 512
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import jax

import engram

_spec = importlib.util.spec_from_file_location(
    "env_throughput", Path(__file__).with_name("env_throughput.py")
)
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)


def played_states(env, params, batch: int, steps: int):
    """States of ``batch`` environments after ``steps`` random steps (same-step autoreset)."""
    keys = jax.random.split(jax.random.key(1), batch)
    _, states = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)

    def body(states, key):
        k_act, k_step = jax.random.split(key)
        actions = jax.vmap(env.action_space.sample)(jax.random.split(k_act, batch))
        _, states, *_ = engram.core.autoreset_step_batch(
            env, jax.random.split(k_step, batch), states, actions, params
        )
        return states, None

    play = jax.jit(lambda s: jax.lax.scan(body, s, jax.random.split(jax.random.key(2), steps))[0])
    return play(states)


def best_seconds(run, args, reps: int) -> float:
    """Best of 5 runs of ``reps`` calls of ``run(*args)``, in seconds per call."""
    jax.block_until_ready(run(*args))
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            out = run(*args)
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def observe_program(env, params):
    """jit: states -> the checksum of every state's observation (one uint8 vector per leaf)."""
    shape = jax.eval_shape(env.reset, jax.random.key(0), params)[0]

    def run(states):
        obs = jax.vmap(env.observe, in_axes=(0, None))(states, params)
        return _bench.fold_checksum(_bench.empty_checksum(shape), obs)

    return jax.jit(run)


def parts(env_id: str, batch: int, warmup: int, reps: int) -> dict:
    """Microseconds per environment of ``observe``, ``transition`` and ``init_state`` at
    ``batch``, and the observation checksum (``env_throughput.checksum_value``)."""
    env, params = engram.make(env_id)
    if not env.observes_state:
        raise ValueError(
            f"{env_id}: its observation is not drawn from its state (observes_state is "
            "False), so its picture cannot be timed apart; the Memory Gym ids can"
        )
    states = played_states(env, params, batch, warmup)
    keys = jax.random.split(jax.random.key(5), batch)
    actions = jax.vmap(env.action_space.sample)(jax.random.split(jax.random.key(6), batch))
    observe = observe_program(env, params)
    transition = jax.jit(jax.vmap(lambda k, s, a: env.transition(k, s, a, params)))
    init_state = jax.jit(jax.vmap(lambda k: env.init_state(k, params)))
    us = 1e6 / batch
    return {
        "observe_us": best_seconds(observe, (states,), reps) * us,
        "transition_us": best_seconds(transition, (keys, states, actions), reps) * us,
        "init_state_us": best_seconds(init_state, (keys,), reps) * us,
        "checksum": _bench.checksum_value(observe(states)),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ids", nargs="+", default=["MortarMayhem-v0"], help="env ids")
    p.add_argument("--batch", type=int, default=512, help="environments per call")
    p.add_argument("--warmup", type=int, default=40, help="random steps before timing")
    p.add_argument("--reps", type=int, default=20, help="calls per timed run")
    args = p.parse_args(argv)
    if args.batch < 1:
        p.error(f"--batch: got {args.batch}, must be >= 1")
    print(f"microseconds per environment at B={args.batch}, {jax.device_count()} device(s)")
    print("| environment | observe | transition | init_state |")
    print("|---|---:|---:|---:|")
    for env_id in args.ids:
        try:
            m = parts(env_id, args.batch, args.warmup, args.reps)
        except ValueError as e:
            p.error(str(e))
        print(
            f"| `{env_id}` | {m['observe_us']:.1f} | {m['transition_us']:.1f} "
            f"| {m['init_state_us']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
