"""Run folders on disk: atomic checkpoints of the training state, and loading a run back
(to resume training, or as a policy to evaluate and record)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from engram.config import TrainConfig
from engram.policy import Policy
from engram.ppo.trainer import Trainer, TrainState


def _is_key(x) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def save_checkpoint(path: Path, ts: TrainState) -> None:
    """Write ``ts`` to ``path`` atomically: a temporary file, flushed, then renamed, so a
    crash mid-write never leaves a truncated checkpoint behind. Typed PRNG keys are stored
    as their raw key data."""
    raw = jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, ts)
    data = flax.serialization.to_bytes(jax.device_get(raw))
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path, template: TrainState) -> TrainState:
    """Read a checkpoint written by :func:`save_checkpoint` into the structure of ``template``
    (a ``TrainState`` of the same configuration, or its shapes: ``Trainer(config).state_shapes()``).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is unreadable (damaged) or does not match the template's
            structure (another configuration).
    """
    raw_template = jax.eval_shape(
        lambda t: jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, t), template
    )
    data = Path(path).read_bytes()
    try:
        raw = flax.serialization.from_bytes(raw_template, data)
    except Exception as e:  # msgpack and flax raise assorted errors on damaged files
        raise ValueError(f"checkpoint {path} is unreadable ({type(e).__name__}: {e})") from None
    # flax restores whatever arrays the file holds; a checkpoint of another configuration
    # would load silently with the wrong shapes, so compare leaf by leaf.
    paths = jax.tree_util.tree_flatten_with_path(raw_template)[0]
    for (where, want), got in zip(paths, jax.tree.leaves(raw), strict=True):
        if np.shape(got) != np.shape(want) or np.asarray(got).dtype != want.dtype:
            raise ValueError(
                f"checkpoint {path}: {jax.tree_util.keystr(where)} has shape "
                f"{np.shape(got)} {np.asarray(got).dtype}, the configuration expects "
                f"{np.shape(want)} {want.dtype}; was it written with another configuration?"
            )
    return jax.tree.map(
        lambda t, x: jax.random.wrap_key_data(x) if _is_key(t) else jnp.asarray(x), template, raw
    )


CHECKPOINT = "checkpoint.msgpack"


def open_run(run_dir: str | Path) -> tuple[TrainConfig, Trainer, TrainState]:
    """Load a run folder written by :func:`engram.run.train`: its configuration, the
    trainer and the last checkpoint.

    Raises:
        ValueError: the folder, its ``config.json`` or its checkpoint is missing, or the
            checkpoint is unreadable (corrupt) or of another configuration. Nothing is
            written.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise ValueError(f"resume: {run} is not a folder")
    if not (run / "config.json").is_file():
        raise ValueError(f"resume: {run} has no config.json; is it a run folder of engram train?")
    if not (run / CHECKPOINT).is_file():
        raise ValueError(f"resume: {run} has no {CHECKPOINT} (the run stopped before its first)")
    config = TrainConfig.from_file(run / "config.json")
    trainer = Trainer(config)
    # The checkpoint's structure from a trace of init (nothing compiles or runs).
    return config, trainer, load_checkpoint(run / CHECKPOINT, trainer.state_shapes())


@dataclass
class SavedRun:
    """A trained policy loaded from a run folder (:func:`load_run`).

    Attributes:
        config: the run's configuration (``config.json``).
        policy: the agent and its environment, ready to act.
        params: the agent's parameters, one entry per seed of the run.
        update: updates done when the checkpoint was written.
    """

    config: TrainConfig
    policy: Policy
    params: list
    update: int


def load_run(run_dir: str | Path) -> SavedRun:
    """The last checkpoint of a run folder as a policy to act with (nothing compiles).

    Raises:
        ValueError: the folder, its ``config.json`` or its checkpoint is missing, or the
            checkpoint is unreadable (corrupt) or of another configuration.
    """
    config, trainer, ts = open_run(run_dir)
    params = [trainer.seed_params(ts, i) for i in range(config.num_seeds)]
    return SavedRun(config, trainer.policy, params, int(np.max(ts.update)))
