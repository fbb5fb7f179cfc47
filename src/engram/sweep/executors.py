"""Running a sweep: which runs are left, one run (fresh or resumed), and the executors that
run them (``local``: one after another in this process; ``ray``: one Ray task per run), with
a live table of progress.

A run's state is read from its folder, so a sweep can be stopped and started again at any
time: a folder with ``eval.json`` is finished and skipped, one with a checkpoint continues
with ``engram train --resume`` semantics, any other starts afresh.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from engram.provenance import write_provenance
from engram.run.checkpoint import CHECKPOINT
from engram.sweep.spec import RunSpec, SweepSpec

#: the states a run can be in, in the order the summary lists them
STATES = ("done", "running", "resumable", "pending", "failed")
LOG = "train.log"


def run_state(folder: Path) -> str:
    """``"done"`` (has ``eval.json``), ``"resumable"`` (a checkpoint and ``config.json``)
    or ``"pending"`` (nothing usable yet) for a run folder."""
    if (folder / "eval.json").is_file():
        return "done"
    if (folder / CHECKPOINT).is_file() and (folder / "config.json").is_file():
        return "resumable"
    return "pending"


def run_one(run: RunSpec) -> dict:
    """Train one run of a sweep to the end: resume it from its checkpoint if it has one,
    else start it afresh (dropping the events of an attempt that died before its first
    checkpoint). The run's console output goes to ``<run>/train.log`` and what it runs on
    (versions, commit, hardware) to ``<run>/provenance.json``.

    Returns:
        ``{"name", "state": "done", "mean_return", "success_rate", "train_seconds",
        "resumed"}``; an already finished run is returned as is, untouched.

    Raises:
        whatever :func:`engram.run.train` raises (a bad configuration, a non-finite loss).
    """
    from engram.config import TrainConfig
    from engram.run import train

    folder = Path(run.config.run_dir) / run.config.run_name
    state = run_state(folder)
    if state == "done":
        summary = json.loads((folder / "eval.json").read_text())
        return _result(run.name, summary, resumed=False)
    folder.mkdir(parents=True, exist_ok=True)
    write_provenance(folder)  # of this attempt: a resumed run records where it ended
    if state == "resumable":
        config = TrainConfig(resume=str(folder))
    else:
        for stale in folder.glob("events.out.tfevents*"):
            stale.unlink()
        config = run.config
    with open(folder / LOG, "a") as log:
        console = Console(file=log, width=120, force_terminal=False, color_system=None)
        summary = train(config, console=console)
    return _result(run.name, summary, resumed=state == "resumable")


def _result(name: str, summary: dict, resumed: bool) -> dict:
    return dict(
        name=name,
        state="done",
        mean_return=summary.get("mean_return"),
        success_rate=summary.get("success_rate"),
        train_seconds=summary.get("train_seconds"),
        resumed=resumed,
    )


@dataclass
class Progress:
    """What the live summary shows: each run's state and result."""

    spec: SweepSpec
    states: dict[str, str]
    results: dict[str, dict]
    errors: dict[str, str]
    started: float

    @classmethod
    def of(cls, spec: SweepSpec) -> Progress:
        states = {r.name: run_state(spec.runs_dir / r.name) for r in spec.runs}
        return cls(spec, states, {}, {}, time.time())

    def counts(self) -> dict[str, int]:
        """How many runs are in each state."""
        return {s: sum(v == s for v in self.states.values()) for s in STATES}

    def table(self) -> Table:
        """A rich table: the counts, then the runs that are running, failed or finished now."""
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        elapsed = time.time() - self.started
        table = Table(
            title=f"engram sweep {self.spec.out}: {counts} ({elapsed:.0f} s)", title_justify="left"
        )
        for col in ("run", "state", "return", "success", "train s"):
            table.add_column(col)
        for run in self.spec.runs:
            state = self.states[run.name]
            r = self.results.get(run.name, {})
            if state == "done" and not r:
                continue  # finished before this invocation: counted in the title only
            fmt = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
            style = {"failed": "red", "running": "yellow", "done": "green"}.get(state, "")
            table.add_row(
                run.name,
                f"[{style}]{state}[/{style}]" if style else state,
                fmt(r.get("mean_return")),
                fmt(r.get("success_rate")),
                "" if r.get("train_seconds") is None else f"{r['train_seconds']:.0f}",
            )
        return table

    def finish(self, name: str, result: dict | None, error: str | None = None) -> None:
        """Record a run's end: its result, or its error (the state becomes ``failed``)."""
        if error is None:
            self.states[name] = "done"
            self.results[name] = result or {}
        else:
            self.states[name] = "failed"
            self.errors[name] = error


