"""What a report reads: run folders (``config.json``, ``eval.json``, TensorBoard events, other
evaluations, ``provenance.json``) found under the given folders, grouped by environment and
agent."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engram.provenance import PROVENANCE


@dataclass
class Curve:
    """One scalar of one seed: ``steps`` (environment steps), ``wall`` (seconds since the
    run's first event) and ``values``, all 1-d float arrays of equal length."""

    steps: np.ndarray
    wall: np.ndarray
    values: np.ndarray


@dataclass
class Run:
    """One seed of one training run.

    Attributes:
        path: the run folder.
        name: a label (the folder name, plus ``/seed_k`` for a multi-seed run's seed).
        config: the resolved configuration (``config.json``).
        seed: the seed.
        variant: ``"rec"`` with observation reconstruction, else ``"base"`` (or the variant
            name of a sweep run).
        eval: this seed's final evaluation (``eval.json``; a multi-seed run's ``per_seed``
            entry), or None for an unfinished run.
        summary: the whole ``eval.json`` (train seconds, memory), or None.
        curves: scalar tag -> :class:`Curve` from the TensorBoard events.
        evaluations: the agent's part of ``engram eval``'s JSON files of a trial task, each
            with its ``trial_scale`` (trial length over the training one) and
            ``stream_window``.
        provenance: ``provenance.json`` (versions, commit, hardware), or None.
    """

    path: Path
    name: str
    config: dict
    seed: int
    variant: str
    eval: dict | None
    summary: dict | None
    curves: dict[str, Curve] = field(default_factory=dict)
    evaluations: list[dict] = field(default_factory=list)
    provenance: dict | None = None

    @property
    def env(self) -> str:
        """The environment id."""
        return self.config["env"]

    @property
    def agent(self) -> str:
        """The agent, with its variant when not ``base`` (e.g. ``trxl+rec``)."""
        a = self.config["agent"]
        return a if self.variant == "base" else f"{a}+{self.variant}"


def read_events(path: Path) -> dict[str, Curve]:
    """The scalars of one TensorBoard event file (TFRecord framing: length, its CRC, the
    serialised ``Event``, its CRC; CRCs are not checked). A truncated last record (a killed
    run) is ignored. For a tag logged twice at one step (a resumed run) the later wins."""
    from tensorboardX.proto import event_pb2

    data = path.read_bytes()
    points: dict[str, dict[int, tuple[float, float]]] = {}
    first_wall = None
    i = 0
    while i + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, i)
        end = i + 12 + length + 4
        if end > len(data):
            break
        event = event_pb2.Event.FromString(data[i + 12 : i + 12 + length])
        i = end
        if first_wall is None:
            first_wall = event.wall_time
        for v in event.summary.value:
            if v.WhichOneof("value") == "simple_value":
                points.setdefault(v.tag, {})[event.step] = (event.wall_time, v.simple_value)
    curves = {}
    for tag, by_step in points.items():
        steps = np.array(sorted(by_step), float)
        wall = np.array([by_step[s][0] - first_wall for s in sorted(by_step)], float)
        values = np.array([by_step[s][1] for s in sorted(by_step)], float)
        curves[tag] = Curve(steps, wall, values)
    return curves


def _curves(folder: Path) -> dict[str, Curve]:
    """The scalars of every event file in ``folder`` (a resumed run has several), merged by
    step; wall time continues across files (time between attempts is left out)."""
    merged: dict[str, Curve] = {}
    offset = 0.0
    for path in sorted(folder.glob("events.out.tfevents*")):
        curves = read_events(path)
        end = 0.0
        for tag, c in curves.items():
            wall = c.wall + offset
            end = max(end, float(wall[-1]) if len(wall) else 0.0)
            if tag in merged:
                old = merged[tag]
                keep = old.steps < (c.steps[0] if len(c.steps) else np.inf)
                c = Curve(
                    np.concatenate([old.steps[keep], c.steps]),
                    np.concatenate([old.wall[keep], wall]),
                    np.concatenate([old.values[keep], c.values]),
                )
            else:
                c = Curve(c.steps, wall, c.values)
            merged[tag] = c
        offset = max(offset, end)
    return merged


def _json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _variant(folder: Path, config: dict) -> str:
    parts = folder.name.split("__")
    if len(parts) == 5 and parts[0] == config.get("env"):  # a sweep run: env__agent__VARIANT..
        return parts[2]
    return "rec" if config.get("obs_reconstruction", 0) else "base"


def load_run(folder: str | Path) -> list[Run]:
    """The runs (one per seed) of one run folder.

    Raises:
        ValueError: ``folder`` has no readable ``config.json``.
    """
    folder = Path(folder)
    config = _json(folder / "config.json")
    if config is None or "env" not in config:
        raise ValueError(f"report: {folder} has no readable config.json of engram train")
    summary = _json(folder / "eval.json")
    prov = _json(folder / PROVENANCE)
    evaluations = []
    for path in sorted(folder.glob("*.json")):
        if path.name in ("config.json", "eval.json", PROVENANCE):
            continue
        ev = _json(path)
        agent = ev.get("agent") if ev else None  # engram eval's file: {"agent", "random", ...}
        if isinstance(agent, dict) and "per_episode_index" in agent:
            trained = (summary or {}).get("trial_length")
            scale = round(agent["trial_length"] / trained) if trained else None
            evaluations.append(
                {**agent, "trial_scale": scale, "stream_window": ev.get("stream_window")}
                | {"file": path.name}
            )
    variant = _variant(folder, config)
    num_seeds = int(config.get("num_seeds", 1))
    if num_seeds == 1:
        return [
            Run(
                folder,
                folder.name,
                config,
                int(config.get("seed", 0)),
                variant,
                summary,
                summary,
                _curves(folder),
                evaluations,
                prov,
            )
        ]
    runs = []
    for k in range(num_seeds):
        seed = int(config.get("seed", 0)) + k
        per_seed = (summary or {}).get("per_seed")
        ev = per_seed[k] if per_seed else None
        runs.append(
            Run(
                folder,
                f"{folder.name}/seed_{seed}",
                config,
                seed,
                variant,
                ev,
                summary,
                _curves(folder / f"seed_{seed}"),
                [],
                prov,
            )
        )
    return runs


def find_runs(dirs: list[str | Path]) -> list[Run]:
    """Every run under ``dirs`` (run folders, sweep folders or any folder above them), each
    folder once, in path order.

    Raises:
        ValueError: a folder does not exist, or no run is found.
    """
    folders: set[Path] = set()
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise ValueError(f"report: {d} is not a folder")
        folders.update(p.parent.resolve() for p in d.rglob("config.json"))
    runs = [r for folder in sorted(folders) for r in load_run(folder)]
    if not runs:
        raise ValueError(f"report: no run folder (with config.json) under {[str(d) for d in dirs]}")
    return runs


def groups(runs: list[Run]) -> dict[str, dict[str, list[Run]]]:
    """``env -> agent -> runs`` (seeds), envs and agents in order of first appearance."""
    out: dict[str, dict[str, list[Run]]] = {}
    for r in runs:
        out.setdefault(r.env, {}).setdefault(r.agent, []).append(r)
    return out
