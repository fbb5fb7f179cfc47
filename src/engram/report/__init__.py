"""``engram report``: run folders read (:mod:`.data`), their numbers (:mod:`.analysis`),
figures (:mod:`.figures`) and one self-contained HTML page (:mod:`.html`, :mod:`.command`)."""

from engram.report.command import ReportConfig, report, write_report
from engram.report.data import Run, find_runs, load_run

__all__ = ["ReportConfig", "Run", "find_runs", "load_run", "report", "write_report"]
