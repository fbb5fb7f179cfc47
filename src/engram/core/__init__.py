"""Core machinery: the functional environment protocol, spaces, registry, wrappers."""

from engram.core.environment import Environment
from engram.core.params import ResetParameter, resolve
from engram.core.registry import make, register, registered_ids, reset_parameters
from engram.core.wrappers import (
    AutoReset,
    BatchAutoReset,
    NextStepAutoReset,
    Wrapper,
    autoreset_step_batch,
    next_step_autoreset_batch,
)

__all__ = [
    "AutoReset",
    "BatchAutoReset",
    "Environment",
    "NextStepAutoReset",
    "ResetParameter",
    "Wrapper",
    "autoreset_step_batch",
    "next_step_autoreset_batch",
    "make",
    "register",
    "registered_ids",
    "reset_parameters",
    "resolve",
]
