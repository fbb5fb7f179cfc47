"""``engram record ENV_ID``: write episodes of a policy to an MP4 or GIF.

Frames are the agent's 84×84 observations, upscaled without interpolation and optionally
shown beside the ground-truth debug view. The file is written under a temporary name
and renamed when complete, so an interrupted recording never leaves a truncated video
under the requested name.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import tyro

from engram.render.compose import side_by_side, upscale
from engram.runner import EpisodeRunner, EpisodeStats, parse_options

FORMATS = (".mp4", ".gif")


@dataclass
class RecordConfig:
    """Record episodes of a policy to a video (MP4 or GIF)."""

    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")]
    """Environment id, e.g. MysteryPath-v0; an unknown id prints the valid ones."""
    out: Path = Path("episodes.mp4")
    """Output file; the suffix picks the format: .mp4 (needs imageio-ffmpeg, in the
    ``video`` extra) or .gif."""
    policy: Literal["random"] = "random"
    """Who acts: ``random`` samples actions uniformly from the action space."""
    episodes: int = 1
    """Number of episodes to record, one after another."""
    seed: int = 0
    """Seed of the environment and policy key."""
    options: tuple[str, ...] = ()
    """Reset parameters as name=value with the original's names, e.g. arena_size=4."""
    scale: int = 4
    """Output pixels per observation pixel."""
    debug: bool = False
    """Show the ground-truth debug view beside the agent's view."""
    fps: int | None = None
    """Frames per second of the video; default the environment's ``render_fps``."""
    max_episode_steps: int | None = None
    """Cut each episode after this many steps (endless ids can run long)."""


def _check(config: RecordConfig) -> None:
    if Path(config.out).suffix.lower() not in FORMATS:
        raise ValueError(f"out: got {str(config.out)!r}, expected a file ending in {FORMATS}")
    for name in ("episodes", "scale"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name}: got {getattr(config, name)}, expected an int >= 1")
    for name in ("fps", "max_episode_steps"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise ValueError(f"{name}: got {value}, expected None or an int >= 1")
    if config.policy != "random":
        raise ValueError(f"policy: got {config.policy!r}, expected 'random'")


def _writer(path: Path, fps: int):
    import imageio.v2 as imageio

    if path.suffix.lower() == ".gif":
        # The pillow plugin takes the frame duration in milliseconds; loop=0 repeats.
        return imageio.get_writer(path, mode="I", duration=1000 / fps, loop=0)
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError(
            'MP4 output needs imageio-ffmpeg: pip install "engram[video]", or write a .gif'
        ) from None
    # Every frame size we produce is even, and macro_block_size=2 keeps ffmpeg from
    # rescaling (and blurring) the pixel art to a multiple of 16.
    with warnings.catch_warnings():
        # JAX warns on any fork; imageio-ffmpeg's fork is followed at once by exec of
        # ffmpeg, which is safe.
        warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
        return imageio.get_writer(path, fps=fps, codec="libx264", macro_block_size=2, quality=8)


def record(config: RecordConfig) -> list[EpisodeStats]:
    """Play ``config.episodes`` episodes and write them to ``config.out``.

    Returns:
        The statistics of each recorded episode (a cut episode has ``truncated=True``).

    Raises:
        ValueError: unknown id, bad reset parameters, or a bad field of ``config``
            (named in the message). ImportError: MP4 requested without imageio-ffmpeg.
    """
    _check(config)
    runner = EpisodeRunner(config.env_id, parse_options(config.options), config.seed)
    if config.debug and not runner.has_debug_view:
        raise ValueError(f"debug: {config.env_id} has no debug view")
    fps = config.fps or runner.env.render_fps
    out = Path(config.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.stem}.partial{out.suffix}")

    def picture() -> np.ndarray:
        image = runner.frame()
        if config.debug:
            image = side_by_side(image, runner.debug_frame())
        return upscale(image, config.scale)

    recorded: list[EpisodeStats] = []
    frames = 0
    writer = _writer(partial, fps)
    try:
        for episode in range(config.episodes):
            runner.reset()
            writer.append_data(picture())
            frames += 1
            stats = None
            while stats is None:
                stats = runner.step(runner.random_action())
                writer.append_data(picture())
                frames += 1
                if stats is None and runner.length == config.max_episode_steps:
                    stats = EpisodeStats(runner.episode_return, runner.length, True)
            # The last frame is the one after the final action (before any reset).
            recorded.append(stats)
            print(f"episode {episode + 1}/{config.episodes}: {stats.summary()}", flush=True)
        writer.close()
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, out)
    print(f"wrote {out} ({frames} frames at {fps} fps, {len(recorded)} episodes)")
    return recorded
