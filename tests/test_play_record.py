"""``engram play`` (headless, SDL's dummy video driver) and ``engram record``."""

from __future__ import annotations

import os

import numpy as np
import pytest

from engram.cli import main
from engram.core.params import parse_options
from engram.play import PlayConfig, _held_action, play
from engram.record import RecordConfig, record
from engram.render.compose import side_by_side, upscale
from engram.runner import EpisodeRunner

# A short Mortar Mayhem: one command shown for one frame, so the agent moves at once.
SHORT_MM = ("command_count=[1]", "command_show_duration=[1]", "command_show_delay=[0]")


def test_parse_options_reads_python_literals():
    got = parse_options(["arena_size=4", "command_count=[5, 10]", "visual_feedback=False"])
    assert got == {"arena_size": 4, "command_count": [5, 10], "visual_feedback": False}


@pytest.mark.parametrize("bad", ["arena_size", "=4", "arena_size=four"])
def test_parse_options_rejects_malformed_items(bad):
    with pytest.raises(ValueError, match="option"):
        parse_options([bad])


def test_held_keys_map_to_the_originals_actions():
    # Memory Gym's main(): up -> vertical 1, down -> 2, left -> horizontal 1, right -> 2.
    np.testing.assert_array_equal(_held_action("MortarMayhem-v0", False, {"up", "right"}), [2, 1])
    np.testing.assert_array_equal(_held_action("MortarMayhem-v0", False, {"left", "down"}), [1, 2])
    np.testing.assert_array_equal(_held_action("MortarMayhem-v0", False, set()), [0, 0])
    # Endless Mystery Path's Discrete(4): 0 none, 1 right, 2 up, 3 down.
    assert _held_action("Endless-MysteryPath-v0", True, {"up"}) == 2
    assert _held_action("Endless-MysteryPath-v0", True, {"right"}) == 1
    assert _held_action("Endless-MysteryPath-v0", True, {"down"}) == 3
    assert _held_action("Endless-MysteryPath-v0", True, set()) == 0


def _replay(env_id, options, seed, actions):
    """The agent's frame after ``actions`` from a fresh runner with the same seed."""
    runner = EpisodeRunner(env_id, parse_options(options), seed)
    runner.reset()
    for a in actions:
        assert runner.step(a) is None
    return runner


@pytest.fixture
def keyboard(monkeypatch):
    """Post key events into SDL's dummy video driver before ``play`` reads them."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    pygame = pytest.importorskip("pygame")
    pygame.display.init()

    def post(*keys, up=()):
        for k in keys:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode=""))
        for k in up:
            pygame.event.post(pygame.event.Event(pygame.KEYUP, key=k, mod=0, unicode=""))

    yield pygame, post
    pygame.display.quit()


def test_play_drives_the_environment_with_held_keys(keyboard):
    pygame, post = keyboard
    post(pygame.K_RIGHT, pygame.K_g)  # hold right; show the debug view
    config = PlayConfig("MortarMayhem-v0", seed=3, options=SHORT_MM, scale=2, fps=1000)
    config.max_steps, config.max_seconds = 6, 120
    result = play(config)
    assert result.steps == 6 and result.episodes == []
    runner = _replay("MortarMayhem-v0", SHORT_MM, 3, [np.array([2, 0])] * 6)
    expected = upscale(side_by_side(runner.frame(), runner.debug_frame()), 2)
    np.testing.assert_array_equal(result.frame, expected)
    # Holding right moved the agent: the frame differs from standing still.
    still = _replay("MortarMayhem-v0", SHORT_MM, 3, [np.array([0, 0])] * 6)
    assert not np.array_equal(runner.frame(), still.frame())


def test_play_grid_is_turn_based(keyboard):
    pygame, post = keyboard
    # Three key presses are three steps (forward, rotate left, forward); Esc quits.
    post(pygame.K_UP, pygame.K_LEFT, pygame.K_w, pygame.K_ESCAPE)
    result = play(PlayConfig("MortarMayhem-Grid-v0", seed=1, scale=1, max_seconds=120))
    assert result.steps == 3
    runner = _replay("MortarMayhem-Grid-v0", (), 1, [3, 1, 3])
    np.testing.assert_array_equal(result.frame, runner.frame())


def test_play_prints_episode_statistics(keyboard, capsys):
    # Standing still, the one-command episode ends at its first check.
    config = PlayConfig("MortarMayhem-v0", options=SHORT_MM, fps=1000, episodes=1, max_seconds=120)
    result = play(config)
    assert len(result.episodes) == 1
    stats = result.episodes[0]
    out = capsys.readouterr().out
    assert f"episode 1: return {stats.episode_return:.3f}  length {stats.length}" in out
    assert "success" in out and "commands_completed" in out


def test_play_unknown_id_lists_the_valid_ids(capsys):
    with pytest.raises(SystemExit) as e:
        main(["play", "MortarMayhem-v9"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "MortarMayhem-v9" in err and "MortarMayhem-v0" in err and "MortarMayhem-Grid-v0" in err


def test_record_gif_holds_the_episodes_frames(tmp_path):
    imageio = pytest.importorskip("imageio.v3")
    out = tmp_path / "mm.gif"
    stats = record(
        RecordConfig(
            "MortarMayhem-v0", out=out, episodes=2, seed=5, options=SHORT_MM, scale=3, overlay=False
        )
    )
    assert len(stats) == 2 and all(s.length > 0 for s in stats)
    frames = imageio.imread(out, index=None)
    assert frames.shape[1:] == (84 * 3, 84 * 3, 3)
    # The first frame is the reset observation, pixel for pixel (a GIF is lossless here:
    # Mortar Mayhem uses far fewer than 256 colours).
    runner = EpisodeRunner("MortarMayhem-v0", parse_options(SHORT_MM), 5)
    runner.reset()
    np.testing.assert_array_equal(frames[0], upscale(runner.frame(), 3))
    assert not [p for p in os.listdir(tmp_path) if "partial" in p]


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # the reader starts ffmpeg
def test_record_mp4_side_by_side_with_debug_view(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    import imageio.v2 as imageio

    out = tmp_path / "sub" / "mm.mp4"
    stats = record(RecordConfig("MortarMayhem-v0", out=out, options=SHORT_MM, scale=2, debug=True))
    reader = imageio.get_reader(out)
    n = reader.count_frames()
    first = reader.get_data(0)
    reader.close()
    # One frame for the reset and one per step; the debug view beside the agent's view,
    # and the 20-px caption bar below.
    assert n == stats[0].length + 1
    assert first.shape == (84 * 2 + 20, (84 * 2 + 4) * 2, 3)


def test_record_agent_policy_needs_a_run_folder(tmp_path):
    with pytest.raises(ValueError, match="policy: 'agent' needs a run folder"):
        record(RecordConfig("MortarMayhem-v0", out=tmp_path / "a.gif", policy="agent"))


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("out", "x.avi", "out"),
        ("scale", 0, "scale"),
        ("episodes", 0, "episodes"),
        ("fps", 0, "fps"),
    ],
)
def test_record_rejects_bad_configuration(tmp_path, field, value, match):
    config = RecordConfig("MortarMayhem-v0", out=tmp_path / "a.gif")
    setattr(config, field, value)
    with pytest.raises(ValueError, match=match):
        record(config)
