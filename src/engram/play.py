"""``engram play ENV_ID``: play an environment with the keyboard in a window.

Keys follow the original package's ``main()`` of each environment:

* Continuous-movement ids (``MultiDiscrete([3, 3])``): arrows or WASD, held down; the
  game advances at the environment's ``render_fps`` whether or not a key is pressed.
* Grid ids (``Discrete(4)``: no-op, rotate left, rotate right, forward): turn-based, one
  step per key press: left/A and right/D rotate, up/W moves forward, space waits.
* ``TMaze-v0``, ``DarkKeyToDoor-v0`` and ``ObjectNav-v0``: turn-based, one step per key
  press: the arrows move (TMaze: right is forward; Dark-Key-To-Door: space stays), and in
  ObjectNav up moves forward, left/right turn and space stops. A trial task's "episode"
  here is a whole trial.
* ``Endless-MysteryPath-v0`` (``Discrete(4)``: none, right, up, down): held keys in real
  time, like the continuous ids.

G toggles the ground-truth debug view beside the agent's view, R restarts the episode,
Esc or Q quits. Each finished episode's statistics are printed.

pygame-ce is an optional dependency (``pip install "engram[play]"``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import tyro

from engram.core.params import parse_options
from engram.render.compose import side_by_side, upscale
from engram.runner import EpisodeRunner, EpisodeStats

#: Ids whose ``Discrete(4)`` actions are directions held in real time, not turns.
_REALTIME_DISCRETE = {"Endless-MysteryPath-v0": {"right": 1, "up": 2, "down": 3}}


@dataclass
class PlayConfig:
    """Play an environment with the keyboard: arrows/WASD move, G toggles the ground-truth view, R restarts, Esc quits."""  # noqa: E501

    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")]
    """Environment id, e.g. MortarMayhem-v0; an unknown id prints the valid ones."""
    seed: int = 0
    """Seed of the episodes' random key."""
    options: tuple[str, ...] = ()
    """Reset parameters as name=value with the original's names, e.g.
    ``--options arena_size=4 "command_count=[5, 10]"``."""
    scale: int = 5
    """Window pixels per observation pixel (84 px observations)."""
    fps: int | None = None
    """Steps per second of real-time play; default the environment's ``render_fps``."""
    debug: bool = False
    """Start with the ground-truth view shown (G toggles it)."""
    realtime: bool = False
    """Grid ids: advance at ``fps`` with the held key instead of one step per key press."""
    episodes: int | None = None
    """Stop after this many episodes (default: play until the window is closed)."""
    max_steps: int | None = None
    """Stop after this many steps in all (for scripted and headless runs)."""
    max_seconds: float | None = None
    """Stop after this many seconds (for scripted and headless runs)."""


def _import_pygame():
    try:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError(
            'engram play needs pygame-ce: pip install "engram[play]"  (or pip install pygame-ce)'
        ) from None
    return pygame


class _Keyboard:
    """Which keys are held, from KEYDOWN/KEYUP events (not ``key.get_pressed``, so that
    posted events drive the game exactly like real ones)."""

    def __init__(self, pygame):
        k = pygame
        self.names = {
            k.K_LEFT: "left",
            k.K_a: "left",
            k.K_RIGHT: "right",
            k.K_d: "right",
            k.K_UP: "up",
            k.K_w: "up",
            k.K_DOWN: "down",
            k.K_s: "down",
            k.K_SPACE: "wait",
        }
        self.held: set[str] = set()

    def press(self, key) -> str | None:
        name = self.names.get(key)
        if name:
            self.held.add(name)
        return name

    def release(self, key) -> None:
        self.held.discard(self.names.get(key))


def _held_action(env_id: str, discrete: bool, held: set[str]):
    """The action for the keys held now (real-time play)."""
    if discrete:
        table = _REALTIME_DISCRETE.get(env_id)
        if table is None:  # a grid id in --realtime mode
            return _turn_action(next((n for n in ("up", "left", "right") if n in held), "wait"))
        return next((table[n] for n in ("up", "right", "down") if n in held and n in table), 0)
    horizontal = 1 if "left" in held else 2 if "right" in held else 0
    vertical = 1 if "up" in held else 2 if "down" in held else 0
    return np.array([horizontal, vertical], np.int32)


def _turn_action(name: str, keys: dict[str, int] | None = None) -> int | None:
    """Turn-based play: the ``Discrete`` action of one key press (``keys``: the environment's
    ``play_keys``; default the grid ids' turns), or None for other keys."""
    return (keys or {"wait": 0, "left": 1, "right": 2, "up": 3}).get(name)


