"""Runs: the host loop of ``engram train`` (:mod:`.loop`), run folders and checkpoints
(:mod:`.checkpoint`), what a run reports (:mod:`.logging`) and memory measurements
(:mod:`.resources`)."""

from engram.run.checkpoint import (
    CHECKPOINT,
    CheckpointWriteError,
    SavedRun,
    load_checkpoint,
    load_run,
    open_run,
    save_checkpoint,
)
from engram.run.loop import LOCK, NonFiniteLossError, RunInUseError, train
from engram.run.resources import peak_device_memory, program_bytes

__all__ = [
    "CHECKPOINT",
    "LOCK",
    "CheckpointWriteError",
    "NonFiniteLossError",
    "RunInUseError",
    "SavedRun",
    "load_checkpoint",
    "load_run",
    "open_run",
    "peak_device_memory",
    "program_bytes",
    "save_checkpoint",
    "train",
]
