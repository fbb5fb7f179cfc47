"""engram: memory in reinforcement learning, in JAX.

``env, params = engram.make("MortarMayhem-v0", **reset_parameters)`` builds a functional
environment (see :mod:`engram.core`); ``engram.registered_ids()`` lists the ids.

Importing engram adds XLA's YNN flag for CPU programs to ``XLA_FLAGS`` and runs CPU
programs on the calling thread (no asynchronous dispatch), before anything computes
(:mod:`engram._xla`; ``ENGRAM_XLA_DEFAULTS=0`` keeps JAX's and XLA's defaults).
"""

from engram._xla import apply_cpu_dispatch as _apply_cpu_dispatch
from engram._xla import apply_cpu_flags as _apply_cpu_flags

_apply_cpu_flags()  # before any JAX backend starts: XLA reads XLA_FLAGS once
_apply_cpu_dispatch()  # likewise: the CPU client is made once, with or without it


from engram import envs as _envs  # noqa: E402, F401  (registers the environments)
from engram.core import (  # noqa: E402
    AutoReset,
    NextStepAutoReset,
    make,
    registered_ids,
    reset_parameters,
)

__version__ = "0.1.0"

from engram.gym import register_all as _register_gymnasium  # noqa: E402

_register_gymnasium()

__all__ = [
    "AutoReset",
    "NextStepAutoReset",
    "__version__",
    "make",
    "registered_ids",
    "reset_parameters",
]
