"""Suite-wide settings.

JAX's persistent compilation cache, in a folder of this test session: many tests build the
same small training programs (the same tiny configuration, a run and its resumed copy), and
a cache hit turns a compile of tens of seconds on 2 CPU cores into a file read. A fresh
folder per session keeps runs independent of each other.

Compiled programs are released after a test module when the worker holds many memory maps.
XLA:CPU loads the machine code of each program it keeps into memory maps of its own (code,
read-only data and data: three maps a piece, a training program holds hundreds), and JAX
keeps every program it compiled as long as its function lives. A test worker lives for the
whole suite: one worker held 53,000 maps near the end of a suite, and Linux refuses a
process more than ``vm.max_map_count`` (65,530 by default), where XLA dies in whatever
compile or cache read comes next (the "worker crashed" of CI, each time in another test).
"""

from __future__ import annotations

import gc
from pathlib import Path

import jax
import pytest

import engram.gym._runner

#: Above this share of ``vm.max_map_count`` a worker releases its compiled programs after a
#: module (below it they stay: a later module may reuse them). Still above twice this share
#: after the release, the module fails: something of its own keeps programs alive, and it
#: would crash another module's test later.
MAPS_SHARE = 0.25


@pytest.fixture(scope="session", autouse=True)
def _compilation_cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jax-cache")
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    yield


def memory_maps() -> tuple[int, int]:
    """(memory maps of this process, the kernel's limit ``vm.max_map_count``)."""
    with open("/proc/self/maps") as f:
        held = sum(1 for _ in f)
    return held, int(Path("/proc/sys/vm/max_map_count").read_text())


@pytest.fixture(scope="module", autouse=True)
def _release_compiled_programs(request):
    yield
    if not Path("/proc/self/maps").exists():  # not Linux
        return
    held, limit = memory_maps()
    if held < MAPS_SHARE * limit:
        return
    jax.clear_caches()
    engram.gym._runner._RUNNERS.clear()
    gc.collect()
    held, limit = memory_maps()
    assert held < 2 * MAPS_SHARE * limit, (
        f"{request.module.__name__}: this worker holds {held} memory maps after releasing "
        f"every compiled program (limit vm.max_map_count = {limit})"
    )
