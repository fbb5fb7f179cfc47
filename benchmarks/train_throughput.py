"""Training throughput: environment steps per second of the whole PPO loop.

One update = rollout (vmapped environments + acting), GAE and the epochs of minibatch
learning through the memory, all in one compiled program (``Trainer.update``). For each
configuration this prints the compile time (the first update) separately from the
steady-state steps/s (the mean over the following updates), on whatever device JAX uses
(``JAX_PLATFORMS=cpu`` or a GPU).

Usage::

    python benchmarks/train_throughput.py             # defaults: MM-Grid and MM, gru/trxl/none
    python benchmarks/train_throughput.py --envs MortarMayhem-v0 --agents gru none lstm \\
        --num-envs 32 --num-steps 512 --updates 5               # the paper's rollout (GPU)
    python benchmarks/train_throughput.py --envs MortarMayhem-v0 --agents gru trxl \
        --num-envs 32 --num-steps 512 --updates 0               # its memory, compiled only
"""

from __future__ import annotations

import argparse
import tempfile
import time

import jax

from engram.config import TrainConfig
from engram.ppo import Trainer
from engram.run import peak_device_memory, program_bytes


def measure(config: TrainConfig, updates: int) -> dict:
    """Compile seconds (ahead of time, plus the first update), steady steps/s of ``updates``
    updates after the first, and memory figures. ``updates=0``: compile only (memory
    figures of a configuration too slow to run here, e.g. the paper's rollout on a CPU)."""
    trainer = Trainer(config)
    ts = trainer.init(jax.random.key(config.seed))
    start = time.perf_counter()
    update = trainer.update.lower(ts).compile()
    if updates:
        ts, m = update(ts)
        jax.block_until_ready(m["loss"])
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(updates):
        ts, m = update(ts)
    if updates:
        jax.block_until_ready(m["loss"])
    seconds = time.perf_counter() - start
    steps = updates * config.num_envs * config.rollout_steps
    # XLA's buffer assignment of the compiled update: everything it holds at once (train
    # state in and out, rollout, activations kept for the gradients, temporaries).
    program = program_bytes(update)
    return {
        "compile_s": compile_s,
        "sps": steps / seconds if updates else None,
        "seconds": seconds,
        "state_bytes": trainer.policy.memory_state_bytes(),
        "program_bytes": program,
        "peak": peak_device_memory(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="*", default=["MortarMayhem-Grid-v0", "MortarMayhem-v0"])
    parser.add_argument("--agents", nargs="*", default=["gru", "trxl", "none"])
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--num-steps", type=int, default=128)
    parser.add_argument(
        "--updates",
        type=int,
        default=3,
        help="timed updates after the first; 0: compile only (memory figures, no speed)",
    )
    args = parser.parse_args()
    device = jax.devices()[0]
    print(f"device: {device.platform.upper()} ({device.device_kind}), jax {jax.__version__}")
    print(
        f"rollout {args.num_envs} envs x {args.num_steps} steps, 3 epochs x 8 minibatches, "
        "paper network (Atari CNN; GRU 512, TrXL with the paper's blocks and window, or "
        "fct/memo/rmt with the Memo paper's decoder; dense 512)"
    )
    print(
        "state KiB/env: the agent's memory state per environment; update GiB: XLA's buffers "
        "for the compiled update (state, rollout, activations, temporaries); peak GiB: the "
        "device's peak so far in this process (GPU only, cumulative over rows)"
    )
    header = (
        f"| {'environment':<24} | {'agent':<5} | {'compile s':>9} | {'steps/s':>9} "
        f"| {'state KiB/env':>13} | {'update GiB':>10} | {'peak GiB':>8} |"
    )
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
                peak = "n/a" if r["peak"] is None else f"{r['peak'] / 2**30:.2f}"
                prog = r["program_bytes"]
                prog = "n/a" if prog is None else f"{prog / 2**30:.2f}"
                sps = "n/a" if r["sps"] is None else f"{r['sps']:,.0f}"
                print(
                    f"| {env_id:<24} | {agent:<5} | {r['compile_s']:>9.1f} | {sps:>9} "
                    f"| {r['state_bytes'] / 1024:>13,.1f} | {prog:>10} | {peak:>8} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
