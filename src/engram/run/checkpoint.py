"""Run folders on disk: atomic checkpoints of the training state, and loading a run back
(to resume training, or as a policy to evaluate and record)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from engram import __version__
from engram.config import TrainConfig
from engram.policy import Policy
from engram.ppo.trainer import Trainer, TrainState


def _is_key(x) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


class CheckpointWriteError(OSError):
    """Raised when a checkpoint cannot be written (a full disk, a file-size limit, a
    read-only folder); the previous checkpoint at the same path is left as it was."""


#: Top-level key of the checkpoints written since format 2; its value says who wrote the
#: file (engram version, configuration) so another version's or configuration's checkpoint
#: is refused by name rather than by a shape mismatch, or not at all.
_HEADER = "engram"
_FORMAT = 2

#: Configuration fields that say where a run writes or how it reports, not what its state
#: is: a checkpoint whose configuration differs only in these is the same run.
_NOT_STATE = (
    "run_dir",
    "run_name",
    "total_steps",
    "checkpoint_every",
    "eval_every",
    "eval_levels",
    "eval_repetitions",
    "eval_deterministic",
    "track",
    "wandb_project",
    "wandb_entity",
    "distributed",
    "devices",
)


def _fingerprint(config: TrainConfig | None) -> str:
    return "" if config is None else json.dumps(config.resolved(), sort_keys=True)


def save_checkpoint(path: Path, ts: TrainState, config: TrainConfig | None = None) -> None:
    """Write ``ts`` to ``path`` atomically: a temporary file, flushed and synced, then
    renamed over ``path``, so a crash or a kill mid-write never leaves a truncated
    checkpoint behind. Typed PRNG keys are stored as their raw key data. The file also
    records the engram version and, when given, the run's resolved ``config``, which
    :func:`load_checkpoint` checks.

    Raises:
        CheckpointWriteError: the file could not be written (e.g. ``ENOSPC``, ``EFBIG``);
            the temporary file is removed and ``path`` keeps its previous contents.
    """
    path = Path(path)
    raw = jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, ts)
    state = flax.serialization.to_state_dict(jax.device_get(raw))
    header = {"format": _FORMAT, "version": __version__, "config": _fingerprint(config)}
    data = flax.serialization.msgpack_serialize({_HEADER: header, "state": state})
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        kept = "is unchanged" if path.exists() else "was never written"
        raise CheckpointWriteError(
            f"checkpoint: could not write {path} ({e.strerror or e}); the previous "
            f"checkpoint {kept}"
        ) from e
    # The rename is durable only once the folder's entry is on disk too.
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # some file systems do not open folders; the data itself is synced
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_header(path: Path, header, config: TrainConfig | None) -> None:
    """Refuse a checkpoint of another engram version or another configuration."""
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise ValueError(f"checkpoint {path}: unknown format {header!r}")
    if header.get("version") != __version__:
        raise ValueError(
            f"checkpoint {path} was written by engram {header.get('version')}, this is "
            f"engram {__version__}; load it with that version (the state's layout and the "
            "training program may differ)"
        )
    if config is None or not header.get("config"):
        return
    saved = json.loads(header["config"])
    now = json.loads(_fingerprint(config))
    differ = sorted(
        k for k in set(saved) | set(now) if k not in _NOT_STATE and saved.get(k) != now.get(k)
    )
    if differ:
        listed = ", ".join(f"{k}: checkpoint {saved.get(k)!r}, now {now.get(k)!r}" for k in differ)
        raise ValueError(
            f"checkpoint {path} was written with another configuration ({listed}); "
            "resume it with the configuration it was trained with"
        )


def load_checkpoint(
    path: Path, template: TrainState, config: TrainConfig | None = None
) -> TrainState:
    """Read a checkpoint written by :func:`save_checkpoint` into the structure of ``template``
    (a ``TrainState`` of the same configuration, or its shapes: ``Trainer(config).state_shapes()``).
    Checkpoints of engram before format 2 (no header) are read without the version and
    configuration checks.

    Args:
        config: the configuration the caller trains with; when given, a checkpoint written
            with a configuration that differs in a field that shapes the state or the
            training (anything but where and how the run reports) is refused.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is unreadable (damaged), was written by another engram
            version, with another ``config`` (naming each differing field and both values),
            or does not match the template's structure.
    """
    raw_template = jax.eval_shape(
        lambda t: jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, t), template
    )
    data = Path(path).read_bytes()
    try:
        stored = flax.serialization.msgpack_restore(data)
        if isinstance(stored, dict) and _HEADER in stored:
            _check_header(path, stored[_HEADER], config)
            stored = stored.get("state")
        raw = flax.serialization.from_state_dict(raw_template, stored)
    except ValueError as e:
        if str(e).startswith(f"checkpoint {path}"):
            raise
        raise ValueError(f"checkpoint {path} is unreadable (ValueError: {e})") from None
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
    return config, trainer, load_checkpoint(run / CHECKPOINT, trainer.state_shapes(), config)


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
