"""Environment throughput: the original Memory Gym against engram, side by side.

For each environment id this prints, measured in one run on this machine:

* the original package (``memory-gym==1.0.2`` in its own virtual environment, because it
  pins gymnasium 0.29 and pygame 2.4): one process per CPU core, uniformly random
  actions, resets included; the total steps/s of all processes;
* engram: ``jit(vmap(step))`` with same-step autoreset inside a ``lax.scan``, uniformly
  random actions, resets included, for batch sizes 1, 64 and 1024 (compile time excluded
  and reported separately);
* the ratio of engram's best batch to the original's total.

Usage::

    python -m venv .venv-memory-gym && .venv-memory-gym/bin/pip install memory-gym==1.0.2
    python benchmarks/env_throughput.py --original-python .venv-memory-gym/bin/python

Without ``--original-python`` (or ``$MEMORY_GYM_PYTHON``) only engram is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax

import engram
from engram.presets import PAPER_UPDATES

#: The ids the original package has (the paper's ten); the others (TMaze-v0, the trial
#: tasks) are engram's own and measured on engram only.
ORIGINAL_IDS = frozenset(PAPER_UPDATES)

ORIGINAL_WORKER = r"""
import json, sys, time, os
os.environ["SDL_VIDEODRIVER"] = "dummy"
import gymnasium as gym, memory_gym  # noqa: F401
env_id, seconds, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
env = gym.make(env_id)
env.action_space.seed(seed)
env.reset(seed=seed)
steps, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < seconds:
    for _ in range(100):
        _, _, done, trunc, _ = env.step(env.action_space.sample())
        steps += 1
        if done or trunc:
            env.reset()
print(json.dumps({"steps": steps, "seconds": time.perf_counter() - t0}))
"""


def original_throughput(python: str, env_id: str, seconds: float, procs: int) -> float:
    """Total steps/s of ``procs`` concurrent processes of the original package."""
    workers = [
        subprocess.Popen(
            [python, "-c", ORIGINAL_WORKER, env_id, str(seconds), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(procs)
    ]
    total = 0.0
    for w in workers:
        out, err = w.communicate()
        if w.returncode != 0:
            raise RuntimeError(f"original worker for {env_id} failed:\n{err[-2000:]}")
        r = json.loads(out.strip().splitlines()[-1])
        total += r["steps"] / r["seconds"]
    return total


def engram_throughput(
    env_id: str, batch: int, steps: int, repeats: int = 3, reset_fraction: int | None = None
):
    """(steps/s, compile seconds) of a scanned ``vmap`` rollout with random actions.

    ``reset_fraction`` None: exact same-step autoreset (a fresh episode for every finished
    environment). An int k: :class:`engram.core.BatchAutoReset` drawing ``batch // k``
    fresh episodes per step."""
    env, params = engram.make(env_id)
    num_resets = None if reset_fraction is None else max(1, batch // reset_fraction)
    wrapped = engram.core.BatchAutoReset(env, num_resets)

    def rollout(keys, states):
        def body(states, key):
            k_act, k_step = jax.random.split(key)
            actions = jax.vmap(env.action_space.sample)(jax.random.split(k_act, batch))
            _, states, reward, *_ = wrapped.step(k_step, states, actions, params)
            return states, reward.sum()

        return jax.lax.scan(body, states, keys)

    run = jax.jit(rollout)
    _, states = jax.jit(wrapped.reset, static_argnums=2)(jax.random.key(0), params, batch)
    keys = jax.random.split(jax.random.key(1), steps)
    t0 = time.perf_counter()
    states, out = run(keys, states)
    jax.block_until_ready(out)
    compile_s = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        states, out = run(keys, states)
        jax.block_until_ready(out)
        best = min(best, time.perf_counter() - t0)
    return batch * steps / best, compile_s


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", nargs="*", default=None, help="env ids (default: all)")
    parser.add_argument(
        "--original-python",
        default=os.environ.get("MEMORY_GYM_PYTHON"),
        help="python of a venv with memory-gym==1.0.2 (default: $MEMORY_GYM_PYTHON)",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="original: s per id")
    parser.add_argument("--procs", type=int, default=os.cpu_count(), help="original: procs")
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 64, 1024])
    parser.add_argument("--scan-steps", type=int, default=256, help="engram: steps per call")
    parser.add_argument(
        "--reset-fraction",
        type=int,
        default=None,
        help="engram: draw batch/K fresh episodes per step (BatchAutoReset) instead of one "
        "per finished environment",
    )
    args = parser.parse_args(argv)
    ids = args.ids or engram.registered_ids()
    for env_id in ids:
        if env_id not in engram.registered_ids():
            parser.error(f"unknown id {env_id!r}; valid ids: {engram.registered_ids()}")
    if args.original_python and not Path(args.original_python).exists():
        parser.error(f"--original-python {args.original_python!r} does not exist")

    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPU cores")
    cols = [f"engram B={b}" for b in args.batches]
    header = (
        f"{'environment':<26} {'original x' + str(args.procs):>13} "
        + " ".join(f"{c:>15}" for c in cols)
        + f" {'ratio':>7} {'compile s':>9}"
    )
    print(header)
    print("-" * len(header))
    for env_id in ids:
        orig = None
        if args.original_python and env_id in ORIGINAL_IDS:
            orig = original_throughput(args.original_python, env_id, args.seconds, args.procs)
        rates, compiles = [], []
        for b in args.batches:
            sps, c = engram_throughput(
                env_id, b, args.scan_steps, reset_fraction=args.reset_fraction
            )
            rates.append(sps)
            compiles.append(c)
            print(f"  {env_id} B={b}: {sps:,.0f} steps/s", file=sys.stderr, flush=True)
        ratio = f"{max(rates) / orig:7.1f}" if orig else f"{'-':>7}"
        orig_s = f"{orig:13,.0f}" if orig else f"{'-':>13}"
        print(
            f"{env_id:<26} {orig_s} "
            + " ".join(f"{r:15,.0f}" for r in rates)
            + f" {ratio} {max(compiles):9.1f}",
            flush=True,
        )
    resets = (
        "exact autoreset"
        if args.reset_fraction is None
        else f"batch/{args.reset_fraction} fresh episodes per step"
    )
    print(
        f"steps/s, random actions, resets included ({resets}); ratio = best engram batch / original"
    )


if __name__ == "__main__":
    main()
