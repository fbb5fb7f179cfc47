"""Reproduction plans: the papers' experiments as sweep specs, and what they would cost.

``engram sweep --plan memory-gym`` writes the Memory Gym paper's grid (its ids, GRU and
Transformer-XL with and without observation reconstruction, 5 seeds, its budgets through
``preset = "paper"``); ``--plan memo`` the in-context experiment of the Memo paper on
engram's Dark-Key-To-Door (FCT, Memo, RMT). Each prints the device hours the plan needs at
measured training speeds.
"""

from __future__ import annotations

from pathlib import Path

from engram.sweep.spec import load_spec

#: Measured training speed in environment steps per second by plan and agent, with where it
#: was measured. Memory Gym: ``benchmarks/train_throughput.py`` on a 2-core CPU, 16 envs x
#: 128 steps, the paper's network, MortarMayhem-Grid-v0 (README, Benchmarks). Memo: the
#: small Dark-Key-To-Door of ``benchmarks/in_context.py`` on 2 CPU cores (README, Memo
#: section; RMT is Memo's learner with fewer summaries, taken at Memo's speed).
MEASURED_SPS = {
    "memory-gym": (
        {"gru": 310.0, "lstm": 179.0, "none": 435.0, "trxl": 231.0},
        "2-core CPU, paper network, 16 envs x 128 steps (README: Benchmarks, train_throughput)",
    ),
    "memo": (
        {"fct": 24_000.0, "memo": 6_000.0, "rmt": 6_000.0},
        "2-core CPU, small Dark-Key-To-Door, one decoder layer of width 64 (README: Memo)",
    ),
}

_HEADER = "# Written by `engram sweep --plan {plan}`; run it with `engram sweep {file}`.\n"

#: The spec files of each plan: file name -> TOML text.
PLANS: dict[str, dict[str, str]] = {
    "memory-gym": {
        # Pleines et al. (JMLR 2025): grid tasks 163.8 M steps, GRU vs TrXL vs memory-less.
        "memory-gym-grid.toml": """
out = "memory-gym-grid"
executor = "ray"
[grid]
env = ["MortarMayhem-Grid-v0", "MortarMayhemB-Grid-v0", "MysteryPath-Grid-v0"]
agent = ["gru", "trxl", "none"]
seed = [0, 1, 2, 3, 4]
[base]
preset = "paper"
[resources]
num_cpus = 4
num_gpus = 1
""",
        # Finite tasks (491.5 M / 409.6 M steps), each agent with and without reconstruction.
        "memory-gym-finite.toml": """
out = "memory-gym-finite"
executor = "ray"
[grid]
env = ["MortarMayhem-v0", "MysteryPath-v0", "SearingSpotlights-v0"]
agent = ["gru", "trxl"]
seed = [0, 1, 2, 3, 4]
[base]
preset = "paper"
[[variant]]
name = "base"
[[variant]]
name = "rec"
obs_reconstruction = 0.1
[resources]
num_cpus = 4
num_gpus = 1
""",
        # Endless tasks (819.2 M steps).
        "memory-gym-endless.toml": """
out = "memory-gym-endless"
executor = "ray"
[grid]
env = ["Endless-MortarMayhem-v0", "Endless-MysteryPath-v0", "Endless-SearingSpotlights-v0"]
agent = ["gru", "trxl"]
seed = [0, 1, 2, 3, 4]
[base]
preset = "paper"
[resources]
num_cpus = 4
num_gpus = 1
""",
    },
    "memo": {
        # Gupta et al. (NeurIPS 2025) on engram's small Dark-Key-To-Door, the setting of
        # benchmarks/in_context.py; `engram eval --trial-scale 4` then gives the long trials.
        "memo-dktd.toml": """
out = "memo-dktd"
executor = "ray"
[grid]
env = "DarkKeyToDoor-v0"
agent = ["fct", "memo", "rmt"]
seed = [0, 1, 2, 3, 4]
total_steps = [409_600]
[base]
env_options = ["room_size=4", "episode_length=16", "trial_length=64"]
num_envs = 32
num_steps = 128
num_minibatches = 4
memory_hidden = 64
hidden = 64
lr = 1e-3
final_lr = 1e-3
ent_coef = 0.01
final_ent_coef = 0.01
gamma = 0.99
clip = 0.2
max_grad_norm = 0.5
decoder_num_layers = 1
decoder_width = 64
decoder_num_heads = 4
decoder_mlp_hidden = 128
segment_length = 16
summary_length = 4
[resources]
num_cpus = 2
num_gpus = 0
""",
    },
}


def write_plan(
    plan: str, out_dir: str | Path, sps: dict[str, float] | None = None
) -> tuple[list[Path], list[str]]:
    """Write the spec files of ``plan`` into ``out_dir`` and estimate their cost.

    Args:
        plan: ``"memory-gym"`` or ``"memo"``.
        out_dir: where the ``.toml`` files go (created).
        sps: measured steps/s by agent that replace :data:`MEASURED_SPS` (e.g. a GPU's).

    Returns:
        the files written, and the lines of the estimate (runs, steps and device hours per
        file and agent, the total).

    Raises:
        ValueError: an unknown plan.
    """
    if plan not in PLANS:
        raise ValueError(f"plan: got {plan!r}; allowed: {sorted(PLANS)}")
    rates, where = MEASURED_SPS[plan]
    if sps:
        rates, where = {**rates, **sps}, "steps/s given with --sps, else " + where
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files, lines, total_hours = [], [], 0.0
    lines.append(f"device hours at measured steps/s ({where}):")
    for name, text in PLANS[plan].items():
        path = out / name
        path.write_text(_HEADER.format(plan=plan, file=path) + text.lstrip("\n"))
        files.append(path)
        spec = load_spec(path)
        by_agent: dict[str, list[int]] = {}
        for run in spec.runs:
            by_agent.setdefault(run.agent, []).append(run.total_steps)
        for agent, budgets in by_agent.items():
            hours = sum(budgets) / rates[agent] / 3600
            total_hours += hours
            lines.append(
                f"  {name:<24} {agent:<5} {len(budgets):>3} runs {sum(budgets) / 1e6:>9,.1f} M "
                f"steps at {rates[agent]:>7,.0f} steps/s: {hours:>10,.1f} h"
            )
    lines.append(f"  total: {total_hours:,.1f} device hours ({total_hours / 24:,.1f} days)")
    return files, lines
