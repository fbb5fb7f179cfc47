"""Training presets: the Memory Gym paper's configuration of every environment.

``engram train --config paper --env ID`` starts from :func:`paper_config` (options given
on the command line still override it). Values from the Memory Gym paper's training
setup, the authors' released neroRL run configs:

* 32 workers x 512 steps per update, 3 epochs x 8 minibatches, no advantage
  normalisation, the shared GRU-512 body (the other PPO values are TrainConfig's
  defaults, which are already the paper's; with ``--agent trxl`` the Transformer-XL of
  the paper for the id, its window and its 384-wide post-memory layer);
* budgets in updates: grid tasks 10k (163.8 M steps), Mortar Mayhem 30k (491.5 M),
  Mystery Path 25k (409.6 M), Searing Spotlights 25k (the "_25" re-runs), endless
  tasks 50k (819.2 M);
* entropy coefficient 1e-3 -> 1e-6 on Mystery Path Grid (1e-4 -> 1e-6 elsewhere);
* Mystery Path with origin and goal hidden and the dense path-progress reward 0.1 (the
  paper's "mp_off_dense");
* evaluation every 500 updates on 50 unseen levels x 3 episodes.
"""

from __future__ import annotations

from typing import Any

PRESETS = ("paper", "default")

_STEPS_PER_UPDATE = 32 * 512

#: The run of ``engram train`` without ``--env`` and ``--config`` (``--config default``
#: names it): a reduced Mortar Mayhem Grid that the GRU learns on a CPU (0.9 success within
#: its 204,800 steps) and only a memory solves. A 3 x 3 arena, two commands, each shown for
#: one frame while the agent cannot move, the first checked 4 command steps later, episodes
#: of at most 13 steps (the paper: 5 x 5 tiles, 10 commands shown for 3 frames and a blank
#: one, checked every 6 steps). ``success`` needs the first command done (the original
#: counts a failed last command as done). A memory-less agent can only guess it: from its
#: spawn tile, standing still succeeds (4/3 + 4/4 + 1/5) / 9 = 0.28 of the time; its first
#: action also sees the second command (no blank frame follows it), which rules out some
#: first commands (the sequence stays in the arena), and acting on both at once, its body
#: keeping the guess, succeeds 0.42 of the time at best (enumerated). The network is the
#: paper's (Atari CNN, GRU 512, dense 512, one body); PPO differs from the paper's in
#: rollouts of 16 x 32 steps, 4 minibatches, a constant learning rate of 1e-3 and
#: advantages normalised per minibatch.
DEFAULT_RUN: dict[str, Any] = dict(
    env="MortarMayhem-Grid-v0",
    env_options=(
        "arena_size=3",
        "command_count=[2]",
        "command_show_duration=[1]",
        "command_show_delay=[0]",
        "explosion_delay=[4]",
    ),
    agent="gru",
    num_envs=16,
    num_steps=32,
    num_minibatches=4,
    lr=1e-3,
    final_lr=1e-3,
    normalize_advantages=True,
    total_steps=204_800,
    eval_every=20,
)

#: PPO and network settings of engram's small learning experiments (the learning tests on
#: the T-maze and Dark-Key-To-Door, ``benchmarks/in_context.py``): 32 environments, 4
#: minibatches, 64-unit memory and post-memory layer, a constant learning rate of 1e-3 and
#: entropy coefficient of 0.01. Not a paper's; small enough to learn in minutes on a CPU.
SMALL_TASK_PPO: dict[str, Any] = dict(
    num_envs=32,
    num_minibatches=4,
    memory_hidden=64,
    hidden=64,
    lr=1e-3,
    final_lr=1e-3,
    ent_coef=0.01,
    final_ent_coef=0.01,
    gamma=0.99,
    clip=0.2,
    max_grad_norm=0.5,
)

#: The small decoder of the attention agents (FCT, Memo, RMT) in those experiments: one
#: layer of width 64 with 4 heads and an MLP of 128; Memo's segments of 16 steps summarised
#: in 4 tokens.
SMALL_TASK_DECODER: dict[str, Any] = dict(
    decoder_num_layers=1,
    decoder_width=64,
    decoder_num_heads=4,
    decoder_mlp_hidden=128,
    segment_length=16,
    summary_length=4,
)

