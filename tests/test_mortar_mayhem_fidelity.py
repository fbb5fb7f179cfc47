"""Replay the original's recorded Mortar Mayhem episodes and compare step by step.

For every recording in ``$ENGRAM_REFERENCE_DIR``: build the initial state from the
recorded values (spawn, command list, durations), feed the recorded actions, and check
rewards, terminations, the info values and the frames against the recording.
"""

from __future__ import annotations

import numpy as np
import pytest
import recordings
from recordings import available_ids

MM_IDS = [i for i in available_ids("MortarMayhem")]
pytestmark = pytest.mark.skipif(
    not MM_IDS, reason="no Mortar Mayhem recordings in $ENGRAM_REFERENCE_DIR"
)


def initial_values(episode, final_state):
    """Arguments of ``reset_to`` from the recorded state after the reset."""
    s = episode.states[0]
    rp = s["reset_params"]
    commands = final_state["_commands"]  # endless: includes the later rounds' commands
    kw = dict(
        pos=s["agent"]["rect"]["center"],
        commands=commands,
        num_commands=s["num_commands"],
        explosion_duration=s["_explosion_duration"],
        explosion_delay=s["_explosion_delay"],
    )
    if "command_show_duration" in rp:
        # Finite MM keeps these in locals; with one-element lists they are known.
        kw["show_duration"] = s.get("show_duration", rp["command_show_duration"][0])
        kw["show_delay"] = s.get("show_delay", rp["command_show_delay"][0])
    return kw


def replay(env_id):
    """Yield (episode, our per-step outputs) for every recorded episode of ``env_id``."""
    return recordings.replay(
        env_id,
        start=lambda env, episode: initial_values(episode, episode.states[-1]),
        action=lambda env, a: a[0] if env.variant.grid else a,
        ground_truth=lambda env, state: np.asarray(state.target) / 5.0,
        carry_over=True,
    )


def _image(obs):
    return np.asarray(obs["visual_observation"] if isinstance(obs, dict) else obs)


@pytest.mark.parametrize("env_id", MM_IDS)
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
                np.testing.assert_allclose(
                    info["ground_truth"], ref["ground_truth"], rtol=0, atol=1e-6, err_msg=where
                )
            if episode.dones[k]:
                assert int(info["length"]) == ref["length"], where
                assert float(info["reward"]) == pytest.approx(ref["reward"], abs=1e-5), where
                for key in ("success", "max_command_sequence"):
                    if key in ref:
                        assert int(info[key]) == ref[key], (where, key)
                assert float(info["commands_completed"]) == pytest.approx(
                    ref["commands_completed"], abs=1e-6
                ), where
            if episode.vector_obs is not None:
                np.testing.assert_array_equal(
                    np.asarray(obs["vector_observation"]), episode.vector_obs[k], err_msg=where
                )
            img = _image(obs)
            same = img == episode.obs[k]
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
