"""``engram sweep``: run a spec's grid, or write a paper's plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import tyro
from rich.console import Console

from engram.sweep.executors import run_sweep
from engram.sweep.plans import write_plan
from engram.sweep.spec import load_spec


@dataclass
class SweepConfig:
    """Train a grid of runs from a TOML (or YAML) spec; finished runs are skipped and killed
    ones resumed, so the same command continues a stopped sweep. With --plan, write the
    papers' experiments as specs and print the device hours they need."""

    spec: tyro.conf.Positional[str | None] = None
    """The spec file (TOML; YAML with PyYAML installed)."""
    executor: Literal["local", "ray"] | None = None
    """Override the spec's executor: local (one after another) or ray (one task per run)."""
    address: str | None = None
    """The Ray cluster to join ("auto", "ray://HOST:10001"); default: a local Ray instance."""
    plan: Literal["memory-gym", "memo"] | None = None
    """Write the paper's experiment specs instead of running (into --plan-dir)."""
    plan_dir: str = "plans"
    """Where --plan writes its spec files."""
    sps: tuple[str, ...] = ()
    """--plan: measured steps/s that replace the built-in ones, as AGENT=N (e.g. gru=25000)."""


def _parse_sps(items: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for item in items:
        agent, sep, value = item.partition("=")
        try:
            out[agent] = float(value)
        except ValueError:
            sep = ""
        if not sep or not agent or out.get(agent, 0) <= 0:
            raise ValueError(f"sps: got {item!r}; expected AGENT=STEPS_PER_SECOND, e.g. gru=25000")
    return out


def sweep(config: SweepConfig) -> None:
    """Run ``engram sweep``.

    Raises:
        ValueError: a bad spec or option (the message names the key and the value).
        SystemExit: with status 1 when some runs failed (each is listed with its log).
    """
    console = Console()
    if config.plan is not None:
        files, lines = write_plan(config.plan, config.plan_dir, _parse_sps(config.sps))
        for f in files:
            print(f"wrote {f}")
        print("\n".join(lines))
        return
    if config.spec is None:
        raise ValueError("sweep: give a spec file (engram sweep SPEC.toml) or --plan NAME")
    spec = load_spec(config.spec)
    console.print(f"{len(spec.runs)} runs -> {spec.runs_dir}")
    progress = run_sweep(spec, config.executor, config.address, console)
    if progress.errors:
        raise SystemExit(1)