#: Training budget of the paper, in updates, by environment id.
PAPER_UPDATES = {
    "MortarMayhem-Grid-v0": 10_000,
    "MortarMayhemB-Grid-v0": 10_000,
    "MysteryPath-Grid-v0": 10_000,
    "MortarMayhem-v0": 30_000,
    "MortarMayhemB-v0": 30_000,
    "MysteryPath-v0": 25_000,
    "SearingSpotlights-v0": 25_000,
    "Endless-MortarMayhem-v0": 50_000,
    "Endless-MysteryPath-v0": 50_000,
    "Endless-SearingSpotlights-v0": 50_000,
}

#: Reset parameters the paper changed from the environments' defaults.
PAPER_ENV_OPTIONS = {
    "MysteryPath-v0": ("show_origin=False", "show_goal=False", "reward_path_progress=0.1"),
}


#: Transformer-XL window (``memory_length``) of the paper by environment id (reference
#: section 5.1; CleanRL's benchmark uses the same): the finite Mortar Mayhem ids' windows are
#: their ``calc_max_episode_steps``, so the window holds a whole episode.
TRXL_MEMORY_LENGTH = {
    "MortarMayhem-v0": 275,
    "MortarMayhemB-v0": 235,
    "MortarMayhem-Grid-v0": 119,
    "MortarMayhemB-Grid-v0": 79,
    "MysteryPath-v0": 256,
    "MysteryPath-Grid-v0": 96,
    "SearingSpotlights-v0": 256,
    "Endless-MortarMayhem-v0": 256,
    "Endless-MysteryPath-v0": 256,
    "Endless-SearingSpotlights-v0": 256,
}


def trxl_defaults(env_id: str, episode_cap: int | None) -> dict[str, Any]:
    """The paper's Transformer-XL architecture for ``env_id`` (its training setup): 3
    blocks x 384, 4 heads, sinusoidal positional encoding; Mystery Path Grid 2 x 256 without
    positional encoding. The window is the paper's for its ids, else (e.g. ``TMaze-v0``) 256
    steps, and never longer than ``episode_cap`` (reset parameters that shorten the
    episodes, as :data:`DEFAULT_RUN`'s, shorten it to the whole episode)."""
    grid_mp = env_id == "MysteryPath-Grid-v0"
    window = min(TRXL_MEMORY_LENGTH.get(env_id, 256), episode_cap or 256)
    return dict(
        num_layers=2 if grid_mp else 3,
        dim=256 if grid_mp else 384,
        memory_length=window,
        positional_encoding=not grid_mp,
    )


def paper_config(env_id: str) -> dict[str, Any]:
    """The paper's training configuration of ``env_id`` as TrainConfig fields.

    Raises:
        ValueError: ``env_id`` is not one of the paper's ten environments.
    """
    if env_id not in PAPER_UPDATES:
        raise ValueError(
            f"config: the paper preset covers {sorted(PAPER_UPDATES)}; got env {env_id!r}"
        )
    config: dict[str, Any] = dict(
        env=env_id,
        agent="gru",
        num_envs=32,
        num_steps=512,
        num_epochs=3,
        num_minibatches=8,
        total_steps=PAPER_UPDATES[env_id] * _STEPS_PER_UPDATE,
        anneal_updates=10_000,
        normalize_advantages=False,
        memory_hidden=512,
        shared_body=True,
        checkpoint_every=100,
        eval_every=500,
        eval_levels=50,
        eval_repetitions=3,
    )
    if env_id == "MysteryPath-Grid-v0":
        config["ent_coef"] = 1e-3
    if env_id in PAPER_ENV_OPTIONS:
        config["env_options"] = PAPER_ENV_OPTIONS[env_id]
    return config


#: The Memory Gym paper (Pleines et al., "Memory Gym: Towards Endless Tasks to Benchmark
#: Memory Capabilities of Agents", JMLR 2025; arXiv:2309.17207).
MEMORY_GYM_CITATION = (
    "Pleines, Pallasch, Zimmer, Preuss: Memory Gym: Towards Endless Tasks to Benchmark "
    "Memory Capabilities of Agents, JMLR 2025 (arXiv:2309.17207); numbers from the authors' "
    "released evaluation data (MarcoMeter/jmlr_2024.github.io), mean +- std over 5 runs of "
    "each run's mean over 150 episodes (50 unseen levels x 3) at the final checkpoint"
)

