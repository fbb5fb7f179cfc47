"""Suite-wide settings.

JAX's persistent compilation cache, in a folder of this test session: many tests build the
same small training programs (the same tiny configuration, a run and its resumed copy), and
a cache hit turns a compile of tens of seconds on 2 CPU cores into a file read. A fresh
folder per session keeps runs independent of each other.
"""

from __future__ import annotations

import jax
import pytest


@pytest.fixture(scope="session", autouse=True)
def _compilation_cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jax-cache")
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    yield
