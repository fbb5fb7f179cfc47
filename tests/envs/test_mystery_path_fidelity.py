"""Replay the original's recorded Mystery Path episodes and compare step by step.

For every recording in ``$ENGRAM_REFERENCE_DIR``: build the initial state from the
recorded path (finite, grid: ``start``, ``end``, ``mystery_path.path``; endless: every
segment of ``endless_path.path`` the episode generated), feed the recorded actions, and
check rewards, terminations, the info values and the frames against the recording.
"""

from __future__ import annotations

import pytest
import recordings

CASES = recordings.cases("MysteryPath")


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


def replay(folder, env_id):
    """Yield (episode, our per-step outputs) for every recorded episode of ``env_id``."""
    return recordings.replay(
        folder,
        env_id,
        start=initial_values,
        action=lambda env, a: a if a.shape[0] == 2 else a[0],
        ground_truth=lambda env, state: state.ground_truth,
    )


@pytest.mark.skipif(not CASES, reason="no Mystery Path recordings in $ENGRAM_REFERENCE_DIR")
@pytest.mark.parametrize(("folder", "env_id"), CASES or [("", "")])
def test_replay_matches_recording(folder, env_id):
    recordings.check_replay(env_id, replay(folder, env_id))
