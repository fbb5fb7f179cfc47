import pytest
from sweeps import shared_sweep


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory):
    """The tiny sweep's folder, trained once per session (tests/sweeps.py)."""
    return shared_sweep(tmp_path_factory)


@pytest.fixture(scope="session")
def report_page(tiny_sweep, tmp_path_factory):
    """The report of the tiny sweep, written by ``engram report`` once per session."""
    from engram.cli import main

    out = tmp_path_factory.mktemp("report") / "report.html"
    main(["report", str(tiny_sweep), "--out", str(out)])
    return out
