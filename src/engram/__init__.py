"""engram: memory in reinforcement learning, in JAX.

``env, params = engram.make("MortarMayhem-v0", **reset_parameters)`` builds a functional
environment (see :mod:`engram.core`); ``engram.registered_ids()`` lists the ids.
"""

from engram import envs as _envs  # noqa: F401  (registers the environments)
from engram.core import AutoReset, NextStepAutoReset, make, registered_ids, reset_parameters

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
