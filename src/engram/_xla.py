"""XLA settings engram applies before JAX starts its CPU backend.

On the CPU, XLA's own convolution kernels run the Atari CNN's gradients at about a ninth
of the matrix-multiply speed of the same machine; routing dot-like fusions through
XNNPACK's YNN library (``--xla_cpu_experimental_ynn_fusion_type=dot``) made the PPO update
of the GRU agent 1.7x faster on a 2-core AMD EPYC (114 -> 192 steps/s, side by side in one
run of ``benchmarks/train_throughput.py --xla-baseline``; issue 20 reported 2x and
gradients equal to 6.6e-7), the encoder's forward + backward about 3x. engram adds the
flag to ``XLA_FLAGS`` when it is imported, unless:

* ``XLA_FLAGS`` already sets ``xla_cpu_experimental_ynn_fusion_type`` (yours wins), or
* ``ENGRAM_XLA_DEFAULTS=0`` is in the environment (the opt-out).

``XLA_FLAGS`` is read once, when JAX creates its first backend (the first computation or
``jax.devices()``), so import engram before running anything with JAX in the process.
The flag only concerns XLA's CPU backend; GPU programs are unchanged.
"""

from __future__ import annotations

import os

#: The flag engram adds (see the module docstring).
YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type=dot"
#: Set this environment variable to ``0`` to keep XLA's defaults.
OPT_OUT = "ENGRAM_XLA_DEFAULTS"


def apply_cpu_flags(environ=os.environ) -> bool:
    """Add :data:`YNN_FLAG` to ``environ["XLA_FLAGS"]`` unless the user opted out or set
    the flag themselves. Returns whether the flag was added."""
    if environ.get(OPT_OUT, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    flags = environ.get("XLA_FLAGS", "")
    if "xla_cpu_experimental_ynn_fusion_type" in flags:
        return False
    environ["XLA_FLAGS"] = f"{flags} {YNN_FLAG}".strip()
    return True
