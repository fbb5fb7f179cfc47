"""Memory measurements reported by ``engram train`` and the benchmarks."""

from __future__ import annotations

import jax


def peak_device_memory() -> int | None:
    """Peak bytes in use on the first device since the process started, where the backend
    reports it (GPUs and TPUs); None on CPUs, which keep no such count."""
    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return int(peak) if peak is not None else None


def program_bytes(compiled) -> int | None:
    """Bytes XLA's buffer assignment holds at once for a compiled program (``jit(f).lower(
    ...).compile()``): arguments + outputs + temporaries - donated (aliased) buffers; None
    where the backend reports no memory analysis."""
    mem = compiled.memory_analysis()
    if mem is None:
        return None
    return int(
        mem.argument_size_in_bytes
        + mem.output_size_in_bytes
        + mem.temp_size_in_bytes
        - mem.alias_size_in_bytes
    )