#: Published final results of the Memory Gym paper, from the authors' evaluation data:
#: ``(env id, agent, variant) -> (metric, mean, std or None, training steps)``. ``metric``
#: is ``"success_rate"`` or ``"mean_return"`` (engram's eval.json names); ``variant`` is
#: ``"base"`` or ``"rec"`` (observation reconstruction, coefficient 0.1). On the endless
#: tasks the paper's score is the return times 10 (Mortar Mayhem, Mystery Path) or 4
#: (Searing Spotlights); the table holds the return. Mystery Path is the paper's dense
#: variant with origin and goal hidden (``PAPER_ENV_OPTIONS``).
PAPER_RESULTS: dict[tuple[str, str, str], tuple[str, float, float | None, int]] = {
    ("MortarMayhem-v0", "gru", "base"): ("mean_return", 0.536, 0.081, 491_520_000),
    ("MortarMayhem-v0", "gru", "rec"): ("mean_return", 0.483, 0.084, 491_520_000),
    ("MortarMayhem-v0", "trxl", "base"): ("mean_return", 0.253, 0.127, 491_520_000),
    ("MortarMayhem-v0", "trxl", "rec"): ("mean_return", 0.999, 0.001, 491_520_000),
    ("MysteryPath-v0", "gru", "base"): ("success_rate", 0.913, 0.020, 409_600_000),
    ("MysteryPath-v0", "gru", "rec"): ("success_rate", 0.977, 0.003, 409_600_000),
    ("MysteryPath-v0", "trxl", "base"): ("success_rate", 0.960, 0.022, 409_600_000),
    ("MysteryPath-v0", "trxl", "rec"): ("success_rate", 0.973, 0.010, 409_600_000),
    ("SearingSpotlights-v0", "gru", "base"): ("success_rate", 0.992, 0.008, 409_600_000),
    ("SearingSpotlights-v0", "gru", "rec"): ("success_rate", 0.995, 0.005, 409_600_000),
    ("SearingSpotlights-v0", "trxl", "base"): ("success_rate", 0.240, 0.136, 409_600_000),
    ("SearingSpotlights-v0", "trxl", "rec"): ("success_rate", 0.973, 0.006, 409_600_000),
    ("MortarMayhem-Grid-v0", "gru", "base"): ("success_rate", 1.000, None, 163_840_000),
    ("MortarMayhem-Grid-v0", "trxl", "base"): ("success_rate", 0.999, None, 163_840_000),
    ("MortarMayhem-Grid-v0", "none", "base"): ("success_rate", 0.0, None, 163_840_000),
    ("MortarMayhemB-Grid-v0", "gru", "base"): ("success_rate", 1.000, None, 163_840_000),
    ("MortarMayhemB-Grid-v0", "trxl", "base"): ("success_rate", 1.000, None, 163_840_000),
    ("MortarMayhemB-Grid-v0", "none", "base"): ("success_rate", 0.0, None, 163_840_000),
    ("MysteryPath-Grid-v0", "gru", "base"): ("success_rate", 0.685, 0.116, 163_840_000),
    ("MysteryPath-Grid-v0", "trxl", "base"): ("success_rate", 0.991, 0.012, 163_840_000),
    ("MysteryPath-Grid-v0", "none", "base"): ("success_rate", 0.080, None, 163_840_000),
    ("Endless-MortarMayhem-v0", "gru", "base"): ("mean_return", 10.68, 1.69, 819_200_000),
    ("Endless-MortarMayhem-v0", "trxl", "base"): ("mean_return", 1.62, 0.09, 819_200_000),
    ("Endless-MortarMayhem-v0", "trxl", "rec"): ("mean_return", 1.38, 0.26, 819_200_000),
    ("Endless-MysteryPath-v0", "gru", "base"): ("mean_return", 2.68, 0.09, 819_200_000),
    ("Endless-MysteryPath-v0", "trxl", "base"): ("mean_return", 2.03, 0.07, 819_200_000),
    ("Endless-SearingSpotlights-v0", "gru", "rec"): ("mean_return", 5.97, 0.375, 819_200_000),
    ("Endless-SearingSpotlights-v0", "trxl", "rec"): ("mean_return", 1.67, 0.15, 819_200_000),
}


def paper_result(env_id: str, agent: str, variant: str = "base"):
    """The Memory Gym paper's published result for ``(env_id, agent, variant)``, or None.

    Returns:
        ``(metric, mean, std or None, training steps)``; see :data:`PAPER_RESULTS`.
    """
    return PAPER_RESULTS.get((env_id, agent, variant))
