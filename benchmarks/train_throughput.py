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
    python benchmarks/train_throughput.py --envs MortarMayhem-Grid-v0 --agents gru \
        --torch-python /work/torch/bin/python --xla-baseline    # the yardsticks of issue 20

``--torch-python PATH`` first measures, in the same run, the forward + backward images/s of
the paper's encoder in PyTorch (``benchmarks/cnn_throughput.py`` in that interpreter) and in
engram's JAX, and adds the column ``/ torch img/s``: engram's steps/s over PyTorch's image
rate (a PPO step costs one forward while acting plus three epochs of forward + backward).
``--xla-baseline`` measures each configuration a second time in a child process with
``ENGRAM_XLA_DEFAULTS=0`` (JAX's and XLA's own CPU settings: without engram's YNN flag, and
with asynchronous dispatch).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


CNN_SCRIPT = Path(__file__).with_name("cnn_throughput.py")


def row_config(args, env_id: str, agent: str, run_dir: str) -> TrainConfig:
    """The measured configuration: ``args``' rollout, the default 3 epochs, 8 minibatches
    (fewer with fewer than 8 environments: a minibatch holds whole environments)."""
    return TrainConfig(
        env=env_id,
        agent=agent,
        num_envs=args.num_envs,
        num_steps=args.num_steps,
        total_steps=args.num_envs * args.num_steps * (args.updates + 1),
        num_minibatches=min(8, args.num_envs),
        run_dir=run_dir,
    )


def child_json(cmd: list[str], env: dict | None = None) -> dict:
    """Run ``cmd`` (a benchmark printing one JSON line last) and return that line, parsed.

    Raises:
        RuntimeError: the command failed (with the end of its stderr).
    """
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cnn_images_per_s(python: str, framework: str) -> dict:
    """Run ``benchmarks/cnn_throughput.py`` in ``python``; its JSON result."""
    return child_json([python, str(CNN_SCRIPT), "--framework", framework])


def baseline_row(args, env_id: str, agent: str) -> dict:
    """The same configuration measured in a child process with XLA's default CPU flags."""
    cmd = [sys.executable, __file__, "--envs", env_id, "--agents", agent, "--json"]
    cmd += ["--num-envs", str(args.num_envs), "--num-steps", str(args.num_steps)]
    cmd += ["--updates", str(args.updates)]
    env = {**os.environ, "ENGRAM_XLA_DEFAULTS": "0"}
    env.pop("XLA_FLAGS", None)
    return child_json(cmd, env)


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
    parser.add_argument(
        "--torch-python",
        help="a Python with torch: measure the paper's encoder in PyTorch and JAX first",
    )
    parser.add_argument(
        "--xla-baseline",
        action="store_true",
        help="also measure each row with ENGRAM_XLA_DEFAULTS=0 (JAX's and XLA's own CPU settings)",
    )
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:  # one row, for --xla-baseline's child process
        with tempfile.TemporaryDirectory() as tmp:
            r = measure(row_config(args, args.envs[0], args.agents[0], tmp), args.updates)
        print(json.dumps({k: v for k, v in r.items() if k in ("compile_s", "sps")}))
        return
    device = jax.devices()[0]
    print(f"device: {device.platform.upper()} ({device.device_kind}), jax {jax.__version__}")
    print(
        f"rollout {args.num_envs} envs x {args.num_steps} steps, 3 epochs x "
        f"{min(8, args.num_envs)} minibatches, "
        "paper network (Atari CNN; GRU 512, TrXL with the paper's blocks and window, or "
        "fct/memo/rmt with the Memo paper's decoder; dense 512)"
    )
    print(
        "state KiB/env: the agent's memory state per environment; update GiB: XLA's buffers "
        "for the compiled update (state, rollout, activations, temporaries); peak GiB: the "
        "device's peak so far in this process (GPU only, cumulative over rows)"
    )
    torch_rate = None
    if args.torch_python:
        mine = cnn_images_per_s(sys.executable, "jax")
        theirs = cnn_images_per_s(args.torch_python, "torch")
        torch_rate = theirs["images_per_s"]
        print(
            f"paper encoder, forward + backward, batch {mine['batch']}: PyTorch "
            f"{torch_rate:,.0f} img/s ({theirs['gflops']} GFLOP/s, {theirs['threads']} "
            f"threads), engram's JAX {mine['images_per_s']:,.0f} img/s ({mine['gflops']} "
            f"GFLOP/s): {mine['images_per_s'] / torch_rate:.2f}x"
        )
    columns = [("environment", 24), ("agent", 5), ("compile s", 9), ("steps/s", 9)]
    if args.xla_baseline:
        columns += [("XLA defaults steps/s", 20), ("speed-up", 8)]
    if torch_rate:
        columns += [("/ torch img/s", 13)]
    columns += [("state KiB/env", 13), ("update GiB", 10), ("peak GiB", 8)]

    def line(values: list[str]) -> str:  # a Markdown row; the first two columns left-aligned
        cells = [
            f"{v:<{w}}" if i < 2 else f"{v:>{w}}"
            for i, (v, (_, w)) in enumerate(zip(values, columns, strict=True))
        ]
        return "| " + " | ".join(cells) + " |"

    print(line([name for name, _ in columns]))
    print("|" + "|".join("-" * (w + 2) for _, w in columns) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for env_id in args.envs:
            for agent in args.agents:
                r = measure(row_config(args, env_id, agent, tmp), args.updates)
                peak = "n/a" if r["peak"] is None else f"{r['peak'] / 2**30:.2f}"
                prog = r["program_bytes"]
                prog = "n/a" if prog is None else f"{prog / 2**30:.2f}"
                sps = "n/a" if r["sps"] is None else f"{r['sps']:,.0f}"
                row = [env_id, agent, f"{r['compile_s']:.1f}", sps]
                if args.xla_baseline:
                    base = baseline_row(args, env_id, agent)
                    fast = r["sps"] and base["sps"]
                    row += [f"{base['sps']:,.0f}" if base["sps"] else "n/a"]
                    row += [f"{r['sps'] / base['sps']:.2f}x" if fast else "n/a"]
                if torch_rate:
                    row += [f"{r['sps'] / torch_rate:.3f}" if r["sps"] else "n/a"]
                row += [f"{r['state_bytes'] / 1024:,.1f}", prog, peak]
                print(line(row), flush=True)


if __name__ == "__main__":
    main()
