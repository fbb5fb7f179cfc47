"""The host loop of ``engram train``: progress, TensorBoard, periodic checkpoints and
evaluation, the NaN guard, resuming, and the final evaluation."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from tensorboardX import SummaryWriter

from engram.config import TrainConfig
from engram.evaluation import LEVEL_SEED_OFFSET, evaluate, interval_estimates, merge_seeds
from engram.ppo.trainer import Trainer, TrainState
from engram.run.checkpoint import CHECKPOINT, open_run, save_checkpoint
from engram.run.logging import log_eval, log_update, start_wandb
from engram.run.resources import peak_device_memory


class NonFiniteLossError(RuntimeError):
    """Raised when a loss becomes NaN or infinite; the last good checkpoint is kept."""


def _run_folder(c: TrainConfig) -> Path:
    name = c.run_name or f"{c.env}__{c.agent}__{c.seed}__{time.strftime('%Y%m%d-%H%M%S')}"
    path = Path(c.run_dir) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def train(config: TrainConfig, console=None) -> dict:
    """Train, printing progress, and evaluate the final policy.

    Writes to ``run_dir/run_name``: ``config.json``, TensorBoard events (CleanRL metric
    names), ``checkpoint.msgpack`` and ``eval.json``. With ``config.resume`` set, the run
    in that folder continues from its last checkpoint with its saved configuration; on a
    CPU the result is bit for bit that of an uninterrupted run. Ctrl-C writes a checkpoint
    of the last completed update before stopping.

    Returns:
        the evaluation summary (also in ``eval.json``) plus ``run_dir``.

    Raises:
        ValueError: for an invalid configuration or resume folder (before compilation).
        NonFiniteLossError: if a loss becomes NaN or infinite.
    """
    console = console or Console()
    if config.distributed:
        jax.distributed.initialize()  # reads the cluster from the environment
    if config.resume is not None:
        run = Path(config.resume)
        c, trainer, ts = open_run(run)
        done = int(np.max(ts.update))  # one counter per seed, all equal
        console.print(f"resuming {run} after update {done}/{c.num_updates}")
    else:
        config.validate()
        c = config
        run = _run_folder(c)
        # The resolved configuration: per-environment defaults filled in.
        (run / "config.json").write_text(json.dumps(c.resolved(), indent=2))
        trainer = Trainer(c)
        ts = trainer.initial_state()
        done = 0
    steps_per_update = c.num_envs * c.rollout_steps
    seeds = list(range(c.seed, c.seed + c.num_seeds))
    wandb_run = start_wandb(c, run) if c.track else None
    # One event folder per seed (the run folder itself for one seed). Events after the
    # checkpoint were written by the killed process: purge_step drops them.
    folders = [run] if len(seeds) == 1 else [run / f"seed_{s}" for s in seeds]
    purge = done * steps_per_update if done else None
    writers = [SummaryWriter(str(f), purge_step=purge) for f in folders]
    if not done:
        for writer in writers:
            writer.add_text("config", json.dumps(c.resolved(), indent=2))
    console.print(
        f"[bold]engram train[/bold] {c.env} agent={c.agent} "
        f"seed={c.seed if len(seeds) == 1 else f'{seeds[0]}..{seeds[-1]}'}: "
        f"{c.num_updates} updates of {c.num_envs} envs x {c.rollout_steps} steps "
        f"on {c.num_devices} {jax.devices()[0].platform.upper()} device(s) -> {run}"
    )
    # Every value the run trains with, defaults resolved (what --config paper chose too).
    console.print(
        " ".join(f"{k}={v}" for k, v in c.resolved().items() if k != "env_options"),
        style="dim",
        highlight=False,
    )
    # The same unseen levels for the agent and the random baseline, at every evaluation.
    levels = dict(
        levels=c.eval_levels, repetitions=c.eval_repetitions, seed=c.seed + LEVEL_SEED_OFFSET
    )

    if len(seeds) > 1:
        console.print(
            "[yellow]--num-seeds is experimental: on CPU a vmapped multi-seed update has been "
            "seen to stall inside XLA; if progress stops, train the seeds one by one.[/yellow]"
        )

    def evaluate_seeds(state: TrainState, **kw) -> list[dict]:
        return [
            evaluate(trainer.policy, trainer.seed_params(state, i), **levels, **kw)
            for i in range(len(seeds))
        ]

    state_bytes = trainer.policy.memory_state_bytes()
    console.print(
        f"memory state: {state_bytes / 1024:,.1f} KiB per environment "
        f"({state_bytes * c.num_envs / 2**20:,.1f} MiB for {c.num_envs} environments)"
    )
    console.print("compiling the update (takes a minute on a CPU) ...")
    total_steps = c.num_updates * steps_per_update
    recent: list[tuple[float, float, float]] = []  # (episodes, return sum, success sum)
    ckpt = run / CHECKPOINT
    start = time.time()
    measured_from, measured_steps = None, 0
    columns = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} steps"),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(
            "training", total=total_steps, completed=done * steps_per_update, info=""
        )
        for u in range(done + 1, c.num_updates + 1):
            try:
                ts, m = trainer.update(ts)
            except KeyboardInterrupt:
                save_checkpoint(ckpt, ts)  # ts is the last completed update
                progress.console.print(
                    f"interrupted: checkpoint of update {int(np.max(ts.update))} written; "
                    f"continue with  engram train --resume {run}"
                )
                raise
            m = jax.tree.map(np.asarray, jax.device_get(m))
            losses = ("loss", "policy_loss", "value_loss")
            if not all(np.isfinite(m[k]).all() for k in losses):
                raise NonFiniteLossError(
                    f"update {u}: loss is not finite (loss={m['loss']}, policy_loss="
                    f"{m['policy_loss']}, value_loss={m['value_loss']}); stopping. The last "
                    f"good checkpoint is {ckpt if ckpt.exists() else 'not written yet'}."
                )
            now = time.time()
            if measured_from is None:  # the first update of a process includes compilation
                measured_from = now
            else:
                measured_steps += steps_per_update * len(seeds)
            sps = measured_steps / max(now - measured_from, 1e-9) if measured_steps else 0.0
            step = u * steps_per_update
            for i, writer in enumerate(writers):
                seed_metrics = jax.tree.map(lambda x, i=i: x.reshape(-1)[i], m)
                log_update(writer, seed_metrics, step, sps / len(seeds), trainer.policy.has_success)
            # Progress: the episodes of the last 10 updates, all seeds pooled.
            counts = ("episodes", "return_sum", "success_sum", "trials", "trial_return_sum")
            recent = (recent + [[float(m[k].sum()) if k in m else 0.0 for k in counts]])[-10:]
            n, ret, succ, trials, trial_ret = (sum(r[i] for r in recent) for i in range(5))
            ret, succ = (ret / n, succ / n) if n else (float("nan"), float("nan"))
            info = f"SPS {sps:,.0f}  return {ret:.3f}" if measured_steps else f"return {ret:.3f}"
            if trainer.policy.has_success:
                info += f"  success {succ:.2f}"
            if trainer.policy.trials:
                info += f"  trial return {trial_ret / trials if trials else float('nan'):.2f}"
            progress.update(task, completed=step, info=info)
            if u == done + 1:
                progress.console.print(
                    f"first update (with compilation) took {now - start:.0f} s; return and "
                    "success are means over the episodes of the last 10 updates"
                    + (" of all seeds" if len(seeds) > 1 else "")
                )
            if u == done + 1 or u % max(1, c.num_updates // 20) == 0 or u == c.num_updates:
                progress.console.print(f"update {u:>5}/{c.num_updates}  steps {step:>9,}  {info}")
            if c.checkpoint_every and u % c.checkpoint_every == 0:
                save_checkpoint(ckpt, ts)
            if c.eval_every and u % c.eval_every == 0 and u != c.num_updates:
                periodic = evaluate_seeds(ts, deterministic=c.eval_deterministic)
                for writer, r in zip(writers, periodic, strict=True):
                    log_eval(writer, r, step)
                merged = merge_seeds(periodic)
                line = f"update {u:>5}: eval return {merged['mean_return']:.3f}"
                if merged["success_rate"] is not None:
                    line += f", success {merged['success_rate']:.2f}"
                progress.console.print(line)
    save_checkpoint(ckpt, ts)
    elapsed = time.time() - start
    console.print(f"trained {total_steps * len(seeds):,} steps in {elapsed:.0f} s")
    peak = peak_device_memory()
    if peak is not None:
        console.print(f"peak accelerator memory: {peak / 2**30:.2f} GiB")
    console.print(
        f"evaluating on {c.eval_levels} unseen levels x {c.eval_repetitions} episodes ..."
    )
    per_seed = evaluate_seeds(ts, deterministic=c.eval_deterministic)
    baseline = evaluate(trainer.policy, trainer.seed_params(ts, 0), random_policy=True, **levels)
    for writer, r in zip(writers, per_seed, strict=True):
        log_eval(writer, r, total_steps)
        writer.close()
    summary = merge_seeds(per_seed)
    if len(seeds) > 1:
        summary["seeds"] = seeds
        summary["per_seed"] = per_seed
    summary.update({f"return_{k}": v for k, v in interval_estimates(summary["returns"]).items()})
    summary.update(
        train_seconds=elapsed,
        train_steps=total_steps,
        random_policy_mean_return=baseline["mean_return"],
        random_policy_success_rate=baseline["success_rate"],
        memory_state_bytes_per_env=state_bytes,
        peak_device_memory_bytes=peak,
    )
    (run / "eval.json").write_text(json.dumps(summary, indent=2))
    if wandb_run is not None:
        wandb_run.finish()
    line = (
        f"eval: return {summary['mean_return']:.3f} +- {summary['std_return']:.3f} "
        f"(IQM {summary['return_iqm']:.3f})"
    )
    if summary.get("success_rate") is not None:
        line += f", success {summary['success_rate']:.2f}"
    if len(seeds) > 1:
        means = ", ".join(f"{r['mean_return']:.3f}" for r in per_seed)
        line += f"; per seed {means}"
    line += f"; a random policy on the same levels: {baseline['mean_return']:.3f}"
    console.print(line + f"  (saved to {run / 'eval.json'})")
    summary["run_dir"] = str(run)
    return summary
