"""Reset-parameter values on which the original Memory Gym crashes or misbehaves are refused
with a ``ValueError`` that names the parameter, before anything compiles
(``trajectories-params/README.md``, "Values avoided"); values it accepts are accepted."""

from __future__ import annotations

import pytest

import engram

REFUSED = [
    # (id, overrides, parameter named in the message)
    ("SearingSpotlights-v0", {"use_exit": False}, "use_exit"),
    ("Endless-SearingSpotlights-v0", {"show_last_action": False}, "show_last_action"),
    ("SearingSpotlights-v0", {"num_coins": []}, "num_coins"),
    ("SearingSpotlights-v0", {"num_coins": [0]}, "num_coins"),
    ("SearingSpotlights-v0", {"agent_health": 0}, "agent_health"),
    ("SearingSpotlights-v0", {"spot_min_radius": 9.0, "spot_max_radius": 7.0}, "spot_min_radius"),
    ("Endless-MysteryPath-v0", {"stamina_level": 0}, "stamina_level"),
    ("MortarMayhem-v0", {"command_count": [0]}, "command_count"),
    (
        "MortarMayhem-v0",
        {"command_show_duration": [0], "command_show_delay": [0]},
        "command_show_duration",
    ),
    (
        "Endless-MortarMayhem-v0",
        {"command_show_duration": [0, 2], "command_show_delay": [0]},
        "command_show_duration",
    ),
    ("MortarMayhem-v0", {"explosion_delay": [0]}, "explosion_delay"),
    ("MortarMayhem-v0", {"arena_size": 7}, "arena_size"),
    ("MortarMayhem-v0", {"allowed_commands": 3}, "allowed_commands"),
    ("MortarMayhemB-v0", {"command_count": [21]}, "command_count"),
]


@pytest.mark.parametrize(("env_id", "overrides", "name"), REFUSED)
def test_values_the_original_crashes_on_are_refused(env_id, overrides, name):
    with pytest.raises(ValueError, match=name):
        engram.make(env_id, **overrides)


ACCEPTED = [
    # Values engram once refused although the original accepts them (issue 16).
    ("MortarMayhem-v0", {"agent_scale": 0.5}),  # hand outline of width 1
    ("MortarMayhem-Grid-v0", {"agent_scale": 0.6}),  # ignored on the grid, as the original
    ("MysteryPath-v0", {"agent_scale": 0.45}),
    ("SearingSpotlights-v0", {"coin_scale": 0.6, "exit_scale": 0.4, "agent_scale": 0.4}),
    ("SearingSpotlights-v0", {"exit_scale": 0.8}),
    ("MortarMayhem-v0", {"command_show_duration": [0], "command_show_delay": [1]}),
]


@pytest.mark.parametrize(("env_id", "overrides"), ACCEPTED)
def test_values_the_original_accepts_are_accepted(env_id, overrides):
    env, params = engram.make(env_id, **overrides)
    assert env.observation_space is not None and params is not None
