"""Training throughput: environment steps per second of the whole PPO loop.

One update = rollout (vmapped environments + acting), GAE and the epochs of minibatch
learning through the memory, all in one compiled program (``Trainer.update``). For each
configuration this prints the compile time (the first update) separately from the
steady-state steps/s (the mean over the following updates), on whatever device JAX uses
(``JAX_PLATFORMS=cpu`` or a GPU).

Usage::

    python benchmarks/train_throughput.py                       # defaults: MM and MM-Grid
    python benchmarks/train_throughput.py --env MortarMayhem-v0 --agents gru none lstm \\
        --num-envs 32 --num-steps 512 --updates 5               # the paper's rollout (GPU)
"""

from __future__ import annotations

import argparse
import tempfile
import time

import jax

from engram.train import TrainConfig, Trainer


def measure(config: TrainConfig, updates: int) -> dict:
    """Compile seconds and steady steps/s of ``updates`` updates after the first."""
    trainer = Trainer(config)
    ts = trainer.init(jax.random.key(config.seed))
    start = time.perf_counter()
    ts, m = trainer.update(ts)
    jax.block_until_ready(m["loss"])
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(updates):
        ts, m = trainer.update(ts)
    jax.block_until_ready(m["loss"])
    seconds = time.perf_counter() - start
    steps = updates * config.num_envs * config.num_steps
    return {"compile_s": compile_s, "sps": steps / seconds, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="*", default=["MortarMayhem-Grid-v0", "MortarMayhem-v0"])
    parser.add_argument("--agents", nargs="*", default=["gru", "none"])
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--num-steps", type=int, default=128)
    parser.add_argument("--updates", type=int, default=3, help="timed updates after the first")
    args = parser.parse_args()
    device = jax.devices()[0]
    print(f"device: {device.platform.upper()} ({device.device_kind}), jax {jax.__version__}")
    print(
        f"rollout {args.num_envs} envs x {args.num_steps} steps, 3 epochs x 8 minibatches, "
        "paper network (Atari CNN, memory 512, dense 512)"
    )
    header = f"| {'environment':<24} | {'agent':<5} | {'compile s':>9} | {'steps/s':>9} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for env_id in args.envs:
            for agent in args.agents:
                config = TrainConfig(
                    env=env_id,
                    agent=agent,
                    num_envs=args.num_envs,
                    num_steps=args.num_steps,
                    total_steps=args.num_envs * args.num_steps * (args.updates + 1),
                    num_minibatches=min(8, args.num_envs),
                    run_dir=tmp,
                )
                r = measure(config, args.updates)
                print(
                    f"| {env_id:<24} | {agent:<5} | {r['compile_s']:>9.1f} | {r['sps']:>9,.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
