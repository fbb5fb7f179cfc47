"""Soak test of ``engram train``: one long run with periodic evaluation and checkpoints,
sampling the process's resident memory (RSS) every few updates, to show whether memory
grows per update (retraced functions, accumulating logs, leaked device buffers).

Writes to ``--out`` (default ``runs/soak``):

- ``rss.csv``: one row per sample: update, seconds since the start, RSS in MiB, the
  number of live JAX arrays;
- ``summary.json``: the slope of RSS over time after the warm-up (least squares over the
  samples after ``--warmup`` of the run), in MiB per hour and KiB per update;
- ``rss.png``: the curve and the fitted line (when matplotlib is installed);
- ``run/``: the training run itself (checkpoints, TensorBoard events), ``train.log``.

The run stops after ``--minutes`` by the same path as Ctrl-C (a checkpoint of the last
completed update is written), so it also exercises that path once at the end::

    nice -n 19 python benchmarks/soak.py --minutes 70 --out runs/soak

``--summarize`` recomputes the summary and plot from an existing ``rss.csv`` (e.g. while
the soak still runs).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import jax
import numpy as np
from rich.console import Console

from engram.config import TrainConfig
from engram.ppo.trainer import Trainer
from engram.run import loop


def rss_mib(field: str = "VmRSS") -> float:
    """A memory figure of this process in MiB from Linux ``/proc/self/status``: ``VmRSS``
    (resident set) or ``RssAnon`` (its anonymous part: the heap, what a leak grows; the
    file-backed part, shared libraries, comes and goes with the page cache)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # the kernel reports kB
    raise RuntimeError(f"no {field} in /proc/self/status (not Linux?)")


def summarize(out: Path, warmup: float) -> dict:
    """Fit RSS against time and updates over the samples after the first ``warmup``
    fraction of the run (compilation and the allocator's first growth come before);
    write ``summary.json`` and, with matplotlib, ``rss.png``."""
    rows = list(csv.DictReader((out / "rss.csv").open()))
    update = np.array([float(r["update"]) for r in rows])
    seconds = np.array([float(r["seconds"]) for r in rows])
    rss = np.array([float(r["rss_mib"]) for r in rows])
    arrays = np.array([float(r["live_arrays"]) for r in rows])
    keep = seconds >= warmup * seconds[-1]
    if keep.sum() < 3:
        raise SystemExit(f"only {keep.sum()} samples after the warm-up: soak longer")
    per_second = np.polyfit(seconds[keep], rss[keep], 1)[0]
    per_update = np.polyfit(update[keep], rss[keep], 1)[0]
    summary = dict(
        samples=len(rows),
        updates=int(update[-1]),
        hours=float(seconds[-1] / 3600),
        warmup_fraction=warmup,
        rss_first_mib=float(rss[0]),
        rss_after_warmup_mib=float(rss[keep][0]),
        rss_last_mib=float(rss[-1]),
        rss_max_mib=float(rss.max()),
        slope_mib_per_hour=float(per_second * 3600),
        slope_kib_per_update=float(per_update * 1024),
        live_arrays_after_warmup=int(arrays[keep][0]),
        live_arrays_last=int(arrays[-1]),
    )
    if rows and rows[0].get("anon_mib"):  # written by this script since RssAnon was added
        anon = np.array([float(r["anon_mib"]) for r in rows])
        summary["anon_last_mib"] = float(anon[-1])
        summary["anon_slope_mib_per_hour"] = float(
            np.polyfit(seconds[keep], anon[keep], 1)[0] * 3600
        )
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return summary
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(seconds / 60, rss, lw=1, label="RSS")
    t = seconds[keep]
    fit = np.polyval(np.polyfit(t, rss[keep], 1), t)
    ax.plot(t / 60, fit, "--", label=f"fit after warm-up: {per_second * 3600:+.1f} MiB/h")
    ax.set_xlabel("minutes")
    ax.set_ylabel("RSS (MiB)")
    ax.set_title(f"engram train soak: {summary['updates']} updates")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "rss.png", dpi=120)
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=70.0, help="wall-clock length of the run")
    p.add_argument("--out", type=Path, default=Path("runs/soak"))
    p.add_argument("--env", default="MortarMayhem-Grid-v0")
    p.add_argument("--agent", default="gru")
    p.add_argument("--num-envs", type=int, default=4)
    p.add_argument("--num-steps", type=int, default=32)
    p.add_argument("--sample-every", type=int, default=5, help="updates between RSS samples")
    p.add_argument("--eval-every", type=int, default=25)
    p.add_argument("--checkpoint-every", type=int, default=10)
    p.add_argument("--warmup", type=float, default=0.1, help="fraction of the run not fitted")
    p.add_argument("--summarize", action="store_true", help="only summarise rss.csv")
    args = p.parse_args()
    if args.summarize:
        print(json.dumps(summarize(args.out, args.warmup), indent=2))
        return

    args.out.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(
        env=args.env,
        agent=args.agent,
        num_envs=args.num_envs,
        num_steps=args.num_steps,
        num_minibatches=2,
        num_epochs=2,
        memory_hidden=64,
        hidden=64,
        # An upper bound the clock never lets the run reach.
        total_steps=args.num_envs * args.num_steps * 10_000_000,
        eval_every=args.eval_every,
        eval_levels=8,
        eval_repetitions=1,
        checkpoint_every=args.checkpoint_every,
        run_dir=str(args.out),
        run_name="run",
    )
    deadline = time.time() + args.minutes * 60
    start = time.time()
    table = (args.out / "rss.csv").open("w", newline="")
    writer = csv.writer(table)
    writer.writerow(["update", "seconds", "rss_mib", "live_arrays", "anon_mib"])

    class Sampled(Trainer):
        """The trainer, sampling RSS after every ``--sample-every`` updates and ending the
        run (as Ctrl-C does) at the deadline."""

        def __init__(self, c):
            super().__init__(c)
            real = self.update
            count = [0]

            def update(ts):
                if time.time() > deadline:
                    raise KeyboardInterrupt  # the loop writes a checkpoint, then re-raises
                ts, m = real(ts)
                count[0] += 1
                if count[0] % args.sample_every == 0:
                    n = len(jax.live_arrays())
                    row = [count[0], f"{time.time() - start:.1f}", rss_mib(), n]
                    writer.writerow([*row, rss_mib("RssAnon")])
                    table.flush()
                return ts, m

            self.update = update

    loop.Trainer = Sampled  # the loop builds its trainer by this name
    with (args.out / "train.log").open("w") as log:
        try:
            loop.train(config, console=Console(file=log, width=120))
        except KeyboardInterrupt:
            pass
    table.close()
    print(json.dumps(summarize(args.out, args.warmup), indent=2))


if __name__ == "__main__":
    main()