@dataclass
class PlayResult:
    """What a play session did.

    Attributes:
        episodes: statistics of every finished episode, in order.
        steps: environment steps taken in all.
        frame: the last picture shown in the window, uint8 (H, W, 3) (upscaled; the
            agent's view, with the debug view beside it when shown).
    """

    episodes: list[EpisodeStats]
    steps: int
    frame: np.ndarray


def play(config: PlayConfig) -> PlayResult:
    """Open a window and play until the window is closed, Esc is pressed or a limit of
    ``config`` is reached; prints every finished episode's statistics.

    Raises:
        ValueError: unknown id (listing the valid ones), bad reset parameters, a scale
            below 1 or an fps below 1.
        ImportError: pygame-ce is not installed.
    """
    if config.scale < 1:
        raise ValueError(f"scale: got {config.scale}, expected an int >= 1")
    if config.fps is not None and config.fps < 1:
        raise ValueError(f"fps: got {config.fps}, expected an int >= 1")
    runner = EpisodeRunner(config.env_id, parse_options(config.options), config.seed)
    pygame = _import_pygame()
    env = runner.env
    discrete = env.action_space.to_gymnasium().shape == ()
    turn_based = discrete and config.env_id not in _REALTIME_DISCRETE and not config.realtime
    fps = config.fps or env.render_fps
    show_debug = config.debug and runner.has_debug_view
    if config.debug and not runner.has_debug_view:
        print(f"{config.env_id} has no debug view; showing the agent's view only")

    pygame.display.init()
    clock = pygame.time.Clock()
    keyboard = _Keyboard(pygame)
    finished: list[EpisodeStats] = []
    steps = 0
    runner.reset()
    print(
        f"{config.env_id}: arrows/WASD move"
        + (", space waits (one step per key)" if turn_based else "")
        + ", G ground truth, R restart, Esc quit"
    )

    shown = None

    def draw():
        nonlocal shown
        image = runner.frame()
        if show_debug:
            image = side_by_side(image, runner.debug_frame())
        image = shown = upscale(image, config.scale)
        h, w = image.shape[:2]
        screen = pygame.display.get_surface()
        if screen is None or screen.get_size() != (w, h):
            screen = pygame.display.set_mode((w, h))
        pygame.surfarray.blit_array(screen, image.swapaxes(0, 1))
        pygame.display.set_caption(
            f"{config.env_id}  episode {len(finished) + 1}  step {runner.length}  "
            f"return {runner.episode_return:.2f}"
        )
        pygame.display.flip()

    def take(action) -> bool:
        """Step; print and count a finished episode. Returns False to stop playing."""
        nonlocal steps
        stats = runner.step(action)
        steps += 1
        if stats is not None:
            finished.append(stats)
            print(f"episode {len(finished)}: {stats.summary()}", flush=True)
            runner.reset()
        if config.episodes is not None and len(finished) >= config.episodes:
            return False
        return config.max_steps is None or steps < config.max_steps

    running = True
    deadline = None if config.max_seconds is None else time.monotonic() + config.max_seconds
    try:
        draw()
        while running:
            if deadline is not None and time.monotonic() > deadline:
                break
            for event in pygame.event.get():
                if event.type == pygame.QUIT:
                    running = False
                elif event.type == pygame.KEYDOWN:
                    if event.key in (pygame.K_ESCAPE, pygame.K_q):
                        running = False
                    elif event.key == pygame.K_g and runner.has_debug_view:
                        show_debug = not show_debug
                    elif event.key == pygame.K_r:
                        runner.reset()
                    name = keyboard.press(event.key)
                    turn = _turn_action(name, env.play_keys) if turn_based and name else None
                    if running and turn is not None:
                        running = take(turn)
                elif event.type == pygame.KEYUP:
                    keyboard.release(event.key)
            if running and not turn_based:
                running = take(_held_action(config.env_id, discrete, keyboard.held))
            draw()
            # Turn-based play only redraws; 30 Hz keeps the window responsive even for
            # ids whose render_fps is 1 (Mortar Mayhem B Grid).
            clock.tick(30 if turn_based else fps)
    finally:
        pygame.display.quit()
    if finished:
        mean = sum(s.episode_return for s in finished) / len(finished)
        print(f"{len(finished)} episodes, mean return {mean:.3f}")
    return PlayResult(finished, steps, shown)
