"""A sweep specification: the grid of runs ``engram sweep`` trains, read from TOML (or YAML).

A spec file has these tables (only ``[grid]`` is required)::

    out = "sweeps/tiny"          # the sweep folder (default: beside the file, its stem)
    executor = "local"           # "local" (one run after another) or "ray"

    [grid]                       # every combination is one run
    env = ["MortarMayhem-Grid-v0", "TMaze-v0"]
    agent = ["gru", "none"]
    seed = [0, 1]
    total_steps = [100_000]      # budgets in environment steps (default: base's)

    [base]                       # TrainConfig fields shared by every run
    preset = "paper"             # optional: the paper's configuration of each env first
    num_envs = 16

    [per_env."TMaze-v0"]         # overrides for one env of the grid (over base)
    env_options = ["corridor_length=10"]

    [[variant]]                  # option overrides; each is crossed with the grid
    name = "rec"
    obs_reconstruction = 0.1

    [resources]                  # what each run asks of Ray (ignored by "local")
    num_cpus = 1
    num_gpus = 0

Every run is checked with :meth:`TrainConfig.validate` when the spec is read, so a bad
value fails before the first compilation, with the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engram.config import TrainConfig
from engram.presets import paper_config

EXECUTORS = ("local", "ray")
TOP_KEYS = ("out", "executor", "grid", "base", "per_env", "variant", "resources")
GRID_KEYS = ("env", "agent", "seed", "total_steps")
RESOURCE_KEYS = ("num_cpus", "num_gpus")
#: TrainConfig fields a spec may not set: the sweep owns where runs go and how they start.
RESERVED = ("run_dir", "run_name", "resume", "config", "num_seeds")


class SpecError(ValueError):
    """A sweep specification that cannot be run; the message names the key and value."""


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep.

    Attributes:
        name: the run's folder name inside ``SweepSpec.runs_dir`` (stable across restarts).
        env, agent, seed, total_steps, variant: its grid coordinates.
        config: the TrainConfig it trains (``run_dir``/``run_name`` set).
    """

    name: str
    env: str
    agent: str
    seed: int
    total_steps: int
    variant: str
    config: TrainConfig


@dataclass
class SweepSpec:
    """A parsed, validated sweep.

    Attributes:
        out: the sweep folder; runs go to ``out/runs/<name>``.
        executor: ``"local"`` or ``"ray"``.
        runs: every run of the grid, in a fixed order.
        num_cpus, num_gpus: the resources of one run on Ray.
        source: the file it was read from (None when built from a dict).
    """

    out: Path
    executor: str
    runs: list[RunSpec]
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    source: Path | None = None
    raw: dict = field(default_factory=dict)

    @property
    def runs_dir(self) -> Path:
        """The folder holding one sub-folder per run."""
        return self.out / "runs"


def _list(table: dict, key: str, kind: type, where: str) -> list:
    value = table[key]
    values = value if isinstance(value, list) else [value]
    if not values:
        raise SpecError(f"{where}.{key}: got an empty list; give at least one value")
    for v in values:
        if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
            raise SpecError(
                f"{where}.{key}: got {v!r} ({type(v).__name__}); expected {kind.__name__} "
                f"or a list of {kind.__name__}"
            )
    if len(set(values)) != len(values):
        raise SpecError(f"{where}.{key}: got {values!r}; values must be distinct")
    return values


def _check_keys(table: Any, allowed: tuple[str, ...], where: str) -> dict:
    if not isinstance(table, dict):
        raise SpecError(f"{where}: got {table!r}; expected a table of keys {list(allowed)}")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    return table


