"""Sweeps: a grid of training runs from a spec file (:mod:`.spec`), run one after another
or on Ray and resumable (:mod:`.executors`), the papers' experiments as plans
(:mod:`.plans`) and the ``engram sweep`` command (:mod:`.command`)."""

from engram.sweep.command import SweepConfig, sweep
from engram.sweep.executors import run_one, run_state, run_sweep
from engram.sweep.plans import PLANS, write_plan
from engram.sweep.spec import RunSpec, SpecError, SweepSpec, load_spec, parse_spec

__all__ = [
    "PLANS",
    "RunSpec",
    "SpecError",
    "SweepConfig",
    "SweepSpec",
    "load_spec",
    "parse_spec",
    "run_one",
    "run_state",
    "run_sweep",
    "sweep",
    "write_plan",
]
