"""The host loop of ``engram train``: progress, TensorBoard, periodic checkpoints and
evaluation, the NaN guard, resuming, and the final evaluation."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
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
    """Raised when a loss, a parameter or an optimiser statistic becomes NaN or infinite;
    the last good checkpoint is kept (nothing non-finite is ever written)."""


class RunInUseError(ValueError):
    """Raised when another process is training in the same run folder."""


#: The lock file in a run folder: held (``flock``) by the process training there. The
#: operating system releases it when that process ends, however it ends, so a killed run
#: never leaves a stale lock behind.
LOCK = "train.lock"


def _lock_run(run: Path):
    """Hold the run folder's :data:`LOCK` for this process; returns the open file (closing
    it releases the lock).

    Raises:
        RunInUseError: another living process holds it.
    """
    f = open(run / LOCK, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
            f.close()
            raise
        f.seek(0)
        holder = f.read().strip() or "unknown"
        f.close()
        raise RunInUseError(
            f"run folder {run} is in use by another engram train (pid {holder}); two runs "
            "writing one folder would overwrite each other's checkpoints: wait for it to "
            "end, or choose another --run-name"
        ) from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


@jax.jit
def _all_finite(tree) -> jax.Array:
    """True when every floating-point leaf of ``tree`` is free of NaN and infinity."""
    leaves = [
        jnp.isfinite(x).all()
        for x in jax.tree.leaves(tree)
        if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)
    ]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


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

    The process holds the run folder's lock file (:data:`LOCK`) while it trains, so a
    second run pointed at the same folder refuses to start.

    Raises:
        ValueError: for an invalid configuration or resume folder (before compilation).
        RunInUseError: another process trains in the run folder (a ``ValueError``).
        NonFiniteLossError: if a loss, parameter or optimiser statistic becomes NaN or
            infinite; the checkpoint on disk is the last finite one.
        CheckpointWriteError: a checkpoint could not be written (e.g. a full disk); the
            previous one is intact.
        KeyboardInterrupt: on Ctrl-C, after writing a checkpoint of the last completed
            update (and printing how to resume).
    """
    console = console or Console()
    if config.distributed:
        jax.distributed.initialize()  # reads the cluster from the environment
    if config.resume is not None:
        run = Path(config.resume)
        # Lock before reading, so the checkpoint cannot change under us; a folder that
        # turns out not to be a run keeps no lock file (resuming writes nothing then).
        created = run.is_dir() and not (run / LOCK).exists()
        lock = _lock_run(run) if run.is_dir() else None
        try:
            c, trainer, ts = open_run(run)
        except BaseException:
            if lock is not None:
                if created:
                    (run / LOCK).unlink(missing_ok=True)
                lock.close()
            raise
        done = int(np.max(ts.update))  # one counter per seed, all equal
        console.print(f"resuming {run} after update {done}/{c.num_updates}")
    else:
        config.validate()
        c = config
        run = _run_folder(c)
        lock = _lock_run(run)  # before anything is written into the folder
        # The resolved configuration: per-environment defaults filled in.
        (run / "config.json").write_text(json.dumps(c.resolved(), indent=2))
        trainer = Trainer(c)
        ts = trainer.initial_state()
        done = 0
    try:
        return _train_locked(c, run, trainer, ts, done, console)
    finally:
        lock.close()


def _guard(u: int, m: dict, ts: TrainState, ckpt: Path) -> None:
    """Stop the run when update ``u`` produced a non-finite loss (metrics ``m``) or left a
    non-finite parameter or optimiser statistic in ``ts`` (a finite loss can precede the
    step that breaks the parameters; checkpointing them would lose the last good state)."""
    where = f"The last good checkpoint is {ckpt if ckpt.exists() else 'not written yet'}"
    losses = ("loss", "policy_loss", "value_loss")
    if not all(np.isfinite(m[k]).all() for k in losses):
        raise NonFiniteLossError(
            f"update {u}: loss is not finite (loss={m['loss']}, policy_loss="
            f"{m['policy_loss']}, value_loss={m['value_loss']}); stopping. {where}."
        )
    if not bool(_all_finite((ts.params, ts.opt_state))):
        raise NonFiniteLossError(
            f"update {u}: parameters or optimiser state are not finite (NaN or infinity) "
            f"although the loss was; stopping. {where}."
        )


