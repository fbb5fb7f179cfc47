"""``engram report DIRS... --out report.html``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro


@dataclass
class ReportConfig:
    """Write one self-contained HTML page about runs and sweeps: learning curves, the
    final-performance table with rliable's intervals, performance profiles, probability of
    improvement, in-context curves, memory and compute, the papers' numbers, and each run's
    configuration and provenance. Needs pip install "engram[report]"."""

    dirs: tyro.conf.Positional[tuple[str, ...]]
    """Run folders, sweep folders, or folders above them."""
    out: str = "report.html"
    """The HTML file to write."""


def write_report(dirs: list[str | Path], out: str | Path) -> Path:
    """Read every run under ``dirs`` and write the report to ``out``.

    Returns:
        the path written.

    Raises:
        ValueError: a folder is missing or holds no run.
        ImportError: matplotlib or rliable is missing (``pip install "engram[report]"``).
    """
    try:
        import matplotlib  # noqa: F401
        import rliable  # noqa: F401
    except ImportError:
        raise ImportError(
            'engram report needs matplotlib and rliable: pip install "engram[report]"'
        ) from None
    from engram.report.data import find_runs
    from engram.report.html import render

    if not dirs:
        raise ValueError("report: give at least one run or sweep folder")

    runs = find_runs(list(dirs))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(runs))
    return out


def report(config: ReportConfig) -> None:
    """Run ``engram report``."""
    out = write_report(list(config.dirs), config.out)
    print(f"wrote {out} ({out.stat().st_size / 1024:,.0f} KiB)")