def _options(values: dict, where: str) -> dict:
    """TrainConfig fields from a spec table, lists turned into tuples, names checked."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    out = {}
    for k, v in values.items():
        if k in RESERVED or k in GRID_KEYS:
            owner = "[grid]" if k in GRID_KEYS else "the sweep"
            raise SpecError(f"{where}.{k}: got {v!r}; {k} is set by {owner}, not here")
        if k not in names:
            raise SpecError(
                f"{where}.{k}: unknown option (value {v!r}); allowed: the fields of "
                f"engram train --help, e.g. {sorted(names)[:6]} ..."
            )
        out[k] = tuple(v) if isinstance(v, list) else v
    return out


def parse_spec(raw: dict, base_dir: Path | str = ".", default_out: str = "sweep") -> SweepSpec:
    """Validate a spec given as a dict (the TOML document) and expand its grid.

    Args:
        raw: the document, as :func:`tomllib.load` returns it.
        base_dir: the folder a relative ``out`` is taken from.
        default_out: the sweep folder's name when ``out`` is absent.

    Returns:
        the :class:`SweepSpec`, every run's configuration validated.

    Raises:
        SpecError: an unknown key, a value of the wrong type, or a run whose configuration
            TrainConfig rejects (the message names the run, the key and the value).
    """
    _check_keys(raw, TOP_KEYS, "spec")
    executor = raw.get("executor", "local")
    if executor not in EXECUTORS:
        raise SpecError(f"spec.executor: got {executor!r}; allowed: {list(EXECUTORS)}")
    if "grid" not in raw:
        raise SpecError(f"spec: the [grid] table is missing; it takes keys {list(GRID_KEYS)}")
    grid = _check_keys(raw["grid"], GRID_KEYS, "grid")
    for key in ("env", "agent"):
        if key not in grid:
            raise SpecError(f"grid.{key}: missing; give a name or a list of names")
    envs = _list(grid, "env", str, "grid")
    agents = _list(grid, "agent", str, "grid")
    seeds = _list(grid, "seed", int, "grid") if "seed" in grid else [0]
    budgets = _list(grid, "total_steps", int, "grid") if "total_steps" in grid else [None]

    base = dict(raw.get("base", {}))
    if not isinstance(base, dict):
        raise SpecError(f"base: got {base!r}; expected a table of TrainConfig fields")
    preset = base.pop("preset", None)
    if preset not in (None, "paper"):
        raise SpecError(f"base.preset: got {preset!r}; allowed: 'paper' (or leave it out)")
    base = _options(base, "base")

    per_env_raw = raw.get("per_env", {})
    if not isinstance(per_env_raw, dict):
        raise SpecError(f'per_env: got {per_env_raw!r}; expected tables [per_env."ENV_ID"]')
    per_env = {}
    for env, table in per_env_raw.items():
        if env not in envs:
            raise SpecError(f"per_env.{env}: not an env of the grid; grid.env is {envs}")
        if not isinstance(table, dict):
            raise SpecError(f"per_env.{env}: got {table!r}; expected a table of options")
        per_env[env] = _options(table, f"per_env.{env}")

    variants_raw = raw.get("variant", [{}])
    if not isinstance(variants_raw, list) or not all(isinstance(v, dict) for v in variants_raw):
        raise SpecError(f"variant: got {variants_raw!r}; expected [[variant]] tables")
    variants = []
    for i, v in enumerate(variants_raw):
        v = dict(v)
        name = v.pop("name", "base" if len(variants_raw) == 1 else f"v{i}")
        if not isinstance(name, str) or not name or "__" in name or "/" in name:
            raise SpecError(f"variant[{i}].name: got {name!r}; a non-empty name without '__', '/'")
        variants.append((name, _options(v, f"variant[{i}]")))
    names = [n for n, _ in variants]
    if len(set(names)) != len(names):
        raise SpecError(f"variant.name: got {names}; names must be distinct")

    res = _check_keys(raw.get("resources", {}), RESOURCE_KEYS, "resources")
    for k, v in res.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise SpecError(f"resources.{k}: got {v!r}; expected a number >= 0")

    out = raw.get("out", default_out)
    if not isinstance(out, str) or not out:
        raise SpecError(f"spec.out: got {out!r}; expected a folder path")
    out_dir = Path(base_dir) / out
    runs_dir = out_dir / "runs"
    runs = []
    for env, agent, (vname, voptions), budget, seed in itertools.product(
        envs, agents, variants, budgets, seeds
    ):
        values: dict[str, Any] = paper_config_or_empty(env, preset)
        values.update(base)
        values.update(per_env.get(env, {}))
        values.update(voptions)
        values.update(env=env, agent=agent, seed=seed)
        if budget is not None:
            values["total_steps"] = budget
        steps = values.get("total_steps", TrainConfig.total_steps)
        name = f"{env}__{agent}__{vname}__{steps}__{seed}"
        values.update(run_dir=str(runs_dir), run_name=name)
        try:
            config = TrainConfig(**values)
            config.validate()
        except (TypeError, ValueError) as e:
            raise SpecError(f"run {name}: {e}") from None
        runs.append(RunSpec(name, env, agent, seed, steps, vname, config))
    return SweepSpec(
        out=out_dir,
        executor=executor,
        runs=runs,
        num_cpus=float(res.get("num_cpus", 1)),
        num_gpus=float(res.get("num_gpus", 0)),
        raw=raw,
    )


def paper_config_or_empty(env: str, preset: str | None) -> dict:
    """The paper's configuration of ``env`` when ``preset == "paper"``, else ``{}``.

    Raises:
        SpecError: the preset does not cover ``env``.
    """
    if preset is None:
        return {}
    try:
        return paper_config(env)
    except ValueError as e:
        raise SpecError(f"base.preset: {e}") from None


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a spec file (``.toml``; ``.yaml``/``.yml`` when PyYAML is installed).

    A relative ``out`` is taken from the file's folder; without ``out`` the sweep folder is
    the file's stem beside it.

    Raises:
        SpecError: the file is missing, not valid TOML/YAML, or its content is invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec: {path} does not exist")
    text = path.read_text()
    raw: Any
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise SpecError(
                f"spec: {path} is YAML, which needs PyYAML (pip install pyyaml)"
            ) from None
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise SpecError(f"spec: {path} is not valid YAML ({e})") from None
    else:
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise SpecError(f"spec: reading {path} needs Python 3.11 (tomllib)") from None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise SpecError(f"spec: {path} is not valid TOML ({e})") from None
    spec = parse_spec(raw, base_dir=path.parent, default_out=path.stem)
    spec.source = path
    return spec
