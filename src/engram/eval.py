"""``engram eval``: evaluate a trained run on unseen levels with the paper's protocol
(:mod:`engram.evaluation`), beside a random policy on the same levels, print the table and
save the per-episode results with their aggregates."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from engram.evaluation import LEVEL_SEED_OFFSET, evaluate, interval_estimates, merge_seeds
from engram.run.checkpoint import load_run


@dataclass
class EvalConfig:
    """Evaluate a trained run on unseen levels (the paper's protocol: 50 level seeds x 3 episodes), beside a random policy on the same levels."""  # noqa: E501

    run_dir: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR")]
    """A run folder written by engram train (config.json and checkpoint.msgpack)."""
    levels: int = 50
    """Level seeds, none of them used in training."""
    repetitions: int = 3
    """Episodes per level."""
    seed: int | None = None
    """Seed of the levels; default the run's seed + 1,000,003 (the levels of the final
    evaluation of engram train)."""
    deterministic: bool = False
    """Take the most likely action instead of sampling."""
    baseline: bool = True
    """Also evaluate a uniformly random policy on the same levels."""
    trial_scale: int = 1
    """Trial tasks: play trials this many times longer than in training (e.g. 2, 4, 8), the
    test of generalisation to longer contexts (fct/memo/rmt caches grow to match)."""
    stream_window: int | None = None
    """fct/memo/rmt: keep only the most recent this many cached tokens (oldest dropped
    first, positions not re-indexed), the Memo paper's streaming evaluation. Memo keeps
    (W - segment_length) // summary_length summary sets beside its segment."""
    bootstrap_reps: int = 2000
    """Bootstrap resamples of the confidence intervals."""
    out: str | None = None
    """Where to save the results (JSON); default RUN_DIR/evaluation.json."""


def evaluate_run(config: EvalConfig, console=None) -> dict:
    """``engram eval``: load a run's last checkpoint, evaluate, print and save.

    Returns:
        ``{"agent": summary, "random": summary or None}``; each summary has the per-episode
        results of :func:`evaluate` and the aggregates of :func:`interval_estimates` for
        the return (``return_*``) and, where the task has one, success (``success_*``).

    Raises:
        ValueError: a bad field (named), or a run folder that is missing or damaged.
    """
    from rich.console import Console
    from rich.table import Table

    for name in ("levels", "repetitions", "bootstrap_reps", "trial_scale"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name}: got {getattr(config, name)}, expected an int >= 1")
    console = console or Console()
    run = load_run(config.run_dir)
    train_config = run.config
    seed = train_config.seed + LEVEL_SEED_OFFSET if config.seed is None else config.seed
    if config.trial_scale != 1 and not run.policy.trials:
        raise ValueError(
            f"trial_scale: got {config.trial_scale}, but {train_config.env} has no trials (use 1)"
        )
    policy = run.policy.for_evaluation(config.trial_scale, config.stream_window)
    console.print(
        f"evaluating {config.run_dir} (update {run.update}/"
        f"{train_config.num_updates}, {train_config.num_seeds} seed(s)) on "
        f"{config.levels} levels x {config.repetitions} episodes, level seed {seed}"
    )
    started = time.time()
    results = {}
    for who in ("agent", "random") if config.baseline else ("agent",):
        # Every seed of a multi-seed run meets the same levels; episodes are pooled.
        n_seeds = 1 if who == "random" else train_config.num_seeds
        per_seed = [
            evaluate(
                policy,
                run.params[i],
                config.levels,
                seed,
                repetitions=config.repetitions,
                deterministic=config.deterministic,
                random_policy=who == "random",
                trial_scale=config.trial_scale,
            )
            for i in range(n_seeds)
        ]
        summary = merge_seeds(per_seed)
        for metric, values in (("return", summary["returns"]), ("success", summary["success"])):
            if values is not None:
                estimates = interval_estimates(values, reps=config.bootstrap_reps)
                summary.update({f"{metric}_{k}": v for k, v in estimates.items()})
        results[who] = summary
    results.setdefault("random", None)
    results["env"] = train_config.env
    results["stream_window"] = config.stream_window
    if policy.memory.token_cache:
        results["max_context"] = policy.config.decoder_settings().max_context
    results["update"] = run.update
    results["seconds"] = time.time() - started

    table = Table(title=f"{train_config.env}, {results['agent']['episodes']} episodes each")
    for column in ("policy", "mean return (95% CI)", "IQM return (95% CI)", "mean length"):
        table.add_column(column)
    if policy.has_success:
        table.add_column("success (95% CI)")
    for who in ("agent", "random"):
        r = results[who]
        if r is None:
            continue
        row = [
            who + (" (greedy)" if r["deterministic"] else ""),
            f"{r['return_mean']:.3f} [{r['return_mean_ci'][0]:.3f}, {r['return_mean_ci'][1]:.3f}]",
            f"{r['return_iqm']:.3f} [{r['return_iqm_ci'][0]:.3f}, {r['return_iqm_ci'][1]:.3f}]",
            f"{r['mean_length']:.1f}",
        ]
        if policy.has_success:
            lo, hi = r["success_mean_ci"]
            row.append(f"{r['success_mean']:.2f} [{lo:.2f}, {hi:.2f}]")
        table.add_row(*row)
    console.print(table)
    if "per_episode_index" in results["agent"]:
        console.print(curve_table(results, train_config.env))
    out = Path(config.out) if config.out else Path(config.run_dir) / "evaluation.json"
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(out)
    console.print(f"saved per-episode results and aggregates to {out}")
    return results


def curve_table(results: dict, env_id: str, rows: int = 12):
    """A rich table of the in-context curve: return (and success, and the task's metrics)
    by episode index within the trial, agent beside random policy; ``rows`` indices spread
    over the episodes seen (the first ones, then every k-th)."""
    from rich.table import Table

    agent = results["agent"]["per_episode_index"]
    rnd = (results.get("random") or {}).get("per_episode_index")
    n = len(agent["count"])
    picks = (
        list(range(n))
        if n <= rows
        else sorted({round(i * (n - 1) / (rows - 1)) for i in range(rows)})
    )
    metrics = [k for k in agent if k.startswith("mean_") or k == "success_rate"]
    table = Table(
        title=f"{env_id}: by episode index within the trial "
        f"(trials of {results['agent']['trial_length']} steps)"
    )
    table.add_column("episode")
    table.add_column("episodes")
    for m in metrics:
        table.add_column(m.replace("mean_", "") + " (agent)")
        if rnd is not None:
            table.add_column(m.replace("mean_", "") + " (random)")

    def cell(curve, m, i):
        v = curve[m][i] if curve is not None and i < len(curve[m]) else None
        return "-" if v is None else f"{v:.3f}"

    for i in picks:
        row = [str(i), str(agent["count"][i])]
        for m in metrics:
            row.append(cell(agent, m, i))
            if rnd is not None:
                row.append(cell(rnd, m, i))
        table.add_row(*row)
    return table
