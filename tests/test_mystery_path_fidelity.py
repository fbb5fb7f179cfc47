"""Replay the original's recorded Mystery Path episodes and compare step by step.

For every recording in ``$ENGRAM_REFERENCE_DIR``: build the initial state from the
recorded path (finite, grid: ``start``, ``end``, ``mystery_path.path``; endless: every
segment of ``endless_path.path`` the episode generated), feed the recorded actions, and
check rewards, terminations, the info values and the frames against the recording.
"""

from __future__ import annotations

import numpy as np
import pytest
import recordings
from recordings import available_ids

MP_IDS = [i for i in available_ids("MysteryPath")]
pytestmark = pytest.mark.skipif(
    not MP_IDS, reason="no Mystery Path recordings in $ENGRAM_REFERENCE_DIR"
)


def initial_values(env, episode):
    """Arguments of ``reset_to`` from the recorded state."""
    s = episode.states[0]
    if env.variant.endless:
        # Segments appear while the episode runs; the last state holds all of them.
        segments = episode.states[-1]["endless_path"]["path"]
        return dict(path=[[(n["x"], n["y"]) for n in seg] for seg in segments])
    mp = s["mystery_path"]
    return dict(
        start=s["start"],
        end=s["end"],
        path=[(n["x"], n["y"]) for n in mp["path"]],
        walls=[(n["x"], n["y"]) for n in mp["wall_nodes"]],
    )


def replay(env_id):
    """Yield (episode, our per-step outputs) for every recorded episode of ``env_id``."""
    return recordings.replay(
        env_id,
        start=initial_values,
        action=lambda env, a: a if a.shape[0] == 2 else a[0],
        ground_truth=lambda env, state: state.ground_truth,
    )


@pytest.mark.parametrize("env_id", MP_IDS)
def test_replay_matches_recording(env_id):
    total_frames = equal_frames = 0
    total_px = equal_px = 0
    for episode, out in replay(env_id):
        for k, (obs, r, term, trunc, info) in enumerate(out):
            where = f"{env_id} episode {episode.index} step {k}"
            assert np.float32(r) == episode.rewards[k], where
            assert (term or trunc) == bool(episode.dones[k]), where
            ref = episode.infos[k]
            if "ground_truth" in ref:
                np.testing.assert_array_equal(info["ground_truth"], ref["ground_truth"], where)
            if episode.dones[k]:
                assert int(info["length"]) == ref["length"], where
                assert float(info["reward"]) == pytest.approx(ref["reward"], abs=1e-5), where
                for key in ("success", "num_fails", "max_x", "tiles_visited"):
                    if key in ref:
                        assert int(info[key]) == ref[key], (where, key)
            same = np.asarray(obs) == episode.obs[k]
            total_frames += 1
            equal_frames += bool(same.all())
            total_px += same[..., 0].size
            equal_px += int(same.all(axis=-1).sum())
    print(
        f"\n{env_id}: frames identical {equal_frames}/{total_frames}, "
        f"pixels identical {equal_px / total_px:.6%}"
    )
    assert equal_frames == total_frames, (
        f"{env_id}: {total_frames - equal_frames} of {total_frames} frames differ "
        f"({equal_px / total_px:.6%} of pixels agree)"
    )