def _todo(spec: SweepSpec, progress: Progress) -> list[RunSpec]:
    return [r for r in spec.runs if progress.states[r.name] != "done"]


def run_local(spec: SweepSpec, progress: Progress, refresh: Callable[[], None]) -> None:
    """Train the unfinished runs one after another in this process."""
    for run in _todo(spec, progress):
        progress.states[run.name] = "running"
        refresh()
        try:
            progress.finish(run.name, run_one(run))
        except Exception as e:  # one failed run must not stop the others
            progress.finish(run.name, None, _error(run, e))
        refresh()


def _error(run: RunSpec, e: BaseException) -> str:
    folder = Path(run.config.run_dir) / run.config.run_name
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOG, "a") as log:
        log.write("".join(traceback.format_exception(e)))
    return f"{type(e).__name__}: {e}"


def run_ray(
    spec: SweepSpec, progress: Progress, refresh: Callable[[], None], address: str | None = None
) -> None:
    """Train the unfinished runs as Ray tasks, each asking for the spec's ``num_cpus`` and
    ``num_gpus``; Ray runs as many side by side as the cluster's resources allow.

    Args:
        address: a Ray cluster to join (``"auto"``, ``"ray://host:10001"``, ...); None
            starts a local Ray instance, or uses the one this process already started.

    Raises:
        ImportError: Ray is not installed (``pip install "engram[ray]"``).
    """
    try:
        import ray
    except ImportError:
        raise ImportError('the ray executor needs Ray: pip install "engram[ray]"') from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=spec.num_cpus, num_gpus=spec.num_gpus, max_retries=0)(run_one)
    pending = {}
    for run in _todo(spec, progress):
        pending[remote.remote(run)] = run
        progress.states[run.name] = "running"
    refresh()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
        for ref in ready:
            run = pending.pop(ref)
            try:
                progress.finish(run.name, ray.get(ref))
            except Exception as e:  # a task's exception arrives wrapped by Ray
                cause = getattr(e, "cause", None) or e
                progress.finish(run.name, None, _error(run, cause))
        refresh()


def run_sweep(
    spec: SweepSpec,
    executor: str | None = None,
    address: str | None = None,
    console: Console | None = None,
) -> Progress:
    """Run every unfinished run of ``spec``, showing a live summary.

    Writes ``spec.out/sweep.json`` (the spec as given) and ``spec.out/status.json`` (each
    run's state and result) after every finished run.

    Args:
        executor: ``"local"`` or ``"ray"``; None uses the spec's.
        address: the Ray cluster to join (ray executor only).

    Returns:
        the final :class:`Progress` (``progress.errors`` names the failed runs).
    """
    console = console or Console()
    executor = executor or spec.executor
    spec.runs_dir.mkdir(parents=True, exist_ok=True)
    (spec.out / "sweep.json").write_text(json.dumps(spec.raw, indent=2, default=str))
    progress = Progress.of(spec)

    def save() -> None:
        status = {
            r.name: {
                **progress.results.get(r.name, {}),
                "state": progress.states[r.name],
                "error": progress.errors.get(r.name),
            }
            for r in spec.runs
        }
        (spec.out / "status.json").write_text(json.dumps(status, indent=2))

    with Live(progress.table(), console=console, refresh_per_second=2) as live:

        def refresh() -> None:
            live.update(progress.table())
            save()

        if executor == "ray":
            run_ray(spec, progress, refresh, address)
        else:
            run_local(spec, progress, refresh)
        refresh()
    for name, error in progress.errors.items():
        console.print(f"[red]failed[/red] {name}: {error} (log: {spec.runs_dir / name / LOG})")
    return progress
