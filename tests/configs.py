"""Tiny training configurations shared by the pipeline tests: two environments, a few
steps, small networks; each compiles in seconds on a CPU. And the compile options of test
programs whose time is mostly compilation."""

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


#: ``jax.jit(..., compiler_options=O0)``: LLVM's backend optimisations off (XLA's HLO
#: passes, fusion included, still run). For tests whose time is mostly compiling and whose
#: claim (two formulations of the same mathematics agree, a reference matches, gradients
#: flow) does not depend on how well the machine code is optimised: Memo's tests compiled
#: about 40% faster with it.
O0 = {"xla_backend_optimization_level": 0}
