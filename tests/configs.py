"""Tiny training configurations shared by the pipeline tests: two environments, a few
steps, small networks; each compiles in seconds on a CPU."""

from __future__ import annotations

from engram.config import TrainConfig

#: The fields every tiny configuration shares; tests override what they exercise.
TINY = dict(
    env="MortarMayhem-Grid-v0",
    num_envs=2,
    num_steps=4,
    num_epochs=1,
    num_minibatches=1,
    total_steps=16,
    memory_hidden=8,
    hidden=8,
    eval_levels=2,
    eval_repetitions=1,
)


def tiny_config(tmp_path, **overrides) -> TrainConfig:
    """A :data:`TINY` configuration writing its runs under ``tmp_path``."""
    return TrainConfig(**{**TINY, "run_dir": str(tmp_path), **overrides})
