"""Loading the recorded episodes of the original Memory Gym (test fixtures).

The folder is ``$ENGRAM_REFERENCE_DIR`` (default ``../shared/reference/trajectories``
relative to the repository root); its format is described in its ``README.md``: per
environment id an ``<id>.npz`` (obs, actions, rewards, dones, step, episode) and an
``<id>.jsonl.gz`` (info and internal state after every step).
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def reference_dir() -> Path:
    """The recordings folder (``$ENGRAM_REFERENCE_DIR`` or the shared default)."""
    default = REPO.parent / "shared" / "reference" / "trajectories"
    return Path(os.environ.get("ENGRAM_REFERENCE_DIR", default))


@dataclass
class Episode:
    """One recorded episode: row 0 is the reset, row k the result of action k."""

    env_id: str
    index: int
    obs: np.ndarray  # (T+1, 84, 84, 3) uint8, standard image layout
    actions: np.ndarray  # (T+1, A) int64; row 0 is -1
    rewards: np.ndarray  # (T+1,) float32
    dones: np.ndarray  # (T+1,) bool
    infos: list  # T+1 dicts
    states: list  # T+1 dicts (the original's attributes after that step)
    vector_obs: np.ndarray | None = None


def available_ids(prefix: str = "") -> list[str]:
    """Environment ids that have a recording in the folder (optionally by prefix)."""
    d = reference_dir()
    if not d.is_dir():
        return []
    ids = sorted(p.name[: -len(".npz")] for p in d.glob("*.npz"))
    return [i for i in ids if prefix in i]


def load(env_id: str) -> list[Episode]:
    """All recorded episodes of ``env_id``, in recording order."""
    d = reference_dir()
    arrays = np.load(d / f"{env_id}.npz")
    with gzip.open(d / f"{env_id}.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f]
    ep = arrays["episode"]
    episodes = []
    for e in np.unique(ep):
        idx = np.flatnonzero(ep == e)
        episodes.append(
            Episode(
                env_id=env_id,
                index=int(e),
                obs=arrays["obs"][idx],
                actions=arrays["actions"][idx],
                rewards=arrays["rewards"][idx],
                dones=arrays["dones"][idx],
                infos=[rows[i]["info"] for i in idx],
                states=[rows[i]["state"] for i in idx],
                vector_obs=arrays["vector_obs"][idx] if "vector_obs" in arrays else None,
            )
        )
    return episodes


def replay(env_id, start, action=None, ground_truth=None, carry_over=False):
    """Replay every recorded episode of ``env_id`` in engram; yields ``(episode, outputs)``
    with one ``(obs, reward, terminated, truncated, info)`` per recorded step (the first is
    the reset's, with reward 0).

    Args:
        start: ``start(env, episode) -> dict``, the ``reset_to`` arguments of the episode.
        action: ``action(env, recorded) -> action`` (default: the recorded one as is).
        ground_truth: ``ground_truth(env, state)``, ``info["ground_truth"]`` after the reset
            of an endless variant (the original reports it from the first step).
        carry_over: continue from the previous episode's state through
            ``env.carry_over`` (one instance of the original played all episodes).
    """
    import engram  # here, so that loading recordings needs no JAX

    env, params = engram.make(env_id)
    step = jax.jit(env.step)
    key = jax.random.key(0)
    previous = None
    for episode in load(env_id):
        obs, state = env.reset_to(params, **start(env, episode))
        if carry_over and previous is not None:
            state = env.carry_over(previous, state)
        info0 = {}
        if env.variant.endless and ground_truth is not None:
            info0 = {"ground_truth": np.asarray(ground_truth(env, state))}
        out = [(obs, 0.0, False, False, info0)]
        for a in episode.actions[1:]:
            a = a if action is None else action(env, a)
            obs, state, r, term, trunc, info = step(key, state, jnp.asarray(a), params)
            out.append((obs, float(r), bool(term), bool(trunc), jax.device_get(info)))
        previous = state
        yield episode, out
