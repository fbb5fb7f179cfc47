"""Against CleanRL side by side: training steps/s of CleanRL's ``ppo_trxl.py`` and of engram.

In one run, on this machine, the same PPO configuration (the Memory Gym paper's
Transformer-XL: 3 blocks x 384, 4 heads, window 119, sinusoidal positions; the same number
of environments, steps per rollout, epochs and minibatches; advantages normalised, as
engram does by default for Transformer-XL on this id) is trained by

* CleanRL's ``cleanrl/ppo_trxl/ppo_trxl.py`` (PyTorch, CPU), unchanged, on the ORIGINAL
  ``MortarMayhem-Grid-v0`` (``memory-gym==1.0.2``, a ``SyncVectorEnv``), in a child process
  of its own interpreter; its steps/s are taken over the updates after the first: the
  script prints one line per update (``<update> SPS=...``, read unbuffered), and each line's
  arrival is timed here, so the figure is (updates after the first) x batch / (time from the
  first line to the last). CleanRL's own ``SPS`` is cumulative from its start (first update,
  model set-up included) and is shown beside it;
* engram's ``Trainer.update`` (rollout, GAE and the epochs, one compiled program), with
  :func:`train_throughput.measure`: the compile time (and first update) apart, the steady
  steps/s over the following updates.

The table gives both steps/s and the ratio engram / CleanRL (issue 20's goal: at least 5x).
CleanRL's code is not part of engram: pass a checkout of github.com/vwxyzjn/cleanrl with
``--cleanrl-dir`` (a work tree, or a bare git directory: then ``cleanrl/ppo_trxl`` of its
HEAD is extracted to a temporary folder), and an interpreter that runs it with
``--cleanrl-python``. That interpreter, outside the repository (a CPU PyTorch; plain
``torch`` would pull the CUDA wheels; memory-gym 1.0.2 pins gymnasium 0.29.0; ``minigrid``
and ``tyro``, ``einops``, ``tensorboard`` are what ``ppo_trxl.py`` imports)::

    python -m venv /work/cleanrl-venv
    /work/cleanrl-venv/bin/pip install torch==2.13.0 memory-gym==1.0.2 "minigrid<3" \\
        tyro einops tensorboard

The real measurement (16 environments x 128 steps, 3 epochs x 8 minibatches, 3 timed
updates each; under 10 minutes on a quiet 2-core machine, mostly engram's compilation)::

    python benchmarks/cleanrl_trxl.py --cleanrl-dir /work/.mirror/vwxyzjn+cleanrl/repo \\
        --cleanrl-python /work/cleanrl-venv/bin/python

A quick check of the plumbing (a small Transformer-XL, figures meaningless)::

    python benchmarks/cleanrl_trxl.py --cleanrl-dir /work/.mirror/vwxyzjn+cleanrl/repo \\
        --cleanrl-python /work/cleanrl-venv/bin/python --num-envs 2 --num-steps 64 \\
        --num-minibatches 2 --update-epochs 1 --updates 2 --trxl-num-layers 1 \\
        --trxl-dim 64 --trxl-memory-length 16

Both run one after the other, never at once, each with the threads its framework takes by
default. CleanRL prints its per-update line only once an episode has ended in the run
(``--num-steps`` of at least about 50 on this id: a random agent's episode lasts about 46
steps).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import engram  # noqa: F401  (XLA's CPU flags, set before JAX starts)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jax  # noqa: E402
from train_throughput import measure  # noqa: E402

from engram.config import TrainConfig  # noqa: E402

SCRIPT = Path("cleanrl") / "ppo_trxl" / "ppo_trxl.py"
# ppo_trxl.py's line per update: "<update> SPS=<cumulative steps/s> return=..."
UPDATE_LINE = re.compile(r"^\s*(\d+)\s+SPS=\s*(\d+)\s")


def cleanrl_script(cleanrl_dir: Path, tmp: Path) -> tuple[Path, str]:
    """``ppo_trxl.py`` of a CleanRL work tree, or extracted from a bare git directory's
    HEAD into ``tmp``; and the commit, when git knows it."""
    git = ["git", f"--git-dir={cleanrl_dir}"]
    if (cleanrl_dir / SCRIPT).is_file():
        script = cleanrl_dir / SCRIPT
        git = ["git", "-C", str(cleanrl_dir)]
    else:
        archive = subprocess.run(
            [*git, "archive", "HEAD", str(SCRIPT.parent)], capture_output=True, check=False
        )
        if archive.returncode != 0:
            sys.exit(f"error: --cleanrl-dir {cleanrl_dir}: no {SCRIPT}, and not a git directory")
        subprocess.run(["tar", "x", "-C", str(tmp)], input=archive.stdout, check=True)
        script = tmp / SCRIPT
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return script, head.stdout.strip()[:12] if head.returncode == 0 else "unknown"


def cleanrl_versions(python: str) -> str:
    """torch, memory-gym and gymnasium versions and torch's threads in ``python``."""
    code = (
        "import importlib.metadata as m, torch; "
        "print(f'torch {torch.__version__} ({torch.get_num_threads()} threads), memory-gym '"
        " + m.version('memory-gym') + ', gymnasium ' + m.version('gymnasium'))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"error: --cleanrl-python {python}:\n{out.stderr[-2000:]}")
    return out.stdout.strip()


def run_cleanrl(args, script: Path, workdir: Path) -> dict:
    """Run ``ppo_trxl.py`` for ``args.updates + 1`` updates; time each update's line."""
    batch = args.num_envs * args.num_steps
    cmd = [args.cleanrl_python, str(script), "--env-id", args.env, "--no-cuda", "--norm-adv"]
    cmd += ["--num-envs", str(args.num_envs), "--num-steps", str(args.num_steps)]
    cmd += ["--num-minibatches", str(args.num_minibatches)]
    cmd += ["--update-epochs", str(args.update_epochs)]
    cmd += ["--total-timesteps", str(batch * (args.updates + 1))]
    cmd += ["--trxl-num-layers", str(args.trxl_num_layers), "--trxl-dim", str(args.trxl_dim)]
    cmd += ["--trxl-num-heads", str(args.trxl_num_heads)]
    cmd += ["--trxl-memory-length", str(args.trxl_memory_length)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    stamps: list[tuple[int, float, int]] = []  # (update, seconds since start, its SPS)
    lines: list[str] = []
    with subprocess.Popen(
        cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        for line in proc.stdout:
            now = time.perf_counter() - start
            lines.append(line)
            m = UPDATE_LINE.match(line)
            if m:
                stamps.append((int(m[1]), now, int(m[2])))
                if args.verbose:
                    print(f"  CleanRL, {now:.1f} s: {line.rstrip()}", flush=True)
    if proc.returncode != 0 or len(stamps) < 2:
        tail = "".join(lines[-40:])
        sys.exit(f"error: {' '.join(cmd)} (exit {proc.returncode}, {len(stamps)} updates):\n{tail}")
    (first, t_first, _), (last, t_last, own_sps) = stamps[0], stamps[-1]
    return {
        "first_s": t_first,
        "sps": (last - first) * batch / (t_last - t_first),
        "own_sps": own_sps,
        "updates": last - first,
        "seconds": t_last - t_first,
    }


#: The compared configuration (the command line's defaults): the Memory Gym paper's
#: Transformer-XL on MortarMayhem-Grid-v0 with CleanRL's rollout and minibatching.
PAPER_TRXL = {
    "env": "MortarMayhem-Grid-v0",
    "num_envs": 16,
    "num_steps": 128,
    "update_epochs": 3,
    "num_minibatches": 8,
    "trxl_num_layers": 3,
    "trxl_dim": 384,
    "trxl_num_heads": 4,
    "trxl_memory_length": 119,
}


def engram_config(args, run_dir: str) -> TrainConfig:
    """engram's ``TrainConfig`` for the command line's ``args`` (the fields of
    :data:`PAPER_TRXL` and ``updates``, the timed updates after the first), normalised
    advantages as CleanRL's ``--norm-adv``, runs written under ``run_dir``."""
    return TrainConfig(
        env=args.env,
        agent="trxl",
        num_envs=args.num_envs,
        num_steps=args.num_steps,
        num_epochs=args.update_epochs,
        num_minibatches=args.num_minibatches,
        total_steps=args.num_envs * args.num_steps * (args.updates + 1),
        trxl_num_layers=args.trxl_num_layers,
        trxl_dim=args.trxl_dim,
        trxl_num_heads=args.trxl_num_heads,
        trxl_memory_length=args.trxl_memory_length,
        normalize_advantages=True,
        run_dir=run_dir,
    )


def run_engram(args) -> dict:
    """engram's update with the same configuration (``train_throughput.measure``)."""
    with tempfile.TemporaryDirectory() as tmp:
        return measure(engram_config(args, tmp), args.updates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cleanrl-dir", type=Path, required=True, help="a CleanRL checkout")
    parser.add_argument(
        "--cleanrl-python", required=True, help="a Python with torch and memory-gym"
    )
    parser.add_argument("--env", default=PAPER_TRXL["env"])
    parser.add_argument("--num-envs", type=int, default=PAPER_TRXL["num_envs"])
    parser.add_argument("--num-steps", type=int, default=PAPER_TRXL["num_steps"])
    parser.add_argument("--update-epochs", type=int, default=PAPER_TRXL["update_epochs"])
    parser.add_argument("--num-minibatches", type=int, default=PAPER_TRXL["num_minibatches"])
    parser.add_argument(
        "--updates", type=int, default=3, help="timed updates after the first, each side"
    )
    parser.add_argument("--trxl-num-layers", type=int, default=PAPER_TRXL["trxl_num_layers"])
    parser.add_argument("--trxl-dim", type=int, default=PAPER_TRXL["trxl_dim"])
    parser.add_argument("--trxl-num-heads", type=int, default=PAPER_TRXL["trxl_num_heads"])
    parser.add_argument("--trxl-memory-length", type=int, default=PAPER_TRXL["trxl_memory_length"])
    parser.add_argument("--verbose", action="store_true", help="print CleanRL's update lines")
    args = parser.parse_args()
    if args.updates < 1:
        parser.error("--updates: at least 1")
    if args.num_envs % args.num_minibatches:
        parser.error("--num-minibatches must divide --num-envs (engram's minibatches)")

    device = jax.devices()[0]
    print(
        f"{args.env}: {args.num_envs} envs x {args.num_steps} steps, {args.update_epochs} "
        f"epochs x {args.num_minibatches} minibatches, Transformer-XL {args.trxl_num_layers} "
        f"x {args.trxl_dim}, {args.trxl_num_heads} heads, window {args.trxl_memory_length}; "
        f"{args.updates} timed updates after the first, each side"
    )
    with tempfile.TemporaryDirectory() as tmp:
        script, commit = cleanrl_script(args.cleanrl_dir.resolve(), Path(tmp))
        print(f"CleanRL {commit}: {cleanrl_versions(args.cleanrl_python)}", flush=True)
        theirs = run_cleanrl(args, script, Path(tmp))
    print(f"engram: jax {jax.__version__}, {device.platform.upper()} ({device.device_kind})")
    print(f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}", flush=True)
    mine = run_engram(args)

    rows = [
        ("implementation", "environment", "until timed s", "steps/s"),
        (
            "CleanRL ppo_trxl.py (PyTorch)",
            f"{args.env} (memory-gym)",
            f"{theirs['first_s']:.1f}",
            f"{theirs['sps']:,.1f}",
        ),
        (
            "engram Trainer.update (JAX)",
            f"{args.env} (engram)",
            f"{mine['compile_s']:.1f}",
            f"{mine['sps']:,.1f}",
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]

    def line(row) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [f"{v:<{w}}" if i < 2 else f"{v:>{w}}" for i, (v, w) in pairs]
        return "| " + " | ".join(cells) + " |"

    print(line(rows[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows[1:]:
        print(line(row))
    print(
        "until timed s: CleanRL from its start (imports, environments, model) to the end of "
        "its first update; engram's compilation and first update"
    )
    print(
        f"engram / CleanRL: {mine['sps'] / theirs['sps']:.2f}x (issue 20's goal: at least 5x); "
        f"CleanRL's own cumulative SPS at its last update: {theirs['own_sps']}"
    )


if __name__ == "__main__":
    main()
