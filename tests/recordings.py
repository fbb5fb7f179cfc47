"""Loading the recorded episodes of the original Memory Gym (test fixtures).

The folders are ``$ENGRAM_REFERENCE_DIR`` (several may be given, separated by ``:``; default:
``../shared/reference/trajectories`` and ``../shared/reference/trajectories-params`` relative
to the repository root). Their format is described in their ``README.md``: per environment id
an ``<id>.npz`` (obs, actions, rewards, dones, step, episode) and an ``<id>.jsonl.gz`` (info
and internal state after every step). A folder recorded with random reset parameters holds
each episode's ``options`` in its first row, and its ``episodes.json`` says whether one
instance of the original played all episodes of an id (state carried across resets) or a
fresh instance each (``"instance": "fresh per episode"``).
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
_SHARED = REPO.parent / "shared" / "reference"


def reference_dirs() -> list[Path]:
    """The recording folders (``$ENGRAM_REFERENCE_DIR``, ``:``-separated, or the shared
    defaults), those that exist."""
    text = os.environ.get("ENGRAM_REFERENCE_DIR")
    dirs = (
        [Path(p) for p in text.split(":") if p]
        if text
        else [_SHARED / "trajectories", _SHARED / "trajectories-params"]
    )
    return [d for d in dirs if d.is_dir()]


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
    options: dict = field(default_factory=dict)  # the reset options it was recorded with


def cases(prefix: str = "") -> list:
    """``pytest.param(folder, env_id)`` for every recording whose id contains ``prefix``,
    with ids such as ``trajectories-params/MortarMayhem-v0``."""
    out = []
    for d in reference_dirs():
        for p in sorted(d.glob("*.npz")):
            env_id = p.name[: -len(".npz")]
            if prefix in env_id:
                out.append(pytest.param(d, env_id, id=f"{d.name}/{env_id}"))
    return out


def fresh_per_episode(folder: Path) -> bool:
    """Whether the folder's episodes were each played by a fresh instance of the original."""
    meta = folder / "episodes.json"
    return meta.is_file() and json.loads(meta.read_text()).get("instance") == "fresh per episode"


def load(folder: Path, env_id: str) -> list[Episode]:
    """All recorded episodes of ``env_id`` in ``folder``, in recording order."""
    arrays = np.load(folder / f"{env_id}.npz")
    with gzip.open(folder / f"{env_id}.jsonl.gz", "rt") as f:
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
                options=rows[idx[0]].get("options") or {},
            )
        )
    return episodes


_STEPS: dict = {}


def _compiled_step(env):
    """One ``jit`` of ``env.step`` per static configuration, shared by every episode
    whose options differ only in params (no recompilation per episode)."""
    if env.static_key not in _STEPS:
        _STEPS[env.static_key] = jax.jit(env.step)
    return _STEPS[env.static_key]


def replay(folder, env_id, start, action=None, ground_truth=None, carry_over=False, build=None):
    """Replay every recorded episode of ``env_id`` in ``folder`` in engram; yields
    ``(episode, outputs)`` with one ``(obs, reward, terminated, truncated, info)`` per
    recorded step (the first is the reset's, with reward 0). Each episode's environment is
    built from its recorded options with :func:`engram.make`.

    Args:
        start: ``start(env, episode) -> dict``, the ``reset_to`` arguments of the episode.
        action: ``action(env, recorded) -> action`` (default: the recorded one as is).
        ground_truth: ``ground_truth(env, state)``, ``info["ground_truth"]`` after the reset
            of an endless variant (the original reports it from the first step).
        carry_over: continue from the previous episode's state through
            ``env.carry_over`` when one instance of the original played all episodes.
        build: ``build(env, episode) -> env``, a replacement for the environment
            ``engram.make`` built (e.g. with static buffers sized for the episode).
    """
    import engram  # here, so that loading recordings needs no JAX

    carry_over = carry_over and not fresh_per_episode(folder)
    key = jax.random.key(0)
    previous = None
    for episode in load(folder, env_id):
        env, params = engram.make(env_id, **episode.options)
        if build is not None:
            env = build(env, episode)
        step = _compiled_step(env)
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


def _float32_bits(x) -> np.ndarray:
    return np.asarray(x, np.float32).view(np.uint32)


def check_step(where: str, episode: Episode, k: int, ours) -> None:
    """Assert that one replayed step equals row ``k`` of the recording, exactly.

    The reward is compared bit for bit as the float32 the recording holds; ``done`` as
    terminated or truncated; every ``info`` key the original reported on that step (the
    every-step keys and the end-of-episode keys) as the float32 of the original's value
    (floats, lists of floats) or as an int; the vector observation of the B variants
    entry by entry.
    """
    obs, r, term, trunc, info = ours
    assert _float32_bits(r) == _float32_bits(episode.rewards[k]), (
        f"{where}: reward {np.float32(r)!r}, recorded {episode.rewards[k]!r}"
    )
    assert (term or trunc) == bool(episode.dones[k]), f"{where}: done"
    for name, ref in episode.infos[k].items():
        got = np.asarray(info[name])
        ref = np.asarray(ref)
        if ref.dtype.kind == "f" or got.dtype.kind == "f":
            same = np.array_equal(_float32_bits(got), _float32_bits(ref))
        else:
            same = np.array_equal(got.astype(np.int64), ref.astype(np.int64))
        assert same, f"{where}: info[{name!r}] = {got!r}, recorded {ref!r}"
    if episode.vector_obs is not None:
        np.testing.assert_array_equal(
            np.asarray(obs["vector_observation"]), episode.vector_obs[k], err_msg=where
        )


def check_replay(env_id: str, replayed) -> None:
    """Check every step of ``replayed`` (what :func:`replay` yields) with
    :func:`check_step` and count identical frames; fail unless every frame is
    pixel-identical, naming the first frame that is not."""
    total_frames = equal_frames = total_px = equal_px = 0
    first_bad = None
    for episode, out in replayed:
        for k, ours in enumerate(out):
            where = f"{env_id} episode {episode.index} step {k}"
            check_step(where, episode, k, ours)
            obs = ours[0]
            img = np.asarray(obs["visual_observation"] if isinstance(obs, dict) else obs)
            same = img == episode.obs[k]
            total_frames += 1
            equal_frames += bool(same.all())
            if first_bad is None and not same.all():
                first_bad = where
            total_px += same[..., 0].size
            equal_px += int(same.all(axis=-1).sum())
    print(
        f"\n{env_id}: frames identical {equal_frames}/{total_frames}, "
        f"pixels identical {equal_px / max(total_px, 1):.6%}"
    )
    assert equal_frames == total_frames, (
        f"{env_id}: {total_frames - equal_frames} of {total_frames} frames differ "
        f"({equal_px / total_px:.6%} of pixels agree; first at {first_bad})"
    )
