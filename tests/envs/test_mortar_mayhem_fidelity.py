"""Replay the original's recorded Mortar Mayhem episodes and compare step by step.

For every recording in ``$ENGRAM_REFERENCE_DIR``: build the initial state from the
recorded values (spawn, command list, durations), feed the recorded actions, and check
rewards, terminations, the info values and the frames against the recording.
"""

from __future__ import annotations

import numpy as np
import pytest
import recordings

CASES = recordings.cases("MortarMayhem")


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
    if "show_duration" in s:  # the endless variant keeps them as attributes
        kw["show_duration"], kw["show_delay"] = s["show_duration"], s["show_delay"]
    elif "command_show_duration" in rp:
        # Finite Mortar Mayhem draws them into locals. The display frames left after the
        # reset popped the first: len + 1 = n * (duration + delay), and n * delay of them
        # are blank (trajectories-params/README.md).
        frames = s["_command_visualization"]
        n = s["num_commands"]
        delay = sum(f == "" for f in frames) // n
        kw["show_duration"], kw["show_delay"] = (len(frames) + 1) // n - delay, delay
    return kw


def replay(folder, env_id):
    """Yield (episode, our per-step outputs) for every recorded episode of ``env_id``."""
    return recordings.replay(
        folder,
        env_id,
        start=lambda env, episode: initial_values(episode, episode.states[-1]),
        action=lambda env, a: a[0] if env.variant.grid else a,
        ground_truth=lambda env, state: np.asarray(state.target) / 5.0,
        carry_over=True,
    )


@pytest.mark.skipif(not CASES, reason="no Mortar Mayhem recordings in $ENGRAM_REFERENCE_DIR")
@pytest.mark.parametrize(("folder", "env_id"), CASES or [("", "")])
def test_replay_matches_recording(folder, env_id):
    recordings.check_replay(env_id, replay(folder, env_id))