def _train_locked(
    c: TrainConfig, run: Path, trainer: Trainer, ts: TrainState, done: int, console
) -> dict:
    """:func:`train` once the run folder is locked and the state initialised or loaded."""
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
    # Ctrl-C anywhere from here on (compiling, updating, logging, evaluating, writing a
    # checkpoint) ends with a checkpoint of ts, the last completed update: ts is assigned
    # only once an update returned and passed the guard, and the write is atomic.
    try:
        console.print("compiling the update (takes a minute on a CPU) ...")
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(
                "training", total=total_steps, completed=done * steps_per_update, info=""
            )
            for u in range(done + 1, c.num_updates + 1):
                new, m = trainer.update(ts)
                m = jax.tree.map(np.asarray, jax.device_get(m))
                _guard(u, m, new, ckpt)
                ts = new  # only a state that passed the guard is ever checkpointed
                now = time.time()
                if measured_from is None:  # the first update of a process includes compilation
                    measured_from = now
                else:
                    measured_steps += steps_per_update * len(seeds)
                sps = measured_steps / max(now - measured_from, 1e-9) if measured_steps else 0.0
                step = u * steps_per_update
                for i, writer in enumerate(writers):
                    seed_metrics = jax.tree.map(lambda x, i=i: x.reshape(-1)[i], m)
                    log_update(
                        writer, seed_metrics, step, sps / len(seeds), trainer.policy.has_success
                    )
                # Progress: the episodes of the last 10 updates, all seeds pooled.
                counts = ("episodes", "return_sum", "success_sum", "trials", "trial_return_sum")
                recent = (recent + [[float(m[k].sum()) if k in m else 0.0 for k in counts]])[-10:]
                n, ret, succ, trials, trial_ret = (sum(r[i] for r in recent) for i in range(5))
                ret, succ = (ret / n, succ / n) if n else (float("nan"), float("nan"))
                info = (
                    f"SPS {sps:,.0f}  return {ret:.3f}" if measured_steps else f"return {ret:.3f}"
                )
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
                    progress.console.print(
                        f"update {u:>5}/{c.num_updates}  steps {step:>9,}  {info}"
                    )
                if c.checkpoint_every and u % c.checkpoint_every == 0:
                    save_checkpoint(ckpt, ts, c)
                if c.eval_every and u % c.eval_every == 0 and u != c.num_updates:
                    periodic = evaluate_seeds(ts, deterministic=c.eval_deterministic)
                    for writer, r in zip(writers, periodic, strict=True):
                        log_eval(writer, r, step)
                    merged = merge_seeds(periodic)
                    line = f"update {u:>5}: eval return {merged['mean_return']:.3f}"
                    if merged["success_rate"] is not None:
                        line += f", success {merged['success_rate']:.2f}"
                    progress.console.print(line)
    except KeyboardInterrupt:
        save_checkpoint(ckpt, ts, c)
        console.print(
            f"interrupted: checkpoint of update {int(np.max(ts.update))} written; "
            f"continue with  engram train --resume {run}"
        )
        raise
    save_checkpoint(ckpt, ts, c)
    elapsed = time.time() - start
    console.print(f"trained {total_steps * len(seeds):,} steps in {elapsed:.0f} s")
    peak = peak_device_memory()
    if peak is not None:
        console.print(f"peak accelerator memory: {peak / 2**30:.2f} GiB")
    console.print(
        f"evaluating on {c.eval_levels} unseen levels x {c.eval_repetitions} episodes ..."
    )
    try:
        per_seed = evaluate_seeds(ts, deterministic=c.eval_deterministic)
        baseline = evaluate(
            trainer.policy, trainer.seed_params(ts, 0), random_policy=True, **levels
        )
    except KeyboardInterrupt:
        console.print(
            f"interrupted during the final evaluation; the checkpoint of update "
            f"{c.num_updates} is written: evaluate it with  engram eval {run}"
        )
        raise
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
