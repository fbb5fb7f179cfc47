import pytest
from sweeps import shared_sweep


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory):
    """The tiny sweep's folder, trained once per session (tests/sweeps.py)."""
    return shared_sweep(tmp_path_factory)
