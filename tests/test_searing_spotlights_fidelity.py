"""Replay the original's recorded Searing Spotlights episodes and compare step by step.

For every recording in ``$ENGRAM_REFERENCE_DIR``: build the initial state from the
recorded values (agent spawn and rotation, every spotlight of the episode in spawn
order, the coins and the exit), feed the recorded actions, and check rewards,
terminations, the info values and the frames against the recording.
"""

from __future__ import annotations

import numpy as np
import pytest
import recordings
from recordings import available_ids

SS_IDS = available_ids("SearingSpotlights")
pytestmark = pytest.mark.skipif(
    not SS_IDS, reason="no Searing Spotlights recordings in $ENGRAM_REFERENCE_DIR"
)


def initial_values(episode, endless):
    """Arguments of ``reset_to`` from the recorded states."""
    s0 = episode.states[0]
    spots = {}
    for state in episode.states:  # every spotlight, in order of first appearance
        for sp in state["spotlights"]:
            key = (tuple(sp["spawn_location"]), sp["radius"], sp["speed"])
            spots.setdefault(key, sp)
    spots = list(spots.values())
    kw = dict(
        pos=s0["agent"]["rect"]["center"],
        rotation=s0["agent"]["rotation"],
        spots={
            name: np.array([sp[name] for sp in spots], np.float64)
            for name in ("spawn_location", "target_location", "offset_location", "speed")
        }
        | {"radius": np.array([sp["radius"] for sp in spots], np.int32)},
    )
    if endless:
        coins = []
        for state in episode.states:
            loc = tuple(state["coin"]["location"])
            if not coins or coins[-1] != loc:
                coins.append(loc)
        kw["coins"] = coins
    else:
        kw["coins"] = [c["location"] for c in s0["coins"]]
        kw["num_coins"] = s0["num_coins"]
        kw["exit_pos"] = s0["exit"]["location"]
    return kw


def replay(env_id):
    """Yield (episode, our per-step outputs) for every recorded episode of ``env_id``."""
    return recordings.replay(
        env_id,
        start=lambda env, episode: initial_values(episode, env.variant.endless),
        ground_truth=lambda env, state: env._ground_truth(state),
    )


@pytest.mark.parametrize("env_id", SS_IDS)
def test_replay_matches_recording(env_id):
    total_frames = equal_frames = 0
    total_px = equal_px = 0
    first_bad = None
    for episode, out in replay(env_id):
        for k, (obs, r, term, trunc, info) in enumerate(out):
            where = f"{env_id} episode {episode.index} step {k}"
            assert np.float32(r) == episode.rewards[k], where
            assert (term or trunc) == bool(episode.dones[k]), where
            ref = episode.infos[k]
            if "ground_truth" in ref:
                np.testing.assert_allclose(
                    info["ground_truth"], ref["ground_truth"], rtol=0, atol=1e-6, err_msg=where
                )
            if episode.dones[k]:
                assert int(info["length"]) == ref["length"], where
                assert float(info["reward"]) == pytest.approx(ref["reward"], abs=1e-5), where
                assert float(info["agent_health"]) == pytest.approx(
                    ref["agent_health"], abs=1e-6
                ), where
                assert float(info["coins_collected"]) == pytest.approx(
                    ref["coins_collected"], abs=1e-6
                ), where
                if "success" in ref:
                    assert int(info["success"]) == ref["success"], where
            same = np.asarray(obs) == episode.obs[k]
            total_frames += 1
            equal_frames += bool(same.all())
            if first_bad is None and not same.all():
                first_bad = where
            total_px += same[..., 0].size
            equal_px += int(same.all(axis=-1).sum())
    print(
        f"\n{env_id}: frames identical {equal_frames}/{total_frames}, "
        f"pixels identical {equal_px / total_px:.6%}"
    )
    assert equal_frames == total_frames, (
        f"{env_id}: {total_frames - equal_frames} of {total_frames} frames differ "
        f"({equal_px / total_px:.6%} of pixels agree; first at {first_bad})"
    )
