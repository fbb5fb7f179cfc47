"""Gymnasium throughput: engram's adapters against the original Memory Gym, side by side.

What a PyTorch or NumPy user gets, measured in one run on this machine, every step's
observation handed to Python as a NumPy array:

* the original (``memory-gym==1.0.2`` in its own virtual environment): ``gym.make`` in one
  process, and one process per CPU core (the total);
* engram: ``gym.make("engram/<id>")`` (one environment, one compiled call per step), and
  ``gym.make_vec("engram/<id>", num_envs=N)`` for each N (one ``jit(vmap(step))`` call per
  step for all N, next-step autoreset);
* the time of four resets that switch ``options`` back and forth between two values (after
  the first use of each, no compilation).

Random actions, resets included. Usage::

    python benchmarks/gym_throughput.py --original-python /work/mg/bin/python \\
        --ids MortarMayhem-Grid-v0 --num-envs 16 64 256

Without ``--original-python`` (or ``$MEMORY_GYM_PYTHON``) only engram is measured.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import gymnasium as gym

import engram  # noqa: F401  (registers engram/<id>)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from env_throughput import original_throughput  # noqa: E402


def steps_per_second(step, reset, seconds: float) -> float:
    """Calls of ``step() -> done`` per second (``reset()`` after each done), after a warm-up."""
    for _ in range(20):
        if step():
            reset()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        if step():
            reset()
        n += 1
    return n / (time.perf_counter() - t0)


def single(env_id: str, seconds: float) -> float:
    env = gym.make(f"engram/{env_id}")
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(1000)]
    i = iter(range(10**12))

    def step():
        _, _, terminated, truncated, _ = env.step(actions[next(i) % 1000])
        return terminated or truncated

    return steps_per_second(step, env.reset, seconds)


def vector(env_id: str, num_envs: int, seconds: float) -> float:
    env = gym.make_vec(f"engram/{env_id}", num_envs=num_envs)
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(100)]
    i = iter(range(10**12))

    def step():
        env.step(actions[next(i) % 100])
        return False  # next-step autoreset inside

    return num_envs * steps_per_second(step, env.reset, seconds)


def option_switches(env_id: str) -> float:
    """Seconds for 4 resets alternating two option values, each seen once before."""
    env = gym.make(f"engram/{env_id}")
    a, b = {"max_steps": 100}, {"max_steps": 120}
    if "MortarMayhem" in env_id and "Endless" not in env_id:
        a, b = {"arena_size": 4}, {"arena_size": 5}
    env.reset(seed=0, options=a)
    env.reset(options=b)
    t0 = time.perf_counter()
    for options in (a, b, a, b):
        env.reset(options=options)
    return time.perf_counter() - t0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", nargs="+", default=["MortarMayhem-Grid-v0"])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--procs", type=int, default=os.cpu_count())
    parser.add_argument(
        "--original-python", default=os.environ.get("MEMORY_GYM_PYTHON"), help="memory-gym venv"
    )
    args = parser.parse_args(argv)
    head = f"| id | original, 1 process | original, {args.procs} processes | engram `gym.make` |"
    head += "".join(f" `make_vec` N={n} |" for n in args.num_envs) + " 4 option switches |"
    print(head)
    print("|---" * (5 + len(args.num_envs)) + "|")
    for env_id in args.ids:
        one = many = "-"
        if args.original_python:
            one = f"{original_throughput(args.original_python, env_id, args.seconds, 1):,.0f}"
            many = original_throughput(args.original_python, env_id, args.seconds, args.procs)
            many = f"{many:,.0f}"
        row = f"| `{env_id}` | {one} | {many} | {single(env_id, args.seconds):,.0f} |"
        for n in args.num_envs:
            row += f" {vector(env_id, n, args.seconds):,.0f} |"
        row += f" {option_switches(env_id):.2f} s |"
        print(row, flush=True)
    print("\nsteps/s; every observation reaches Python as a NumPy array.")


if __name__ == "__main__":
    main()
