"""One ``gym.make`` environment stepping as one compiled program or as two (rules, then
picture), alternating in one process.

``gym.make`` runs a Mortar Mayhem step as two programs (``engram.gym._runner``,
``_Runner.split_step``: a state of at most 512 bytes keeps both on the calling thread).
This script times both paths on the same environment, alternating short runs so that the
machine's drift falls on both alike, and prints the medians in steps/s (random actions,
``reset()`` at each episode's end, every observation handed to Python as a NumPy array).

CPU dispatch is engram's default (on the calling thread); to measure with JAX's
asynchronous dispatch, run it with ``JAX_CPU_ENABLE_ASYNC_DISPATCH=1``::

    python benchmarks/gym_step_paths.py --id MortarMayhem-Grid-v0
    JAX_CPU_ENABLE_ASYNC_DISPATCH=1 python benchmarks/gym_step_paths.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import jax

import engram  # noqa: F401  (registers engram/<id>; applies engram's CPU settings)
from engram._xla import ASYNC_DISPATCH


def steps_per_second(env, runner, split: bool, actions: list, seconds: float) -> float:
    """Steps per second of ``env`` with ``runner.split_step = split`` for ``seconds``."""
    runner.split_step = split
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        _, _, terminated, truncated, _ = env.step(actions[n % len(actions)])
        n += 1
        if terminated or truncated:
            env.reset()
    return n / (time.perf_counter() - t0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--id", default="MortarMayhem-Grid-v0", help="an engram env id")
    parser.add_argument("--rounds", type=int, default=10, help="runs of each path")
    parser.add_argument("--seconds", type=float, default=0.5, help="seconds per run")
    args = parser.parse_args(argv)
    if args.rounds < 1 or not args.seconds > 0:
        parser.error(f"--rounds and --seconds must be positive: {args.rounds}, {args.seconds}")
    env = gym.make(f"engram/{args.id}")
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(1000)]
    runner = env.unwrapped._runner
    if not runner.split_step:  # gym.make's own choice: only small states have two programs
        parser.error(f"--id {args.id}: its state is too large for the two-program step")
    rates: dict[bool, list[float]] = {True: [], False: []}
    for split in (True, False):  # compile and warm up both paths
        steps_per_second(env, runner, split, actions, 0.2)
    for _ in range(args.rounds):
        for split in (True, False):
            rates[split].append(steps_per_second(env, runner, split, actions, args.seconds))
    runner.split_step = True
    asynchronous = jax.config.values[ASYNC_DISPATCH]
    dispatch = "asynchronous" if asynchronous else "calling thread"
    print(f"{args.id}, CPU dispatch: {dispatch}; median of {args.rounds} x {args.seconds} s")
    print(f"two programs (rules, picture): {statistics.median(rates[True]):,.0f} steps/s")
    print(f"one program:                   {statistics.median(rates[False]):,.0f} steps/s")


if __name__ == "__main__":
    main()
