"""Replay the original's recorded Searing Spotlights episodes and compare step by step.

For every recording in ``$ENGRAM_REFERENCE_DIR``: build the initial state from the
recorded values (agent spawn and rotation, every spotlight of the episode in spawn
order, the coins and the exit), feed the recorded actions, and check rewards,
terminations, the info values and the frames against the recording.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import recordings

CASES = recordings.cases("SearingSpotlights")


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


def sized_for(env, episode):
    """The environment with an endless coin queue that holds every coin of the episode
    (the default queue refills itself with random coins, which a replay must not)."""
    if not env.variant.endless:
        return env
    n = len(initial_values(episode, True)["coins"])
    if n <= env.variant.coins:
        return env
    return type(env)(env.env_id, dataclasses.replace(env.variant, coins=n))


def replay(folder, env_id):
    """Yield (episode, our per-step outputs) for every recorded episode of ``env_id``."""
    return recordings.replay(
        folder,
        env_id,
        start=lambda env, episode: initial_values(episode, env.variant.endless),
        ground_truth=lambda env, state: env._ground_truth(state),
        build=sized_for,
    )


@pytest.mark.skipif(not CASES, reason="no Searing Spotlights recordings in $ENGRAM_REFERENCE_DIR")
@pytest.mark.parametrize(("folder", "env_id"), CASES or [("", "")])
def test_replay_matches_recording(folder, env_id):
    recordings.check_replay(env_id, replay(folder, env_id))
