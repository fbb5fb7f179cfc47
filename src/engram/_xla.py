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

engram also runs CPU programs on the calling thread
(``jax.config.update("jax_cpu_enable_async_dispatch", False)``), unless the same opt-out is
set; ``JAX_CPU_ENABLE_ASYNC_DISPATCH=1`` (or ``0``) in the environment sets it your way
(JAX reads that setting only from ``jax.config``, not from the environment). With JAX's
default every call of a compiled program is handed to a worker thread and waited for; a
Gymnasium step is a call of tens of microseconds, and on a 2-core machine the hand-off
(waking a thread on the other core) cost more than the step: one
``gym.make("engram/MortarMayhem-Grid-v0")`` made 7,817 steps/s with it and 20,920 without
(``benchmarks/gym_step_paths.py``, issue 17). The whole PPO update, the environment benchmark's long
rollouts and ``gym.make_vec`` were within noise or faster on that machine (README,
"Benchmarks"); on another 2-core machine an earlier check measured ``make_vec`` with 64
environments 16% slower without it.

``XLA_FLAGS`` and the dispatch setting are read once, when JAX creates its first backend
(the first computation or ``jax.devices()``), so import engram before running anything
with JAX in the process. Both only concern the CPU backend; GPU programs are unchanged.
"""

from __future__ import annotations

import os

#: The flag engram adds (see the module docstring).
YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type=dot"
#: Set this environment variable to ``0`` to keep XLA's defaults.
OPT_OUT = "ENGRAM_XLA_DEFAULTS"


#: JAX's setting (and environment variable) for asynchronous dispatch on the CPU.
ASYNC_DISPATCH = "jax_cpu_enable_async_dispatch"


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _opted_out(environ) -> bool:
    return environ.get(OPT_OUT, "1").strip().lower() in _FALSE


def apply_cpu_flags(environ=os.environ) -> bool:
    """Add :data:`YNN_FLAG` to ``environ["XLA_FLAGS"]`` unless the user opted out or set
    the flag themselves. Returns whether the flag was added."""
    if _opted_out(environ):
        return False
    flags = environ.get("XLA_FLAGS", "")
    if "xla_cpu_experimental_ynn_fusion_type" in flags:
        return False
    environ["XLA_FLAGS"] = f"{flags} {YNN_FLAG}".strip()
    return True


def apply_cpu_dispatch(environ=os.environ) -> bool:
    """Set JAX's asynchronous dispatch on the CPU before the backend starts: off (engram's
    default, see the module docstring), or as ``JAX_CPU_ENABLE_ASYNC_DISPATCH`` says when
    it is in the environment (JAX itself does not read that variable); left alone with the
    opt-out. Returns whether dispatch was turned off. No effect on a CPU backend that
    already exists.

    Raises:
        ValueError: ``JAX_CPU_ENABLE_ASYNC_DISPATCH`` is not one of 1/0, true/false,
            yes/no, on/off.
    """
    if _opted_out(environ):
        return False
    enable = False
    variable = ASYNC_DISPATCH.upper()
    if variable in environ:
        value = environ[variable].strip().lower()
        if value not in _TRUE + _FALSE:
            raise ValueError(
                f"{variable}: got {environ[variable]!r}, expected one of {_TRUE + _FALSE}"
            )
        enable = value in _TRUE
    import jax  # here: engram's import order sets XLA_FLAGS first, before JAX reads it

    jax.config.update(ASYNC_DISPATCH, enable)
    return not enable
