"""``engram record``: write episodes of a policy to an MP4 or GIF.

``engram record ENV_ID`` films a uniformly random policy; ``engram record RUN_DIR`` films
the agent of a run folder written by ``engram train`` (its last checkpoint, on the run's
environment). Frames are the agent's 84×84 observations, upscaled without interpolation,
optionally beside the ground-truth debug view, with the step and return in a bar below.
The file is written under a temporary name and renamed when complete, so an interrupted
recording never leaves a truncated video under the requested name.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import jax
import numpy as np
import tyro

from engram.config import TrainConfig
from engram.core.params import parse_options
from engram.render.compose import caption, side_by_side, upscale
from engram.run import load_run
from engram.runner import EpisodeRunner, EpisodeStats

FORMATS = (".mp4", ".gif")


@dataclass
class RecordConfig:
    """Record episodes of a random policy (ENV_ID) or of a trained agent (RUN_DIR) to a video (MP4 or GIF)."""  # noqa: E501

    target: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID|RUN_DIR")]
    """An environment id (e.g. MysteryPath-v0) or a run folder of engram train."""
    out: Path = Path("episodes.mp4")
    """Output file; the suffix picks the format: .mp4 (needs imageio-ffmpeg, in the
    ``video`` extra) or .gif."""
    policy: Literal["random", "agent"] | None = None
    """Who acts; default: the agent for a run folder, random for an environment id."""
    deterministic: bool = False
    """Agent: take the most likely action instead of sampling."""
    episodes: int = 1
    """Number of episodes to record, one after another."""
    seed: int = 0
    """Seed of the environment and policy key."""
    options: tuple[str, ...] = ()
    """Reset parameters as name=value with the original's names, e.g. arena_size=4 (an
    agent is only filmed on its training environment's defaults)."""
    scale: int = 4
    """Output pixels per observation pixel."""
    debug: bool = False
    """Show the ground-truth debug view beside the agent's view."""
    overlay: bool = True
    """A bar below the frames with the episode, step and return."""
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
    if config.policy not in (None, "random", "agent"):
        raise ValueError(f"policy: got {config.policy!r}, expected 'random' or 'agent'")


class RandomPolicy:
    """Uniformly random actions from the runner's action space."""

    def reset(self) -> None:
        pass

    def __call__(self, runner: EpisodeRunner) -> np.ndarray:
        return runner.random_action()


class AgentPolicy:
    """The agent of a run folder (last checkpoint), acting on one environment.

    Raises:
        ValueError: the folder is not a readable run (see :func:`engram.run.load_run`).
    """

    def __init__(self, run_dir: str | Path, deterministic: bool = False, seed: int = 0):
        run = load_run(run_dir)
        self.policy = run.policy
        self.env_id = run.config.env
        self.params = run.params[0]  # the first seed of a multi-seed run
        self.deterministic = deterministic
        self._act = jax.jit(self.policy.act)
        self._key = jax.random.key(seed)
        self.reset()

    def reset(self) -> None:
        """Clear the memory: the next action starts an episode."""
        self.carry = self.policy.initial_carry(1)
        self.first = np.ones((1,), bool)

    def __call__(self, runner: EpisodeRunner) -> np.ndarray:
        obs = jax.tree.map(lambda x: x[None], runner.obs)  # a batch of one
        self.carry, logits, _ = self._act(self.params, self.carry, obs, self.first)
        self.first = np.zeros((1,), bool)
        self._key, key = jax.random.split(self._key)
        action = self.policy.choose(key, logits, self.deterministic)
        return np.asarray(self.policy.env_action(action)[0])


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
        ValueError: unknown id or unreadable run folder, bad reset parameters, or a bad
            field of ``config`` (named in the message). ImportError: MP4 requested
            without imageio-ffmpeg.
    """
    _check(config)
    is_run = Path(config.target).is_dir()
    policy_name = config.policy or ("agent" if is_run else "random")
    if policy_name == "agent":
        if not is_run:
            raise ValueError(
                f"policy: 'agent' needs a run folder of engram train; {config.target!r} is not one"
            )
        policy = AgentPolicy(config.target, config.deterministic, config.seed)
        env_id = policy.env_id
        if config.options:
            raise ValueError("options: an agent is filmed on its training environment only")
    else:
        policy = RandomPolicy()
        if is_run:
            env_id = TrainConfig.from_file(Path(config.target) / "config.json").env
        else:
            env_id = config.target
    runner = EpisodeRunner(env_id, parse_options(config.options), config.seed)
    if config.debug and not runner.has_debug_view:
        raise ValueError(f"debug: {env_id} has no debug view")
    fps = config.fps or runner.env.render_fps
    out = Path(config.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.stem}.partial{out.suffix}")

    def picture(episode: int) -> np.ndarray:
        image = runner.frame()
        if config.debug:
            image = side_by_side(image, runner.debug_frame())
        image = upscale(image, config.scale)
        if config.overlay:
            text = (
                f"{env_id}  {policy_name}  episode {episode + 1}  step {runner.length}  "
                f"return {runner.episode_return:.2f}"
            )
            image = caption(image, text)
        return image

    recorded: list[EpisodeStats] = []
    frames = 0
    writer = _writer(partial, fps)
    try:
        for episode in range(config.episodes):
            runner.reset()
            policy.reset()
            writer.append_data(picture(episode))
            frames += 1
            stats = None
            while stats is None:
                stats = runner.step(policy(runner))
                # The last frame is the one after the final action (before any reset).
                writer.append_data(picture(episode))
                frames += 1
                if stats is None and runner.length == config.max_episode_steps:
                    stats = EpisodeStats(runner.episode_return, runner.length, True)
            recorded.append(stats)
            print(f"episode {episode + 1}/{config.episodes}: {stats.summary()}", flush=True)
        writer.close()
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, out)
    print(f"wrote {out} ({frames} frames at {fps} fps, {len(recorded)} episodes, {policy_name})")
    return recorded
