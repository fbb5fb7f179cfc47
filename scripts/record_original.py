"""Record episodes of the original Memory Gym with random reset parameters, in the format of
``shared/reference/trajectories-params/`` (see its ``README.md``), for replay checks of engram
on seeds other than the recorded fixtures'.

Runs in a Python with memory-gym 1.0.2 and pygame 2.4.0 installed (not engram's venv)::

    /work/mg/bin/python scripts/record_original.py OUT_DIR SEED_FROM SEED_TO [--ids ID ...]

and then, in engram's venv::

    ENGRAM_REFERENCE_DIR=OUT_DIR pytest -q -n 0 tests/envs/test_mortar_mayhem_fidelity.py \\
        tests/envs/test_mystery_path_fidelity.py tests/envs/test_searing_spotlights_fidelity.py

Seeds ``SEED_FROM`` .. ``SEED_TO - 1``; for every seed and id two episodes, one per policy
(episode index ``2 * i + k`` for the ``i``-th seed and the ``k``-th policy):

* ``random``: uniform actions, every id;
* ``oracle`` (uses the hidden state): Mortar Mayhem walks to the target tile (grid variants
  turn, then step), Mystery Path follows the hidden path to the goal, Searing Spotlights
  heads for the nearest coin, then the exit (endless: the coin), ignoring the spotlights;
* ``random_sticky`` for Endless Mystery Path (repeats its last action with probability 0.8).

Every episode first draws its reset parameters, ``options = draw(env_id,
numpy.random.default_rng([seed, k]))``, from the ranges of the fixtures' README (this
sampler's own draws, not the fixtures' maker's), and is played by a fresh instance
(``gym.make`` before, ``close`` after), reset with ``env.reset(seed=seed, options=options)``.
Episodes are cut at ``--max-steps`` steps (600; ``done`` stays false then).

Output, per environment id: ``<id>.npz`` (``obs`` in standard image layout, i.e. the
original's ``obs.transpose(1, 0, 2)``; ``vector_obs`` for the B variants; ``actions`` with -1
on reset rows; ``rewards`` float32; ``dones``; ``step``; ``episode``) and ``<id>.jsonl.gz``
(one ``{"episode", "step", "info", "state"}`` object per row, plus ``options`` in the reset
row; ``state`` is the environment's attributes after that step, converted as the fixtures
do it), and ``episodes.json`` for all ids. ``--ranges`` prints the parameter ranges.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import os
import sys
from enum import Enum
from importlib import metadata
from pathlib import Path

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym  # noqa: E402
import memory_gym  # noqa: E402, F401  (registers the environment ids)
import numpy as np  # noqa: E402
import pygame  # noqa: E402
from memory_gym.pygame_assets import Node  # noqa: E402

IDS = [
    "MortarMayhem-v0",
    "MortarMayhem-Grid-v0",
    "MortarMayhemB-v0",
    "MortarMayhemB-Grid-v0",
    "MysteryPath-v0",
    "MysteryPath-Grid-v0",
    "SearingSpotlights-v0",
    "Endless-MortarMayhem-v0",
    "Endless-MysteryPath-v0",
    "Endless-SearingSpotlights-v0",
]
MAX_STEPS = 600

# ---------------------------------------------------------------------------------------
# Reset parameters: one drawing rule per parameter, ``rule(rng, drawn_so_far) -> value``,
# with a description for ``--ranges``.


def uniform(lo, hi, decimals=2):
    def rule(rng, opts):
        return round(float(rng.uniform(lo, hi)), decimals)

    return rule, f"float U[{lo}, {hi}] ({decimals} decimals)"


def integer(lo, hi):
    def rule(rng, opts):
        return int(rng.integers(lo, hi + 1))

    return rule, f"int [{lo}, {hi}]"


def int_list(lo, hi, most=3):
    def rule(rng, opts):
        n = int(rng.integers(1, most + 1))
        return sorted(int(v) for v in rng.choice(np.arange(lo, hi + 1), n, replace=False))

    return rule, f"list of 1-{most} distinct ints in [{lo}, {hi}]"


def boolean(p=0.5):
    def rule(rng, opts):
        return bool(rng.random() < p)

    return rule, "bool" if p == 0.5 else f"bool, P(True)={p}"


def fixed(value, why):
    def rule(rng, opts):
        return value

    return rule, f"fixed {value} ({why})"


def either(value, p, other, text):
    """``value`` with probability ``p``, else the ``other`` rule."""

    def rule(rng, opts):
        return value if rng.random() < p else other[0](rng, opts)

    return rule, f"{text} with P={p}, else {other[1]}"


def above(base, spread, cap, decimals):
    """``opts[base] + U[0, spread]``, at most ``cap``: never below the drawn minimum."""

    def rule(rng, opts):
        return round(min(opts[base] + float(rng.uniform(0.0, spread)), cap), decimals)

    return rule, f"{base} + U[0, {spread}], at most {cap} ({decimals} decimals)"


def _mortar(grid, task_b=False, endless=False):
    spec = {}
    if endless:
        spec["max_steps"] = either(-1, 0.3, integer(100, 600), "-1 (no limit)")
    spec["agent_scale"] = uniform(0.15, 0.4)
    if not grid:
        spec["agent_speed"] = uniform(2.5, 6.0)
    if not endless:
        spec["arena_size"] = integer(2, 6)
    spec["allowed_commands"] = integer(4, 9)
    if endless:
        spec["initial_command_count"] = integer(1, 5)
    else:
        spec["command_count"] = int_list(1, 20 if task_b else 12)
    if not task_b:
        spec["command_show_duration"] = int_list(1, 5)
        spec["command_show_delay"] = int_list(0, 3)
    spec["explosion_duration"] = int_list(1, 4) if grid else int_list(1, 8)
    spec["explosion_delay"] = int_list(4, 10) if grid else int_list(8, 24)
    spec["visual_feedback"] = boolean()
    spec["reward_command_failure"] = uniform(-1.0, 0.0)
    spec["reward_command_success"] = uniform(0.0, 1.0)
    if not endless:
        spec["reward_episode_success"] = uniform(0.0, 1.0)
    return spec


def _mystery(grid):
    spec = {"max_steps": integer(32, 256) if grid else integer(64, 512)}
    spec["agent_scale"] = uniform(0.15, 0.45)
    if not grid:
        spec["agent_speed"] = uniform(2.0, 6.0)
    spec["cardinal_origin_choice"] = int_list(0, 3, most=4)
    spec["show_origin"] = boolean()
    spec["show_goal"] = boolean()
    spec["visual_feedback"] = boolean()
    spec["reward_goal"] = uniform(0.0, 1.0)
    spec["reward_fall_off"] = uniform(-1.0, 0.0)
    spec["reward_path_progress"] = uniform(0.0, 0.5)
    spec["reward_step"] = uniform(-0.05, 0.0, 3)
    return spec


def _endless_mystery():
    return {
        "max_steps": either(-1, 0.3, integer(64, 600), "-1 (no limit)"),
        "agent_scale": uniform(0.15, 0.45),
        "agent_speed": uniform(2.0, 6.0),
        "show_origin": boolean(),
        "show_past_path": boolean(),
        "show_background": boolean(),
        "show_stamina": boolean(),
        "visual_feedback": boolean(),
        "camera_offset_scale": uniform(0.0, 5.5),
        "stamina_level": integer(5, 40),
        "reward_fall_off": uniform(-1.0, 0.0),
        "reward_path_progress": uniform(0.0, 0.5),
        "reward_step": uniform(-0.05, 0.0, 3),
    }


def _spotlights(endless):
    spec = {}
    if endless:
        spec["max_steps"] = either(-1, 0.3, integer(100, 600), "-1 (no limit)")
        spec["steps_per_coin"] = integer(40, 200)
        spec["initial_spawns"] = integer(0, 6)
        spec["spawn_interval"] = integer(10, 80)
    else:
        spec["max_steps"] = integer(64, 512)
        spec["initial_spawns"] = integer(0, 6)
        spec["num_spawns"] = integer(0, 40)
        spec["initial_spawn_interval"] = integer(10, 40)
        spec["spawn_interval_threshold"] = integer(0, 20)
        spec["spawn_interval_decay"] = uniform(0.8, 1.0)
    spec["spot_min_radius"] = uniform(4.0, 12.0)
    spec["spot_max_radius"] = above("spot_min_radius", 8.0, 20.0, 2)
    spec["spot_min_speed"] = uniform(0.002, 0.008, 4)
    spec["spot_max_speed"] = above("spot_min_speed", 0.004, 0.012, 4)
    spec["spot_damage"] = uniform(0.5, 2.0)
    spec["visual_feedback"] = boolean()
    spec["black_background"] = boolean(0.3)
    spec["hide_chessboard"] = boolean(0.3)
    spec["light_dim_off_duration"] = integer(0, 12)
    spec["light_threshold"] = either(255, 0.5, integer(100, 254), "255")
    if not endless:
        spec["num_coins"] = int_list(1, 5)
    spec["coin_scale"] = uniform(0.25, 0.6)
    if endless:
        spec["coin_show_duration"] = integer(0, 12)
    spec["coins_visible"] = boolean()
    if not endless:
        why = "use_exit=False: AttributeError 'exit' in reset() of a fresh instance"
        spec["use_exit"] = fixed(True, why)
        spec["exit_scale"] = uniform(0.4, 0.8)
        spec["exit_visible"] = boolean()
    spec["agent_speed"] = uniform(2.0, 6.0)
    spec["agent_health"] = integer(1, 15) if endless else integer(1, 10)
    spec["agent_scale"] = uniform(0.15, 0.4)
    spec["agent_visible"] = boolean()
    spec["sample_agent_position"] = boolean()
    if endless:
        why = "False: AttributeError 'action_colors' in the first step()"
        spec["show_last_action"] = fixed(True, why)
    else:
        spec["show_last_action"] = boolean()
    spec["show_last_positive_reward"] = boolean()
    spec["reward_inside_spotlight"] = uniform(-0.5, 0.0)
    spec["reward_outside_spotlight"] = uniform(0.0, 0.05, 3)
    spec["reward_death"] = uniform(-1.0, 0.0)
    if not endless:
        spec["reward_exit"] = uniform(0.0, 1.0)
        spec["reward_max_steps"] = uniform(-1.0, 0.0)
    spec["reward_coin"] = uniform(0.0, 1.0)
    return spec


SPECS = {
    "MortarMayhem-v0": _mortar(grid=False),
    "MortarMayhem-Grid-v0": _mortar(grid=True),
    "MortarMayhemB-v0": _mortar(grid=False, task_b=True),
    "MortarMayhemB-Grid-v0": _mortar(grid=True, task_b=True),
    "MysteryPath-v0": _mystery(grid=False),
    "MysteryPath-Grid-v0": _mystery(grid=True),
    "SearingSpotlights-v0": _spotlights(endless=False),
    "Endless-MortarMayhem-v0": _mortar(grid=False, endless=True),
    "Endless-MysteryPath-v0": _endless_mystery(),
    "Endless-SearingSpotlights-v0": _spotlights(endless=True),
}


def draw(env_id: str, rng: np.random.Generator) -> dict:
    """Reset parameters for ``env_id``, every one the original reads, drawn with ``rng``."""
    opts = {}
    for name, (rule, _) in SPECS[env_id].items():
        opts[name] = rule(rng, opts)
    return opts


def ranges_table() -> str:
    lines = []
    for env_id, spec in SPECS.items():
        lines += [f"### {env_id}", "", "| parameter | drawn as |", "|---|---|"]
        lines += [f"| `{name}` | {text} |" for name, (_, text) in spec.items()]
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# The environment's state as JSON, converted as in the fixtures: a Rect becomes
# {"rect", "center"}, a Vector2 a pair, an Enum its name, a surface "<surface alpha=A>", a
# large array "<ndarray SHAPE>", another object {"__class__", its attributes}; path nodes keep
# their own fields only. Left out: pygame/gym machinery, random generators, the episode's
# reward list, the node grids, and surfaces held as attributes, or not yet made (``None``),
# except the spotlights' darkness layer, whose alpha is part of the state.

SKIP = {
    "screen",
    "clock",
    "debug_window",
    "renderer",
    "action_space",
    "observation_space",
    "spec",
    "_np_random",
    "np_random",
    "rng",
    "episode_rewards",
    "grid",
    "_command_visualization_clone",
}
KEEP_SURFACES = {"spotlight_surface"}
NODE_FIELDS = ("x", "y", "is_wall", "reward_visited", "stamina_visited")
LARGE = 1000


def to_json(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, Enum):
        return v.name
    if isinstance(v, pygame.Rect):
        return {"rect": list(v), "center": list(v.center)}
    if isinstance(v, pygame.math.Vector2):
        return [v.x, v.y]
    if isinstance(v, pygame.Surface):
        return f"<surface alpha={v.get_alpha()}>"
    if isinstance(v, np.ndarray):
        return f"<ndarray {v.shape}>" if v.size > LARGE else to_json(v.tolist())
    if isinstance(v, np.dtype):
        return repr(v)
    if isinstance(v, dict):
        return {str(k): to_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, Node):
        return {f: to_json(getattr(v, f)) for f in NODE_FIELDS}
    if hasattr(v, "__dict__"):
        return {"__class__": type(v).__name__} | attributes(v)
    return repr(v)


def attributes(obj) -> dict:
    out = {}
    for name, v in vars(obj).items():
        surface = isinstance(v, pygame.Surface) or name.endswith("surface")
        if name in SKIP or (surface and name not in KEEP_SURFACES):
            continue
        out[name] = to_json(v)
    return out


# ---------------------------------------------------------------------------------------
# Policies: ``policy(env, rng, previous_action) -> action``, with ``env`` the unwrapped
# original. MultiDiscrete([3, 3]) actions are [horizontal, vertical] (1 left/up, 2
# right/down); Discrete(4) ones 0 nothing, 1 turn left, 2 turn right, 3 forward (grid
# variants) or 0 nothing, 1 right, 2 up, 3 down (Endless Mystery Path).


def is_discrete(env_id: str) -> bool:
    return "Grid" in env_id or env_id == "Endless-MysteryPath-v0"


def random_action(env_id, rng):
    if is_discrete(env_id):
        return int(rng.integers(0, 4))
    return [int(rng.integers(0, 3)), int(rng.integers(0, 3))]


def toward(pos, target, step):
    """A [horizontal, vertical] action that moves ``pos`` towards ``target`` (each axis
    while it is more than half a step away)."""
    action = [0, 0]
    for axis in (0, 1):
        d = target[axis] - pos[axis]
        if d > step / 2:
            action[axis] = 2
        elif d < -step / 2:
            action[axis] = 1
    return action


# Grid controllers: rotation 0 faces north (y - 1), 90 west, 180 south, 270 east.
FACING = {(0, -1): 0, (-1, 0): 90, (0, 1): 180, (1, 0): 270}


def grid_toward(agent, cell):
    """Discrete action of a grid controller towards the 4-neighbour or same ``cell``."""
    x, y = (int(c) for c in agent.grid_position)
    dx, dy = int(cell[0]) - x, int(cell[1]) - y
    if dx == 0 and dy == 0:
        return 0
    step = (int(np.sign(dx)), 0) if dx != 0 else (0, int(np.sign(dy)))
    turn = (FACING[step] - agent.rotation) % 360
    return 3 if turn == 0 else (2 if turn == 270 else 1)


def mortar_oracle(env_id, env):
    target = (int(env._target_pos[0]), int(env._target_pos[1]))
    if env._command_visualization:  # the agent cannot move while the commands are shown
        return 0 if is_discrete(env_id) else [0, 0]
    if is_discrete(env_id):
        return grid_toward(env.agent, target)
    arena, dim = env.arena.rect, env.arena.tile_dim
    centre = (arena[0] + (target[0] + 0.5) * dim, arena[1] + (target[1] + 0.5) * dim)
    return toward(env.agent.rect.center, centre, max(int(env.agent.speed), 1))


def mystery_oracle(env_id, env):
    cells = [(n.x, n.y) for n in env.mystery_path.path]  # goal first, origin last
    if is_discrete(env_id):
        here = tuple(int(c) for c in env.agent.grid_position)
    else:
        here = tuple(int(c) for c in env.normalized_agent_position)
    if here not in cells or cells.index(here) == 0:
        return 0 if is_discrete(env_id) else [0, 0]
    nxt = cells[cells.index(here) - 1]
    if is_discrete(env_id):
        return grid_toward(env.agent, nxt)
    # Along one axis at a time: the centre stays in the row (column) of the path.
    if nxt[0] != here[0]:
        return [2 if nxt[0] > here[0] else 1, 0]
    return [0, 2 if nxt[1] > here[1] else 1]


def spotlights_oracle(env_id, env):
    pos = env.agent.rect.center
    if env_id.startswith("Endless"):
        target = env.coin.location
    elif env.coins:
        target = min(
            (c.location for c in env.coins),
            key=lambda p: (p[0] - pos[0]) ** 2 + (p[1] - pos[1]) ** 2,
        )
    else:
        target = env.exit.location
    return toward(pos, target, max(int(env.agent.speed), 1))


def policies(env_id: str) -> list[str]:
    return ["random", "random_sticky" if env_id == "Endless-MysteryPath-v0" else "oracle"]


def act(env_id, policy, env, rng, previous):
    if policy == "random":
        return random_action(env_id, rng)
    if policy == "random_sticky":
        if previous is not None and rng.random() < 0.8:
            return copy.copy(previous)
        return random_action(env_id, rng)
    if "MortarMayhem" in env_id:
        return mortar_oracle(env_id, env)
    if "MysteryPath" in env_id:
        return mystery_oracle(env_id, env)
    return spotlights_oracle(env_id, env)


# ---------------------------------------------------------------------------------------
# Recording


def image(obs):
    """The visual observation in standard image layout (row = y)."""
    vis = obs["visual_observation"] if isinstance(obs, dict) else obs
    return np.ascontiguousarray(np.asarray(vis, np.uint8).transpose(1, 0, 2))


def play(env_id, index, seed, k, rows, arrays, max_steps):
    """Play one episode in a fresh instance of the original; append its JSON rows to
    ``rows`` (a text stream) and its array rows to ``arrays``; return its summary."""
    policy = policies(env_id)[k]
    options = draw(env_id, np.random.default_rng([seed, k]))
    rng = np.random.default_rng([seed, k, 1])  # the policy's own draws
    width = 1 if is_discrete(env_id) else 2
    env = gym.make(env_id)
    try:
        obs, info = env.reset(seed=seed, options=copy.deepcopy(options))
        raw = env.unwrapped
        row = {"episode": index, "step": 0, "info": to_json(info), "state": attributes(raw)}
        rows.write(json.dumps(row | {"options": options}) + "\n")
        arrays.append((obs, [-1] * width, 0.0, False, 0, index))
        total, done, t, action = 0.0, False, 0, None
        while not done and t < max_steps:
            action = act(env_id, policy, raw, rng, action)
            obs, reward, terminated, truncated, info = env.step(copy.copy(action))
            t += 1
            done = bool(terminated or truncated)
            total += reward
            row = {"episode": index, "step": t, "info": to_json(info), "state": attributes(raw)}
            rows.write(json.dumps(row) + "\n")
            stored = [action] if isinstance(action, int) else list(action)
            arrays.append((obs, stored, reward, done, t, index))
    finally:
        env.close()
    summary = {"episode": index, "env_id": env_id, "seed": seed, "policy": policy}
    return summary | {"length": t, "return": total, "done": done, "options": options}


def record(env_id, seeds, out: Path, max_steps) -> list[dict]:
    arrays, episodes = [], []
    with gzip.open(out / f"{env_id}.jsonl.gz", "wt") as rows:
        for i, seed in enumerate(seeds):
            for k in range(2):
                episodes.append(play(env_id, 2 * i + k, seed, k, rows, arrays, max_steps))
    obs = [a[0] for a in arrays]
    data = {"obs": np.stack([image(o) for o in obs])}
    if isinstance(obs[0], dict):
        data["vector_obs"] = np.stack(
            [np.asarray(o["vector_observation"], np.float32) for o in obs]
        )
    data["actions"] = np.array([a[1] for a in arrays], np.int64)
    data["rewards"] = np.array([a[2] for a in arrays], np.float32)
    data["dones"] = np.array([a[3] for a in arrays], bool)
    data["step"] = np.array([a[4] for a in arrays], np.int64)
    data["episode"] = np.array([a[5] for a in arrays], np.int64)
    np.savez_compressed(out / f"{env_id}.npz", **data)
    return episodes


def default_parameters(env_id) -> dict:
    env = gym.make(env_id)
    try:
        return to_json(type(env.unwrapped).default_reset_parameters)
    finally:
        env.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", nargs="?", type=Path)
    parser.add_argument("seed_from", nargs="?", type=int)
    parser.add_argument("seed_to", nargs="?", type=int, help="exclusive")
    parser.add_argument("--ids", nargs="+", default=IDS, choices=IDS, metavar="ID")
    parser.add_argument("--max-steps", type=int, default=MAX_STEPS)
    parser.add_argument("--ranges", action="store_true", help="print the parameter ranges")
    args = parser.parse_args(argv)
    if args.ranges:
        print(ranges_table())
        return 0
    if args.out_dir is None or args.seed_from is None or args.seed_to is None:
        parser.error("OUT_DIR SEED_FROM SEED_TO are required")

    args.out_dir.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.seed_from, args.seed_to))
    meta = {name: metadata.version(name) for name in ("memory_gym", "gymnasium", "pygame")}
    meta |= {"numpy": np.__version__, "instance": "fresh per episode"}
    meta["original_default_reset_parameters"] = {i: default_parameters(i) for i in args.ids}
    meta["episodes"] = []
    for env_id in args.ids:
        episodes = record(env_id, seeds, args.out_dir, args.max_steps)
        meta["episodes"] += episodes
        lengths = [e["length"] for e in episodes]
        print(f"{env_id}: {len(episodes)} episodes, lengths {lengths}", flush=True)
    (args.out_dir / "episodes.json").write_text(json.dumps(meta, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
