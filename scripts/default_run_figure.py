"""The README's picture of the default run: success of the GRU and of the memory-less agent
against environment steps and wall time, from two run folders of ``engram train``.

    engram train --run-name default-gru
    engram train --agent none --run-name default-none
    python scripts/default_run_figure.py runs/default-gru runs/default-none \\
        --out docs/images/default-run.png

Each panel draws the training episodes' success (``charts/success``, a running mean over 10
updates; actions sampled), the periodic evaluations on 50 unseen levels x 3 episodes
(``eval/success``, dots) and the final evaluation (``eval.json``, a ring at the last step),
beside the success of standing still (``--chance``) and of the best memory-less policy
(``--memoryless-best``), both given by hand.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engram.report.data import load_run

SMOOTH = 10


def running_mean(values: np.ndarray, n: int) -> np.ndarray:
    """The mean of each value and the up to ``n - 1`` before it."""
    sums = np.cumsum(np.concatenate([[0.0], values]))
    lo = np.maximum(np.arange(1, len(values) + 1) - n, 0)
    return (sums[1:] - sums[lo]) / (np.arange(1, len(values) + 1) - lo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders of engram train")
    parser.add_argument("--out", default="docs/images/default-run.png")
    parser.add_argument("--chance", type=float, default=None, help="success of standing still")
    parser.add_argument(
        "--memoryless-best", type=float, default=None, help="best memory-less success"
    )
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4), sharey=True)
    for folder in args.runs:
        (run,) = load_run(folder)
        train = run.curves["charts/success"]
        evals = run.curves.get("eval/success")
        label = run.agent if run.agent != "none" else "none (memory-less)"
        for ax, x in zip(axes, ("steps", "wall"), strict=True):
            xs = getattr(train, x) / (1e3 if x == "steps" else 60.0)
            (line,) = ax.plot(xs, running_mean(train.values, SMOOTH), label=label)
            if evals is not None:
                ex = getattr(evals, x) / (1e3 if x == "steps" else 60.0)
                ax.plot(ex, evals.values, "o", color=line.get_color(), markersize=3)
            if run.eval is not None and run.eval.get("success_rate") is not None:
                ax.plot(xs[-1], run.eval["success_rate"], "o", mfc="none", color=line.get_color())
    for ax, x in zip(axes, ("steps", "wall"), strict=True):
        if args.chance is not None:
            ax.axhline(args.chance, color="grey", linestyle=":", label="standing still")
        if args.memoryless_best is not None:
            ax.axhline(args.memoryless_best, color="grey", linestyle="--", label="best memory-less")
        ax.set_xlabel("environment steps (thousands)" if x == "steps" else "wall time (minutes)")
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("success")
    axes[0].legend(fontsize=8, loc="center right")
    options = " ".join(run.config.get("env_options", []))
    fig.suptitle(f"{run.config['env']}\n{options}", fontsize=8)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
