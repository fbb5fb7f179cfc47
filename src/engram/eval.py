"""Evaluation of a policy with the Memory Gym paper's protocol.

The paper evaluates every checkpoint on 50 level seeds never used in training, 3 episodes
per seed (reference section 5). Here a *level* is everything the environment draws at
random: the reset key and the key of every environment step are derived from the level's
key alone, so the repetitions of a level meet the same level and differ only in the
policy's sampled actions. All episodes run in parallel, one per vmapped environment.

Aggregates follow rliable (Agarwal et al., 2021): the interquartile mean (IQM) and the
mean with stratified-bootstrap 95% confidence intervals over episodes.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import tyro

from engram.models import DECODER_MEMORIES, greedy_action, sample_action

#: Level seeds of evaluation are ``seed + LEVEL_SEED_OFFSET``: far from the training seed,
#: whose levels come from ``jax.random.key(seed)``.
LEVEL_SEED_OFFSET = 1_000_003


#: Episode indices within a trial that :func:`evaluate` tells apart; later episodes of a
#: trial are counted in the last index.
MAX_EPISODE_INDEX = 1024


def evaluate(
    trainer,
    params,
    levels: int,
    seed: int,
    repetitions: int = 1,
    deterministic: bool = False,
    chunk: int = 128,
    max_steps: int = 100_000,
    random_policy: bool = False,
    trial_scale: int = 1,
) -> dict:
    """Play ``repetitions`` episodes on each of ``levels`` levels, all in parallel.

    For a trial task (``engram.core.trials``) an "episode" here is a whole trial, and the
    episodes inside the trials are also reported by their index within the trial
    (``per_episode_index``), the in-context learning curve.

    Args:
        trainer: a :class:`engram.train.Trainer` (environment, agent and action layout).
        params: the agent's parameters.
        levels: number of distinct levels (level seeds).
        seed: seed of the levels; use one not used in training (see
            :data:`LEVEL_SEED_OFFSET`). The same seed gives the same levels to every
            policy, so a trained agent and the random baseline meet the same levels.
        repetitions: episodes per level (the paper: 3).
        deterministic: take the most likely action instead of sampling.
        chunk: steps compiled into one call (the loop stops once every episode ended).
        max_steps: give up after this many steps (an episode still running is reported
            with ``done`` False).
        random_policy: ignore ``params`` and pick actions uniformly at random.
        trial_scale: trial tasks only: play trials this many times longer than in
            training (``trial_length`` x ``trial_scale``), the test of generalisation to
            longer contexts.

    Returns:
        a JSON-ready dict: per episode (level-major order) ``level``, ``returns``,
        ``lengths``, ``success`` (None if the environment has no success flag) and
        ``done``; ``mean_return``, ``std_return``, ``mean_length``, ``success_rate``; for
        trial tasks ``trial_length`` and ``per_episode_index``: lists by episode index
        within the trial of ``count`` (finished episodes; an episode cut by the trial's
        end is left out), ``mean_return``, ``success_rate`` and the means of the task's
        end-of-episode metrics (e.g. ``spl``).

    Raises:
        ValueError: ``levels``, ``repetitions`` or ``trial_scale`` below 1, or a
            ``trial_scale`` other than 1 for a task without trials.
    """
    for name, value in (
        ("levels", levels),
        ("repetitions", repetitions),
        ("trial_scale", trial_scale),
    ):
        if value < 1:
            raise ValueError(f"{name}: got {value}, expected an int >= 1")
    env = trainer.env.unwrapped
    env_params = trainer.env_params
    if trial_scale != 1:
        if not env.trials:
            raise ValueError(
                f"trial_scale: got {trial_scale}, but {env.env_id} has no trials (use 1)"
            )
        env_params = env_params.replace(trial_length=env_params.trial_length * trial_scale)
    episodes = levels * repetitions
    k_levels, k_actions = jax.random.split(jax.random.key(seed))
    level_keys = jnp.repeat(jax.random.split(k_levels, levels), repetitions, axis=0)
    action_keys = jax.random.split(k_actions, episodes)
    start, run = _program(trainer, episodes, deterministic, random_policy, chunk)
    c = start(env_params, level_keys)
    for _ in range(0, max_steps, chunk):
        c = run(params, env_params, c, level_keys, action_keys)
        if not bool(c["alive"].any()):
            break
    c = jax.device_get(c)
    returns = np.asarray(c["ret"], float)
    success = np.asarray(c["success"])
    out = {
        "episodes": episodes,
        "levels": levels,
        "repetitions": repetitions,
        "seed": seed,
        "policy": "random" if random_policy else "agent",
        "deterministic": deterministic and not random_policy,
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "mean_length": float(np.mean(c["length"])),
        "success_rate": float(np.mean(success)) if trainer.has_success else None,
        "level": np.repeat(np.arange(levels), repetitions).tolist(),
        "returns": returns.tolist(),
        "lengths": np.asarray(c["length"]).tolist(),
        "success": success.tolist() if trainer.has_success else None,
        "done": (~np.asarray(c["alive"])).tolist(),
    }
    if env.trials:
        by_index = c["by_index"]
        out["trial_length"] = int(env_params.trial_length)
        out["per_episode_index"] = _curve({k: v.sum(0) for k, v in by_index.items()})
        if trainer.has_success:  # a trial's success: the share of its episodes that succeeded
            count = by_index["count"].sum(1)
            success = by_index["success"].sum(1) / np.maximum(count, 1)
            out["success"] = success.tolist()
            out["success_rate"] = float(by_index["success"].sum() / max(count.sum(), 1))
    return out


def acting_trainer(trainer, trial_scale: int = 1, stream_window: int | None = None):
    """The trainer to evaluate ``trainer``'s parameters with, its token caches sized for
    the evaluation (the parameters do not depend on the cache sizes).

    * ``trial_scale > 1`` (fct/memo/rmt on a trial task): the caches grow to cover the
      longer trials, so the agent is tested on a longer context rather than silently
      streaming.
    * ``stream_window=W`` (fct, memo, rmt): keep only the most recent ``W`` cached tokens,
      the oldest dropped first and positions not re-indexed (the Memo paper's streaming
      evaluation, ``reference/memo.md`` section 6). FCT: a ring of ``W`` steps. Memo: as
      many summary sets as fit beside one segment, ``(W - segment_length) //
      summary_length``; RMT keeps one set anyway.

    Acting always uses the fixed segment length, so ``segment_jitter`` is dropped.
    Returns ``trainer`` itself when nothing changes.

    Raises:
        ValueError: ``stream_window`` for an agent without a token cache, below 1, or (memo,
            rmt) smaller than one segment plus its summaries.
    """
    from engram.train import Trainer

    c = trainer.config
    if stream_window is None and (trial_scale == 1 or c.agent not in DECODER_MEMORIES):
        return trainer
    if c.agent not in DECODER_MEMORIES:
        raise ValueError(
            f"stream_window: the {c.agent!r} agent keeps no token cache to stream; it applies "
            f"to {', '.join(DECODER_MEMORIES)}"
        )
    d = c.decoder_settings()
    context = d.max_context
    if trainer.env.unwrapped.trials:
        context = max(context, int(trainer.env_params.trial_length) * trial_scale)
    if stream_window is not None:
        if stream_window < 1:
            raise ValueError(f"stream_window: got {stream_window}, expected an int >= 1")
        if c.agent == "fct":
            context = stream_window
        else:
            least = d.segment_length + d.summary_length
            if stream_window < least:
                raise ValueError(
                    f"stream_window: got {stream_window}, smaller than one segment plus its "
                    f"summaries (segment_length {d.segment_length} + summary_length "
                    f"{d.summary_length} = {least} tokens)"
                )
            sets = (stream_window - d.segment_length) // d.summary_length
            context = sets * d.segment_length  # MemoMemory keeps max_context // segment sets
    return Trainer(
        dataclasses.replace(
            c,
            max_context=context,
            segment_length=d.segment_length,
            summary_length=d.summary_length,
            segment_jitter=0.0,
        )
    )


def _curve(sums: dict) -> dict:
    """Means by episode index from summed ``count`` and metric arrays (trailing indices
    without episodes dropped)."""
    count = np.asarray(sums["count"], float)
    n = int(np.max(np.nonzero(count)[0], initial=-1)) + 1
    out = {"count": count[:n].astype(int).tolist(), "sums": {}}
    for k, v in sums.items():
        if k != "count":
            total = np.asarray(v, float)[:n]
            out["sums"][k] = total.tolist()
            name = "success_rate" if k == "success" else f"mean_{k}"
            pairs = zip(total, count[:n], strict=True)
            out[name] = [None if m == 0 else float(t / m) for t, m in pairs]
    return out


def _program(trainer, episodes: int, deterministic: bool, random_policy: bool, chunk: int):
    """The jitted ``start(env_params, level_keys)`` and ``run(params, env_params, carry,
    level_keys, action_keys)`` (``chunk`` steps of every episode), built once per trainer
    and setting so that periodic evaluation during training compiles only once."""
    cache = trainer.__dict__.setdefault("_eval_programs", {})
    setting = (episodes, deterministic, random_policy, chunk)
    if setting in cache:
        return cache[setting]
    env = trainer.env.unwrapped
    fold = jax.vmap(jax.random.fold_in, in_axes=(0, None))
    # The task's end-of-episode numbers that are averaged per episode index (trials only).
    metrics = [k for k in env.info_at_end if k not in ("success", "reward", "length")]
    slots = MAX_EPISODE_INDEX

    @jax.jit
    def start(env_params, level_keys):
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(fold(level_keys, 0), env_params)
        alive = jnp.ones((episodes,), bool)
        c = {
            "obs": obs,
            "state": state,
            "carry": trainer.agent.initial_carry(episodes),
            "first": alive,
            "alive": alive,
            "ret": jnp.zeros((episodes,), jnp.float32),
            "length": jnp.zeros((episodes,), jnp.int32),
            "success": ~alive,
            "t": jnp.int32(0),
        }
        if env.trials:
            names = ["count", "return"] + (["success"] if trainer.has_success else []) + metrics
            c["by_index"] = {k: jnp.zeros((episodes, slots), jnp.float32) for k in names}
        return c

    @jax.jit
    def run(params, env_params, c, level_keys, action_keys):
        def one(c, _):
            c = dict(c)
            # Step t of every episode: env key from its level, action key from the episode.
            k_env, k_act = fold(level_keys, c["t"] + 1), fold(action_keys, c["t"])
            if random_policy:
                logits = jnp.zeros((episodes, sum(trainer.dims)))
            else:
                c["carry"], logits, _ = trainer.act(params, c["carry"], c["obs"], c["first"])
            if deterministic and not random_policy:
                action = greedy_action(logits, trainer.dims)
            else:
                action = jax.vmap(lambda k, lg: sample_action(k, lg, trainer.dims))(k_act, logits)
            c["obs"], c["state"], r, term, trunc, info = jax.vmap(
                env.step, in_axes=(0, 0, 0, None)
            )(k_env, c["state"], trainer.env_action(action), env_params)
            alive = c["alive"]
            c["ret"] = c["ret"] + jnp.where(alive, r, 0.0)
            c["length"] = c["length"] + alive
            done = term | trunc
            if env.trials:
                c["by_index"] = _count_episodes(c["by_index"], info, alive, trunc, slots)
            elif trainer.has_success:
                c["success"] = jnp.where(alive & done, info["success"].astype(bool), c["success"])
            c["alive"] = alive & ~done
            c["first"] = jnp.zeros_like(c["first"])
            c["t"] = c["t"] + 1
            return c, None

        return jax.lax.scan(one, c, None, chunk)[0]

    cache[setting] = (start, run)
    return start, run


def _count_episodes(by_index: dict, info: dict, alive, trial_over, slots: int) -> dict:
    """Add the episodes that ended inside a trial on this step to the sums by episode
    index (an episode cut short by the trial's end is left out)."""
    ended = alive & (info["episode_terminated"] | (info["episode_truncated"] & ~trial_over))
    index = jnp.minimum(info["episode_index"], slots - 1)
    values = {"count": jnp.ones_like(info["episode_return"]), "return": info["episode_return"]}
    out = {}
    for k, total in by_index.items():
        v = values[k] if k in values else info[k]
        add = jnp.where(ended, v.astype(jnp.float32), 0.0)
        out[k] = total.at[jnp.arange(total.shape[0]), index].add(add)
    return out


def merge_seeds(results: list[dict]) -> dict:
    """One evaluation summary from the per-seed ones: episodes pooled (seed-major)."""
    if len(results) == 1:
        return dict(results[0])
    pooled = {
        k: [x for r in results for x in r[k]] for k in ("level", "returns", "lengths", "done")
    }
    returns = np.asarray(pooled["returns"])
    curves = [r["per_episode_index"] for r in results if "per_episode_index" in r]
    if curves:
        width = max(len(cv["count"]) for cv in curves)

        def pad(v):
            return np.pad(np.asarray(v, float), (0, width - len(v)))

        sums = {"count": sum(pad(cv["count"]) for cv in curves)}
        for k in curves[0]["sums"]:
            sums[k] = sum(pad(cv["sums"][k]) for cv in curves)
        pooled["per_episode_index"] = _curve(sums)
        pooled["trial_length"] = results[0]["trial_length"]
    has_success = results[0]["success"] is not None
    success = [x for r in results for x in r["success"]] if has_success else None
    first = results[0]
    return {
        **{k: first[k] for k in ("levels", "repetitions", "seed", "policy", "deterministic")},
        "episodes": len(returns),
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "mean_length": float(np.mean(pooled["lengths"])),
        "success_rate": float(np.mean(success)) if has_success else None,
        **pooled,
        "success": success,
    }


def interval_estimates(values, reps: int = 2000, seed: int = 0) -> dict:
    """IQM and mean of per-episode ``values`` with 95% stratified-bootstrap confidence
    intervals, computed by rliable.

    Args:
        values: 1-d sequence of per-episode scores (returns or 0/1 successes).
        reps: bootstrap resamples.
        seed: seed of the bootstrap (results are reproducible).

    Returns:
        ``{"iqm": x, "iqm_ci": [lo, hi], "mean": x, "mean_ci": [lo, hi]}`` as floats.
    """
    from rliable import library as rly
    from rliable import metrics

    scores = np.asarray(values, float).reshape(-1, 1)  # rliable: (runs, tasks)
    with warnings.catch_warnings():
        # rliable hands arch a RandomState, which arch deprecates; results are unchanged.
        warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)
        point, ci = rly.get_interval_estimates(
            {"policy": scores},
            lambda x: np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)]),
            reps=reps,
            random_state=np.random.RandomState(seed),
        )
    (iqm, mean), (lo, hi) = point["policy"], ci["policy"]
    return {
        "iqm": float(iqm),
        "iqm_ci": [float(lo[0]), float(hi[0])],
        "mean": float(mean),
        "mean_ci": [float(lo[1]), float(hi[1])],
    }


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

    from engram.train import open_run

    for name in ("levels", "repetitions", "bootstrap_reps", "trial_scale"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name}: got {getattr(config, name)}, expected an int >= 1")
    console = console or Console()
    train_config, trainer, ts = open_run(config.run_dir)
    seed = train_config.seed + LEVEL_SEED_OFFSET if config.seed is None else config.seed
    if config.trial_scale != 1 and not trainer.env.unwrapped.trials:
        raise ValueError(
            f"trial_scale: got {config.trial_scale}, but {train_config.env} has no trials (use 1)"
        )
    trainer = acting_trainer(trainer, config.trial_scale, config.stream_window)
    console.print(
        f"evaluating {config.run_dir} (update {int(np.max(ts.update))}/"
        f"{train_config.num_updates}, {train_config.num_seeds} seed(s)) on "
        f"{config.levels} levels x {config.repetitions} episodes, level seed {seed}"
    )
    started = time.time()
    results = {}
    for policy in ("agent", "random") if config.baseline else ("agent",):
        # Every seed of a multi-seed run meets the same levels; episodes are pooled.
        n_seeds = 1 if policy == "random" else train_config.num_seeds
        per_seed = [
            evaluate(
                trainer,
                trainer.seed_params(ts, i),
                config.levels,
                seed,
                repetitions=config.repetitions,
                deterministic=config.deterministic,
                random_policy=policy == "random",
                trial_scale=config.trial_scale,
            )
            for i in range(n_seeds)
        ]
        summary = merge_seeds(per_seed)
        for metric, values in (("return", summary["returns"]), ("success", summary["success"])):
            if values is not None:
                estimates = interval_estimates(values, reps=config.bootstrap_reps)
                summary.update({f"{metric}_{k}": v for k, v in estimates.items()})
        results[policy] = summary
    results.setdefault("random", None)
    results["env"] = train_config.env
    results["stream_window"] = config.stream_window
    if train_config.agent in DECODER_MEMORIES:
        results["max_context"] = trainer.config.decoder_settings().max_context
    results["update"] = int(np.max(ts.update))
    results["seconds"] = time.time() - started

    table = Table(title=f"{train_config.env}, {results['agent']['episodes']} episodes each")
    for column in ("policy", "mean return (95% CI)", "IQM return (95% CI)", "mean length"):
        table.add_column(column)
    if trainer.has_success:
        table.add_column("success (95% CI)")
    for policy in ("agent", "random"):
        r = results[policy]
        if r is None:
            continue
        row = [
            policy + (" (greedy)" if r["deterministic"] else ""),
            f"{r['return_mean']:.3f} [{r['return_mean_ci'][0]:.3f}, {r['return_mean_ci'][1]:.3f}]",
            f"{r['return_iqm']:.3f} [{r['return_iqm_ci'][0]:.3f}, {r['return_iqm_ci'][1]:.3f}]",
            f"{r['mean_length']:.1f}",
        ]
        if trainer.has_success:
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
