"""In-context learning curves of the attention agents on a trial task (the Memo paper's
evaluation, ``reference/memo.md`` section 6, on engram's pip-installable tasks).

For every agent and seed this trains with the shared PPO, then plays unseen trials and
records the mean return (and success) by episode index within the trial: at the training
trial length, at trials ``--trial-scales`` times longer (generalisation to longer
contexts), and with a streaming cache of ``--stream-window`` tokens on the longest trials
(FCT and Memo). A random policy on the same levels is the floor. Prints a table per trial
scale, saves every number to ``OUT.json`` and the figure to ``OUT.png`` (one panel per
trial scale: return against episode index, mean over seeds with the range of seeds
shaded; streaming runs dashed).

Usage::

    python benchmarks/in_context.py                       # FCT, Memo, RMT on a small DKTD
    python benchmarks/in_context.py --agents fct memo rmt gru none --seeds 0 1 2 \\
        --total-steps 2000000 --out docs/images/in_context_dktd

The default task is Dark-Key-To-Door in a 4x4 room with episodes of 16 steps and trials
of 64 (``room_size=4 episode_length=16 trial_length=64``), and a one-layer decoder of
width 64, so that a run finishes on a laptop CPU; ``--env`` / ``--env-options`` /
``--set`` change them (e.g. ``--set decoder_num_layers=4 decoder_width=256`` for the
paper's network on a GPU).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

from engram.config import TrainConfig
from engram.evaluation import LEVEL_SEED_OFFSET, evaluate
from engram.ppo import Trainer
from engram.presets import SMALL_TASK_DECODER, SMALL_TASK_PPO

#: PPO and network settings of the default run (those of tests/ppo/test_learning.py's
#: in-context test, with a small decoder for the attention agents).
DEFAULTS = dict(
    **SMALL_TASK_PPO,
    num_steps=128,
    **SMALL_TASK_DECODER,
)


def _value(text: str):
    """``--set`` values: int, float, bool or string."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def train_agent(config: TrainConfig, log=print):
    """Train ``config`` to its budget; returns ``(trainer, params, seconds)``."""
    trainer = Trainer(config)
    state = trainer.initial_state()
    start = time.perf_counter()
    every = max(1, config.num_updates // 10)
    for update in range(config.num_updates):
        state, metrics = trainer.update(state)
        if (update + 1) % every == 0 or update + 1 == config.num_updates:
            trials = max(float(metrics["trials"]), 1.0)
            log(
                f"  {config.agent} seed {config.seed}: update {update + 1}/{config.num_updates}"
                f", trial return {float(metrics['trial_return_sum']) / trials:.3f}, "
                f"{time.perf_counter() - start:.0f} s"
            )
    jax.block_until_ready(state.params)
    return trainer, state.params, time.perf_counter() - start


def curves(trainer, params, levels: int, seed: int, scales, stream_window, random=False):
    """Evaluation results by setting name: ``x1``, ``x2``, ... and ``xK stream``."""
    out = {}
    agent = trainer.config.agent
    for scale in scales:
        out[f"x{scale}"] = evaluate(
            trainer.policy.for_evaluation(scale) if not random else trainer.policy,
            params,
            levels,
            seed,
            trial_scale=scale,
            random_policy=random,
        )
    if stream_window and agent in ("fct", "memo") and not random:
        top = max(scales)
        out[f"x{top} stream"] = evaluate(
            trainer.policy.for_evaluation(top, stream_window), params, levels, seed, trial_scale=top
        )
    return out


def summarise(per_seed: list[dict]) -> dict:
    """Mean, min and max over seeds of the return by episode index, and the mean trial
    return. Indices are kept while every seed has them in at least a quarter of its trials:
    later ones average over a few trials that happened to fit many short episodes."""
    returns = [r["per_episode_index"]["mean_return"] for r in per_seed]
    n = min(
        sum(1 for c in r["per_episode_index"]["count"] if c >= max(1, r["episodes"] // 4))
        for r in per_seed
    )
    table = np.array([[np.nan if v is None else v for v in r[:n]] for r in returns], float)
    return {
        "mean": np.nanmean(table, 0).tolist(),
        "min": np.nanmin(table, 0).tolist(),
        "max": np.nanmax(table, 0).tolist(),
        "count": per_seed[0]["per_episode_index"]["count"][:n],
        "trial_return": float(np.mean([r["mean_return"] for r in per_seed])),
    }


def plot(results: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = [s for s in results["random"] if "stream" not in s]
    fig, axes = plt.subplots(1, len(settings), figsize=(4.2 * len(settings), 3.4), sharey=True)
    axes = np.atleast_1d(axes)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, setting in zip(axes, settings, strict=True):
        for i, (agent, by_setting) in enumerate(results["agents"].items()):
            for name, style in ((setting, "-"), (f"{setting} stream", "--")):
                if name not in by_setting:
                    continue
                s = by_setting[name]
                x = np.arange(len(s["mean"]))
                label = agent + (" (stream)" if style == "--" else "")
                ax.plot(x, s["mean"], style, color=colors[i % len(colors)], label=label)
                ax.fill_between(x, s["min"], s["max"], color=colors[i % len(colors)], alpha=0.15)
        rnd = results["random"][setting]
        ax.plot(np.arange(len(rnd["mean"])), rnd["mean"], ":", color="gray", label="random")
        ax.set_title(f"trials x{setting[1:]} ({results['trial_length'] * int(setting[1:])} steps)")
        ax.set_xlabel("episode index within the trial")
    axes[0].set_ylabel("mean episode return")
    axes[-1].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="DarkKeyToDoor-v0")
    parser.add_argument(
        "--env-options", nargs="*", default=["room_size=4", "episode_length=16", "trial_length=64"]
    )
    parser.add_argument("--agents", nargs="+", default=["fct", "memo", "rmt"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--total-steps", type=int, default=1_000_000)
    parser.add_argument("--trial-scales", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument(
        "--stream-window",
        type=int,
        default=48,
        help="cached tokens of the streaming evaluation on the longest trials (0: none)",
    )
    parser.add_argument("--levels", type=int, default=200, help="unseen trials per setting")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--out", default="benchmarks/results/in_context")
    args = parser.parse_args(argv)
    if 1 not in args.trial_scales:
        parser.error("--trial-scales: must include 1 (the training trial length)")
    overrides = dict(DEFAULTS)
    for item in args.set:
        name, sep, text = item.partition("=")
        if not sep:
            parser.error(f"--set: expected FIELD=VALUE, got {item!r}")
        overrides[name] = _value(text)
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results = {"env": args.env, "env_options": args.env_options, "settings": overrides}
    results.update(agents={}, seconds={}, raw={})
    random_done = None
    for agent in args.agents:
        per_setting: dict[str, list] = {}
        for seed in args.seeds:
            config = TrainConfig(
                env=args.env,
                env_options=tuple(args.env_options),
                agent=agent,
                total_steps=args.total_steps,
                seed=seed,
                run_dir=str(out.parent / "runs"),
                **overrides,
            )
            log(f"training {agent} seed {seed} ({config.num_updates} updates)")
            trainer, params, seconds = train_agent(config, log)
            results["seconds"][f"{agent}/{seed}"] = seconds
            level_seed = seed + LEVEL_SEED_OFFSET
            for name, r in curves(
                trainer, params, args.levels, level_seed, args.trial_scales, args.stream_window
            ).items():
                per_setting.setdefault(name, []).append(r)
            if random_done is None:
                results["trial_length"] = int(trainer.policy.env_params.trial_length)
                random_done = curves(
                    trainer, None, args.levels, level_seed, args.trial_scales, 0, random=True
                )
        results["agents"][agent] = {k: summarise(v) for k, v in per_setting.items()}
        results["raw"][agent] = {
            k: [r["per_episode_index"] for r in v] for k, v in per_setting.items()
        }
    results["random"] = {k: summarise([v]) for k, v in random_done.items()}

    for setting in results["random"]:
        print(f"\n{args.env}, trials x{setting[1:]}: mean return by episode index")
        names = [
            (a, s)
            for a, by in results["agents"].items()
            for s in by
            if s in (setting, f"{setting} stream")
        ]
        header = [a + (" stream" if "stream" in s else "") for a, s in names]
        print("episode | " + " | ".join(header) + " | random")
        n = len(results["random"][setting]["mean"])
        for i in range(min(n, 12)):
            cells = []
            for a, s in names:
                m = results["agents"][a][s]["mean"]
                cells.append(f"{m[i]:.3f}" if i < len(m) else "-")
            floor = results["random"][setting]["mean"][i]
            print(f"{i:7d} | " + " | ".join(cells) + f" | {floor:.3f}")
    json_path = out.with_suffix(".json")
    json_path.write_text(json.dumps(results, indent=1))
    title = (
        f"{args.env} ({' '.join(args.env_options)}), {len(args.seeds)} seed(s), "
        f"{args.total_steps:,} steps"
    )
    plot(results, out.with_suffix(".png"), title)
    print(f"\nsaved {json_path} and {out.with_suffix('.png')}")
    return results


if __name__ == "__main__":
    main()
