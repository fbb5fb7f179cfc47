"""Searing Spotlights' rules: finite and endless variants (the pictures are
:mod:`engram.envs.searing_spotlights.render`, the geometry they share
:mod:`engram.envs.searing_spotlights.geometry`).

Rules, timings, rewards and pictures follow Memory Gym 1.0.2
(``memory_gym/searing_spotlights.py``, ``endless_searing_spotlights.py``,
``pygame_assets.py``), checked against recordings of it.
The two registered ids are one :class:`SearingSpotlights` class configured by
:class:`Variant`: ``SearingSpotlights-v0`` and ``Endless-SearingSpotlights-v0``.

The episode: a 12-px chequerboard lit at reset goes dark over 6 steps (a black layer
whose surface alpha rises by 42 per step to 255); only spotlights, holes in that layer
moving along curved paths, show the floor. The agent (hidden in the dark) loses health
whenever a spotlight touches it. Finite: collect the coin, then reach the exit (256 steps
at most). Endless: collect one coin after another, each within 160 steps.

Randomness. The original draws from numpy's PCG64, so engram reproduces distributions,
not seeds. Every spotlight of an episode is pre-sampled at reset into a queue
(``State.queue_*``; spawn ``n`` uses entry ``n % Q``) and so is every endless coin
(``State.coin_queue``, coin ``n`` uses entry ``n % K``); the endless variant refills a
used entry with a fresh draw from the step's key, so the queue never runs out. A
recorded episode is replayed by filling the queues (:meth:`SearingSpotlights.reset_to`).

Precision. A spotlight's position is a float64 expression in the original and is
truncated to an int for drawing, so float32 would move a circle by a pixel whenever the
exact value lies within ~1e-5 of an integer. Positions, path parameter ``t`` and the hit
test are therefore computed in double-float arithmetic (pairs of float32, ~48 bits).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from engram.core import dfloat
from engram.core.controller import action_velocity, character_radius, character_rotation
from engram.core.environment import Environment
from engram.core.params import Params, ResetParameter, static_values, to_params
from engram.core.registry import register
from engram.core.spaces import Box, MultiDiscrete
from engram.core.words import RandomWords
from engram.envs.searing_spotlights.geometry import BAR, SCREEN, spot_location
from engram.envs.searing_spotlights.render import Picture

EDGE_OFFSET = 7  # px; _process_spawn_pos clamps coins/exit to [7, 77] (int(30 * 0.25))
#: Spotlight spawn distance from the centre without the radius: sqrt(84² + 84²) / 2.
HALF_DIAGONAL = math.sqrt(2 * SCREEN**2) / 2
ENDLESS_COIN_QUEUE = 16  # endless coins pre-sampled at reset (refilled as used)
ENDLESS_SPOT_QUEUE = 32  # endless spotlights pre-sampled at reset (refilled as used)
MAX_SLOTS = 64  # most spotlights kept alive at once (see Variant.slots)
HIT_TABLE = 128  # hit steps tabulated for the health bar (see health_tables)
REJECTION = 64  # uniform candidates of a reset position draw (see _sample_free)
COIN_CANDIDATES = 32  # uniform candidates of an endless coin draw (see _next_endless_coin)
#: uint32 words per spotlight: radius, a0, target and offset deltas (two words per
#: integer, see _Words.integers) and the speed (one word).
SPOT_WORDS = 4 * 2 + 1
#: uint32 words per endless coin: COIN_CANDIDATES pixels and the 2..3 px offset (one
#: word per pixel and per axis, see _Words.pixels and _Words.low_bits).
COIN_WORDS = COIN_CANDIDATES + 2
#: 16-bit halves below this are kept as pixel coordinates (h % 84, see _Words.pixels).
_PIXEL_HALVES = 2**16 // SCREEN * SCREEN

#: float32 of k / 84 computed in float64, k = -84..168 (the ground truth's scale; the
#: agent's centre may stand a few px outside the screen).
_PER_SCREEN = (np.arange(-SCREEN, 2 * SCREEN + 1) / SCREEN).astype(np.float32)


@dataclass(frozen=True)
class Variant:
    """Static configuration (fixes shapes, sprites and the layer order).

    Attributes:
        endless: the endless variant (one coin at a time, no exit).
        queue: spotlights pre-sampled at reset. Finite: every spotlight an episode can
            have (``initial_spawns`` + spawns before ``max_steps``, at most
            ``num_spawns``). Endless: :data:`ENDLESS_SPOT_QUEUE`, refilled as used.
        slots: spotlights alive at once. Finite: ``queue``. Endless: enough for the
            longest lifetime (``ceil(1 / spot_min_speed)`` draws plus the frame of
            removal and a few skipped frames) at one spawn per ``spawn_interval``, capped
            at :data:`MAX_SLOTS`; past the cap the oldest spotlight would be dropped.
        coins: coin slots. Finite: ``max(num_coins)``. Endless: the coin queue.
        max_radius: largest spotlight radius (``int(spot_max_radius + 1) - 1``).
        agent_scale, coin_scale, exit_scale: sprite sizes.
        coins_visible, exit_visible, agent_visible: draw that entity above the darkness
            (the original's list-insertion order, see
            :func:`engram.envs.searing_spotlights.render._layer_order`).
        use_exit, show_last_action, show_last_positive_reward, black_background,
        hide_chessboard: the original's flags of those names.
    """

    endless: bool = False
    queue: int = 10
    slots: int = 10
    coins: int = 1
    max_radius: int = 13
    agent_scale: float = 0.25
    coin_scale: float = 0.375
    exit_scale: float = 0.5
    coins_visible: bool = False
    exit_visible: bool = False
    agent_visible: bool = False
    use_exit: bool = True
    show_last_action: bool = True
    show_last_positive_reward: bool = True
    black_background: bool = False
    hide_chessboard: bool = False


@struct.dataclass
class State:
    """Episode state; names follow the original's attributes where one exists.

    Double-float values are pairs ``(..., 2)`` of float32 (high, low part).

    Attributes:
        pos: int32 (2,) agent centre (``agent.rect.center``). rotation: int32 degrees.
        sprite_rotation: int32, the rotation the agent is drawn with (0 at reset: the
            original draws ``get_rotated_sprite(0)`` there).
        health: float32 (``current_agent_health``). hits: int32 hit steps so far
            (indexes the float64 tables of :func:`health_tables`).
        t: int32 steps taken. episode_return: double-float sum of rewards.
        alpha: int32 darkness-layer surface alpha.
        spawn_timer: int32. spawned: int32 spotlights spawned so far (initial included).
        queue_spawn, queue_target, queue_offset: float32 (Q, 2, 2) double-float path
            points (``spawn_location``, ``target_location``, ``offset_location``).
        queue_radius: int32 (Q,). queue_speed: float32 (Q, 2) double-float.
        spot_alive: bool (S,), in ``self.spotlights``. spot_done: bool (S,).
        spot_t: float32 (S, 2) double-float path parameter. spot_index: int32 (S,) spawn
            number of the occupant (slot ``n % S``); spot_* path values copied from the
            queue at spawn: spot_spawn, spot_target, spot_offset (S, 2, 2), spot_radius
            (S,), spot_speed (S, 2).
        coin_pos: int32 (C, 2). Finite: every coin; endless: the coin queue.
        coin_alive: bool (C,) finite: not yet collected. Endless: unused (all True).
        coin_index: int32 endless: number of the current coin. coins_collected: int32.
        coin_t: int32 endless steps since the last coin.
        exit_pos: int32 (2,). exit_open: bool.
        last_action: int32 (2,). last_reward: float32. hit: bool, hit in this step.
        spot_centre: int32 (S, 2) where each slot's spotlight was drawn in this step
            (the truncated path point before ``t`` advanced). spot_drawn: bool (S,) drawn
            in this step (none at reset).
        shown_action: int32 (2,), the action the top bar shows (the previous step's).
        shown_positive: bool, the bar's reward display (the previous step's reward > 0;
            the display is drawn from the first step on).
    """

    pos: jax.Array
    rotation: jax.Array
    sprite_rotation: jax.Array
    health: jax.Array
    hits: jax.Array
    t: jax.Array
    episode_return: jax.Array  # double-float (2,)
    alpha: jax.Array
    spawn_timer: jax.Array
    spawned: jax.Array
    queue_spawn: jax.Array
    queue_target: jax.Array
    queue_offset: jax.Array
    queue_radius: jax.Array
    queue_speed: jax.Array
    spot_alive: jax.Array
    spot_done: jax.Array
    spot_t: jax.Array
    spot_index: jax.Array
    spot_spawn: jax.Array
    spot_target: jax.Array
    spot_offset: jax.Array
    spot_radius: jax.Array
    spot_speed: jax.Array
    coin_pos: jax.Array
    coin_alive: jax.Array
    coin_index: jax.Array
    coins_collected: jax.Array
    num_coins: jax.Array
    coin_t: jax.Array
    exit_pos: jax.Array
    exit_open: jax.Array
    last_action: jax.Array
    last_reward: jax.Array
    hit: jax.Array
    spot_centre: jax.Array
    spot_drawn: jax.Array
    shown_action: jax.Array
    shown_positive: jax.Array


# ----------------------------------------------------------------- parameters
_COMMON_SPOT = (
    ResetParameter("spot_min_radius", 7.5, "float", 1.0, 39.0, "px; integers(min, max + 1)"),
    ResetParameter("spot_max_radius", 13.75, "float", 1.0, 39.0, "px"),
    ResetParameter("spot_min_speed", 0.0025, "float", 1e-4, 1.0, "path fraction per step"),
    ResetParameter("spot_max_speed", 0.0075, "float", 1e-4, 1.0, "path fraction per step"),
    ResetParameter("spot_damage", 1.0, "float", 0.0, None, "health lost per hit step"),
    ResetParameter("visual_feedback", True, "bool", doc="red floor on a hit"),
    ResetParameter("black_background", False, "bool", doc="black floor, ringed", static=True),
    ResetParameter("hide_chessboard", False, "bool", doc="white floor", static=True),
    ResetParameter("light_dim_off_duration", 6, "int", 0, 255, "steps to full darkness"),
    ResetParameter("light_threshold", 255, "int", 0, 255, "darkness alpha to reach"),
)
_COMMON_AGENT = (
    ResetParameter("agent_speed", 3.0, "float", 0.0, 84.0, "px per step"),
    ResetParameter("agent_scale", 0.25, "float", 0.05, 1.0, "sprite scale", static=True),
    ResetParameter("agent_visible", False, "bool", doc="agent above the darkness", static=True),
    ResetParameter("sample_agent_position", True, "bool", doc="else spawn at the centre"),
    ResetParameter("show_last_action", True, "bool", static=True),
    ResetParameter("show_last_positive_reward", True, "bool", static=True),
    ResetParameter("reward_inside_spotlight", 0.0, "float", double=True),
    ResetParameter("reward_outside_spotlight", 0.0, "float", double=True),
    ResetParameter("reward_death", 0.0, "float", double=True),
)
_COIN_SCALE = ResetParameter(
    "coin_scale", 0.375, "float", 0.05, 2.0, "coin radius 10*scale", static=True
)

FINITE_PARAMETERS: tuple[ResetParameter, ...] = (
    ResetParameter("max_steps", 256, "int", -1, None, "time limit, <= 0: none"),
    ResetParameter("initial_spawns", 4, "int", 0, 32, "spotlights at reset"),
    ResetParameter("num_spawns", 30, "int", 0, 256, "spotlights spawned later, at most"),
    ResetParameter("initial_spawn_interval", 30, "float", 0.0, None, "steps"),
    ResetParameter("spawn_interval_threshold", 10, "float", 0.0, None, "steps"),
    ResetParameter("spawn_interval_decay", 0.95, "float", 0.0, 1.0, "unused (quirk)"),
    *_COMMON_SPOT,
    ResetParameter("num_coins", [1], "int_list", 1, 16, "coin counts to choose from"),
    _COIN_SCALE,
    ResetParameter("coins_visible", False, "bool", doc="coins above the darkness", static=True),
    ResetParameter("use_exit", True, "bool", static=True),
    ResetParameter("exit_scale", 0.5, "float", 0.05, 2.0, "exit size 20*scale", static=True),
    ResetParameter("exit_visible", False, "bool", doc="exit above the darkness", static=True),
    *_COMMON_AGENT[:1],
    ResetParameter("agent_health", 5, "int", 1, None, "hit steps survived - 1"),
    *_COMMON_AGENT[1:],
    ResetParameter("reward_exit", 1.0, "float", double=True),
    ResetParameter("reward_max_steps", 0.0, "float", doc="unused by the original", double=True),
    ResetParameter("reward_coin", 0.25, "float", double=True),
)

ENDLESS_PARAMETERS: tuple[ResetParameter, ...] = (
    ResetParameter("max_steps", -1, "int", -1, None, "time limit, <= 0: none"),
    ResetParameter("steps_per_coin", 160, "int", 1, None, "steps to find each coin"),
    ResetParameter("initial_spawns", 3, "int", 0, 32, "spotlights at reset"),
    ResetParameter("spawn_interval", 50, "int", 1, None, "steps between spawns"),
    *_COMMON_SPOT,
    _COIN_SCALE,
    ResetParameter("coin_show_duration", 6, "int", 0, None, "frames a new coin is lit"),
    ResetParameter("coins_visible", False, "bool", doc="coin always lit", static=True),
    *_COMMON_AGENT[:1],
    ResetParameter("agent_health", 10, "int", 1, None, "hit steps survived - 1"),
    *_COMMON_AGENT[1:],
    ResetParameter("reward_coin", 0.25, "float", double=True),
)


def _radius_range(rp: dict) -> tuple[int, int]:
    """``np_random.integers(min, max + 1)`` with float bounds draws ``int(min) ..
    int(max + 1) - 1`` (numpy truncates the bounds)."""
    return int(rp["spot_min_radius"]), int(rp["spot_max_radius"] + 1) - 1


def _spawn_interval(rp: dict, endless: bool) -> int:
    # The original compares spawn_intervals[0] but pops the *last* entry, so the first
    # interval, int(initial + threshold), is used throughout (40 with the defaults).
    if endless:
        return rp["spawn_interval"]
    return int(rp["initial_spawn_interval"] + rp["spawn_interval_threshold"])


def _sizes(rp: dict, endless: bool) -> tuple[int, int]:
    """(queue, slots) for these reset parameters; see :class:`Variant`."""
    interval = _spawn_interval(rp, endless)
    if endless:
        # A spot is drawn ceil(1 / speed) times, removed one frame later, and each
        # removal just before it in the list delays it by a frame.
        life = math.ceil(1.0 / rp["spot_min_speed"]) + 1 + rp["initial_spawns"] + 8
        slots = rp["initial_spawns"] + math.ceil(life / max(interval, 1)) + 1
        return ENDLESS_SPOT_QUEUE, max(1, min(slots, MAX_SLOTS))
    later = rp["num_spawns"]
    if rp["max_steps"] > 0:
        later = min(later, rp["max_steps"] // max(interval, 1))
    total = max(1, rp["initial_spawns"] + later)
    return total, total


def health_tables(health: float, damage: float):
    """Host-side, in float64 exactly as the original: after ``k`` hit steps the health
    is ``health - damage - ... - damage`` (k subtractions), the info's fraction is
    ``health_k / health`` and the red bar is ``int(84 // 2 * (1 - health_k / health))``
    wide (float64 rounding matters: 1 - 5/6 gives 6.99.. * 1, so 6 px, not 7). Beyond
    :data:`HIT_TABLE` hits the last entry is kept (exact while ``damage >= health /
    128``).

    Returns:
        float32 fraction, int32 width, bool dead, each (HIT_TABLE + 1,).
    """
    h = float(health)
    frac, width, dead = [], [], []
    for _ in range(HIT_TABLE + 1):
        frac.append(h / health)
        width.append(int(SCREEN // 2 * (1 - h / health)))
        dead.append(h <= 0)
        h -= damage
    return np.float32(frac), np.int32(width), np.array(dead)


class _Words(RandomWords):
    """:class:`engram.core.words.RandomWords` with Searing Spotlights' pixel candidates."""

    def pixels(self, n: int) -> tuple[jax.Array, jax.Array]:
        """``n`` screen pixels for rejection sampling, one word each: x and y are the
        high and low 16-bit halves modulo 84. Returns int32 (n, 2) and bool (n,) usable:
        both halves below :data:`_PIXEL_HALVES` (a multiple of 84; fails with
        probability 16/65536 per half), so that the usable pixels are exactly uniform
        over the screen; a sampler rejects the others like blocked ones."""
        w = self.take(n)
        halves = jnp.stack([w >> 16, w & 0xFFFF], -1)
        usable = jnp.all(halves < _PIXEL_HALVES, -1)
        return (halves % SCREEN).astype(jnp.int32), usable


class SearingSpotlights(Environment):
    """Both Searing Spotlights ids; see the module docstring and :class:`Variant`.

    Observation: uint8 (84, 84, 3) in standard image layout (row = y); the original
    returns (x, y, c). Action: int32 (2,) in MultiDiscrete([3, 3]) (horizontal:
    none/left/right, vertical: none/up/down).
    """

    observes_state = True

    def __init__(self, env_id: str, variant: Variant):
        self.env_id = env_id
        self.variant = variant
        v = variant
        self.reset_parameters = ENDLESS_PARAMETERS if v.endless else FINITE_PARAMETERS
        self.observation_space = Box(0, 255, (SCREEN, SCREEN, 3), np.uint8)
        self.action_space = MultiDiscrete((3, 3))
        self.render_fps = 25
        self._agent_radius = character_radius(v.agent_scale)
        # A coin is a disc of radius int(10 * scale) (its picture: render.Picture).
        self._coin_radius = int(10 * v.coin_scale)
        # The exit's collision radius: 20 / 2 * scale.
        self._exit_radius = 20 / 2 * v.exit_scale
        self._picture = Picture(v, self._coin_radius)
        if v.endless:
            self.info_every_step = ("ground_truth",)
            self.info_at_end = (
                "reward",
                "length",
                "agent_health",
                "coins_collected",
                "ground_truth",
            )
        else:
            self.info_at_end = ("reward", "length", "agent_health", "coins_collected", "success")

    @property
    def static_key(self) -> tuple:
        return ("SearingSpotlights", self.env_id, self.variant)

    # ------------------------------------------------------------------ params
    def make_params(self, rp: dict) -> Params:
        """The :class:`~engram.core.params.Params` of a complete, validated reset-parameter
        dict, with the values the rules derive from them (commented below).

        Raises:
            ValueError: ``spot_min_radius`` / ``spot_min_speed`` above its maximum, or a
                value that does not fit this environment's static buffers (pass it to
                ``make()`` so the buffers are sized for it).
        """
        v = self.variant
        lo_r, hi_r = _radius_range(rp)
        if lo_r > hi_r:
            raise ValueError(
                f"reset parameter 'spot_min_radius': got {rp['spot_min_radius']!r}, above "
                f"spot_max_radius {rp['spot_max_radius']!r}"
            )
        if rp["spot_min_speed"] > rp["spot_max_speed"]:
            raise ValueError(
                f"reset parameter 'spot_min_speed': got {rp['spot_min_speed']!r}, above "
                f"spot_max_speed {rp['spot_max_speed']!r}"
            )
        queue, slots = _sizes(rp, v.endless)
        if hi_r > v.max_radius or queue > v.queue or slots > v.slots:
            raise ValueError(
                "reset parameters 'spot_max_radius' / spawn counts / 'spot_min_speed': "
                "these values need larger buffers than this environment was built with; "
                "pass them to make()"
            )
        if not v.endless and max(rp["num_coins"]) > v.coins:
            raise ValueError(
                f"reset parameter 'num_coins': got {rp['num_coins']!r}, but this environment "
                f"was built for at most {v.coins} coins; pass the value to make()"
            )
        duration = rp["light_dim_off_duration"]
        hit_health, hit_width, hit_dead = health_tables(rp["agent_health"], rp["spot_damage"])
        i32 = lambda x: jnp.asarray(x, jnp.int32)  # noqa: E731
        derived = {
            # Spawns: finite, int(initial_spawn_interval + threshold) (see _spawn_interval);
            # endless, without end.
            "spawn_interval": i32(_spawn_interval(rp, v.endless)),
            "num_spawns": i32(2**30 if v.endless else rp["num_spawns"]),
            # The radii the original draws with (numpy truncates the float bounds).
            "spot_min_radius": i32(lo_r),
            "spot_max_radius": i32(hi_r),
            # After k hit steps (k = 0 .. HIT_TABLE): the health fraction (float32), the red
            # bar's width (int32), dead (bool); see health_tables.
            "hit_health": jnp.asarray(hit_health),
            "hit_width": jnp.asarray(hit_width),
            "hit_dead": jnp.asarray(hit_dead),
            "agent_health": jnp.float32(rp["agent_health"]),
            # The darkness fades by int(255 / light_dim_off_duration) a step (0: at once).
            "light_step": i32(int(255 / duration) if duration > 0 else 0),
        }
        if v.endless:  # one coin at a time and no exit
            derived.update(num_coins=i32((1,)), reward_exit=dfloat.of(0.0))
        else:  # coins are not timed
            derived.update(steps_per_coin=i32(-1), coin_show_duration=i32(0))
        return to_params(self.reset_parameters, rp, **derived)

    # ----------------------------------------------------------------- sampling
    @staticmethod
    def _sample_spots(words: _Words, params: Params, n: int):
        """``n`` spotlights as ``pygame_assets.Spotlight``: radius uniform in
        ``[spot_min_radius, spot_max_radius]``, speed uniform, angles a0 in 0..359,
        target = a0 + 180 + (-45..44), offset = target + (-135..134); each point lies
        ``sqrt(84² + 84²) / 2 + radius`` px from (42, 42), off screen. Uses
        ``n *`` :data:`SPOT_WORDS` words.

        Returns:
            (spawn, target, offset) float32 (n, 2, 2) double-float, radius int32 (n,),
            speed float32 (n, 2).
        """
        radius = words.integers((n,), params.spot_min_radius, params.spot_max_radius + 1)
        speed = words.floats((n,), params.spot_min_speed, params.spot_max_speed)
        a0 = words.integers((n,), 0, 360)
        target = a0 + 180 + words.integers((n,), -45, 45)
        offset = target + words.integers((n,), -135, 135)
        dist = jnp.float32(HALF_DIAGONAL) + radius.astype(jnp.float32)

        def point(angle):
            rad = jnp.deg2rad(angle.astype(jnp.float32))
            xy = jnp.stack([jnp.cos(rad), jnp.sin(rad)], -1) * dist[:, None] + SCREEN // 2
            return dfloat.from_float32(xy)

        return point(a0), point(target), point(offset), radius, dfloat.from_float32(speed)

    @staticmethod
    def _exact_free(n_blocked: int) -> bool:
        """Whether :meth:`_sample_free` with ``n_blocked`` discs (the agent's, radius 28,
        and coins', radius 21) draws exactly over the free pixels rather than by
        rejection: all :data:`REJECTION` candidates fail with probability at most ``f **
        REJECTION`` (``f`` the covered fraction of the screen plus the unusable halves
        of :meth:`_Words.pixels`), which exceeds 1e-12 with more than one coin beside
        the agent's disc."""
        covered = (math.pi * 28**2 + (n_blocked - 1) * math.pi * 21**2) / SCREEN**2
        unusable = 2 * (1 - _PIXEL_HALVES / 2**16)
        return (covered + unusable) ** REJECTION > 1e-12

    @classmethod
    def _entity_words(cls, n_blocked: int) -> int:
        """uint32 words :meth:`_entity_position` uses with ``n_blocked`` discs."""
        return (2 if cls._exact_free(n_blocked) else REJECTION) + 2

    @classmethod
    def _sample_free(cls, words: _Words, centres, radii, active):
        """``GridPositionSampler.sample``: a uniform pixel outside every active blocked
        disc ``dx² + dy² < r²`` (centres: list of int32 (2,), radii and active: lists of
        scalars). Returns int32 (x, y).

        Drawn by rejection, the first free one of :data:`REJECTION` uniform candidates:
        the same distribution as a draw over the free pixels, without a 7056-pixel pass
        per call (if every candidate fails, the last one is used). Where that could
        happen with probability over 1e-12 (:meth:`_exact_free`) the pixel is the k-th
        free one for a uniform k instead (pixel 0 if nothing is free).
        """
        if cls._exact_free(len(centres)):
            g = jnp.arange(SCREEN)
            blocked = jnp.zeros((SCREEN, SCREEN), bool)
            for c, r, a in zip(centres, radii, active, strict=True):
                disc = (g[None, :] - c[0]) ** 2 + (g[:, None] - c[1]) ** 2 < r * r
                blocked = blocked | (disc & a)
            seen = jnp.cumsum(~blocked.reshape(-1), dtype=jnp.int32)
            k = words.integers((), 0, seen[-1])
            flat = jnp.argmax(seen > k).astype(jnp.int32)
            return jnp.stack([flat % SCREEN, flat // SCREEN])
        cand, free = words.pixels(REJECTION)
        for c, r, a in zip(centres, radii, active, strict=True):
            d = cand - c[None, :]
            free = free & ~((jnp.sum(d * d, axis=1) < r * r) & a)
        return cand[jnp.where(jnp.any(free), jnp.argmax(free), REJECTION - 1)]

    def _entity_position(self, words: _Words, centres, radii, active):
        """Coin/exit placement: ``sample(r)`` + ``integers(2, 4)`` per axis, then clamped
        to [7, 77] (``_process_spawn_pos``); :meth:`_entity_words` words. Returns
        (sampled pixel, position)."""
        p = self._sample_free(words, centres, radii, active)
        q = p + 2 + words.low_bits((2,), 1)
        return p, jnp.clip(q, EDGE_OFFSET, SCREEN - EDGE_OFFSET)

    @staticmethod
    def _next_endless_coin(words: jax.Array, previous):
        """``_spawn_coin``: a fresh sampler blocks only the previous coin (radius 28),
        then ``sample(28)`` + 2..3 px, clamped to [7, 77]. ``words``: uint32
        (:data:`COIN_WORDS`,) uniform bits.

        The uniform pixel outside the blocked disc is drawn by rejection: the first of
        :data:`COIN_CANDIDATES` uniform candidates outside it (the disc covers at most
        35% of the screen and :meth:`_Words.pixels` rejects 0.05% more, so all 32 fail
        with probability < 1e-14; then the last candidate is used). This is the same
        distribution as a draw over the free pixels and much cheaper than a categorical
        over 7056 pixels in every step.
        """
        w = _Words(words)
        cand, usable = w.pixels(COIN_CANDIDATES)
        d = cand - previous[None, :]
        free = usable & (jnp.sum(d * d, axis=1) >= 28 * 28)
        p = cand[jnp.where(jnp.any(free), jnp.argmax(free), COIN_CANDIDATES - 1)]
        p = p + 2 + w.low_bits((2,), 1)
        w.check_used()
        return jnp.clip(p, EDGE_OFFSET, SCREEN - EDGE_OFFSET)

    def _reset_words(self) -> int:
        """uint32 words :meth:`init_state` draws: rotation (1), agent pixel (2 integers)
        and offset (2), the spotlight queue, then the endless coin queue (the first
        coin's pixel and offset, then :data:`COIN_WORDS` per later coin) or the finite
        coin count (an integer), every coin slot and the exit."""
        v = self.variant
        n = 1 + 2 * 2 + 2 + SPOT_WORDS * v.queue
        if v.endless:
            return n + 2 * 2 + 2 + COIN_WORDS * (v.coins - 1)
        return n + 2 + sum(self._entity_words(1 + i) for i in range(v.coins + 1))

    # -------------------------------------------------------------------- reset
    def init_state(self, key: jax.Array, params: Params) -> State:
        """The first state of an episode, with the original's sampling rules (§3 "Reset").

        Rotation uniform over multiples of 45 (drawn only from the first step on). Agent:
        a uniform pixel + 2..3 px per axis (not clamped), blocking radius 28; or the
        centre without ``sample_agent_position``. Coins (count from ``num_coins``) and
        the exit: blocking radius 21, + 2..3 px, clamped to [7, 77]. Endless: the first
        coin ignores the agent (the sampler is reset), later coins avoid the previous
        one. Every spotlight of the episode is pre-sampled (module docstring).

        All of it comes from one ``jax.random.bits`` call (:class:`_Words`): under
        ``AutoReset`` this runs in every step, and on CPU each ``jax.random`` call costs
        a fixed overhead whatever its size.
        """
        v = self.variant
        words = _Words(jax.random.bits(key, (self._reset_words(),), jnp.uint32))
        rotation = 45 * words.low_bits((), 3)
        # Nothing is blocked yet: the agent's pixel is uniform over the screen.
        sampled = words.integers((2,), 0, SCREEN)
        pos = jnp.where(
            params.sample_agent_position,
            sampled + 2 + words.low_bits((2,), 1),
            jnp.array([SCREEN // 2, SCREEN // 2], jnp.int32),
        )
        # Blocked discs (centre, radius, active): the sampled agent pixel (28) or the
        # centre (21), then every counted coin (21).
        agent_block = jnp.where(params.sample_agent_position, sampled, SCREEN // 2)
        agent_r = jnp.where(params.sample_agent_position, 28, 21)
        spots = self._sample_spots(words, params, v.queue)
        if v.endless:

            def chain(prev, w):
                nxt = self._next_endless_coin(w, prev)
                return nxt, nxt

            # The first coin's sampler is fresh (nothing blocked): a uniform pixel.
            first = words.integers((2,), 0, SCREEN) + 2 + words.low_bits((2,), 1)
            first = jnp.clip(first, EDGE_OFFSET, SCREEN - EDGE_OFFSET)
            later = words.take(COIN_WORDS * (v.coins - 1)).reshape(v.coins - 1, COIN_WORDS)
            _, rest = jax.lax.scan(chain, first, later)
            coins = jnp.concatenate([first[None], rest])
            num_coins = jnp.int32(1)
            exit_pos = jnp.zeros(2, jnp.int32)
        else:
            num_coins = params.num_coins[words.integers((), 0, params.num_coins.shape[0])]
            # Every coin slot is placed (fixed shapes); only the first num_coins block
            # the sampler, so the exit sees exactly the episode's coins.
            centres = [agent_block]
            radii = [agent_r]
            active = [jnp.asarray(True)]
            coins = []
            for i in range(v.coins):
                raw, p = self._entity_position(words, centres, radii, active)
                coins.append(p)
                centres.append(raw)
                radii.append(jnp.int32(21))
                active.append(i < num_coins)
            coins = jnp.stack(coins)
            _, exit_pos = self._entity_position(words, centres, radii, active)
        words.check_used()
        return self._initial_state(params, pos, rotation, spots, coins, num_coins, exit_pos)

    def reset_to(
        self, params: Params, *, pos, rotation=0, spots, coins, num_coins=None, exit_pos=None
    ):
        """Start an episode from explicit values, e.g. to replay a recorded episode.

        Args:
            params: the environment's params.
            pos: (2,) int agent centre in px (``agent.rect.center``).
            rotation: int degrees, a multiple of 45 (``agent.rotation``).
            spots: the spotlights in spawn order (initial ones first), either a dict of
                float64 host arrays ``spawn_location``, ``target_location``,
                ``offset_location`` (n, 2), ``radius`` (n,), ``speed`` (n,) as the
                original stores them (split into double-floats here), or the tuple
                :meth:`_sample_spots` returns. Padded to ``Variant.queue``; an episode
                that spawns more than ``n`` spotlights reuses the entries cyclically.
            coins: (k, 2) int coin locations; finite: the episode's coins (padded to
                ``Variant.coins``); endless: the coins in the order they appear.
            num_coins: finite: the episode's coin count (default ``len(coins)``).
            exit_pos: (2,) int exit location (finite).

        Returns:
            ``(obs, state)`` exactly as :meth:`reset` would give them for these values.

        Raises:
            ValueError: more spotlights or coins than the buffers hold.
        """
        v = self.variant
        if isinstance(spots, dict):
            n = len(spots["radius"])
            if n > v.queue:
                raise ValueError(f"spots: got {n} spotlights, at most {v.queue} fit")
            reps = -(-v.queue // max(n, 1))

            def tile(a):
                a = np.asarray(a)
                return np.concatenate([a] * reps)[: v.queue]

            spots = (
                jnp.asarray(tile(dfloat.split_float64(spots["spawn_location"]))),
                jnp.asarray(tile(dfloat.split_float64(spots["target_location"]))),
                jnp.asarray(tile(dfloat.split_float64(spots["offset_location"]))),
                jnp.asarray(tile(np.asarray(spots["radius"], np.int32))),
                jnp.asarray(tile(dfloat.split_float64(spots["speed"]))),
            )
        coins = jnp.asarray(coins, jnp.int32).reshape(-1, 2)
        if coins.shape[0] > v.coins:
            raise ValueError(f"coins: got {coins.shape[0]} coins, at most {v.coins} fit")
        if num_coins is None:
            num_coins = coins.shape[0]
        k = coins.shape[0]
        if k < v.coins:
            coins = jnp.concatenate([coins, jnp.zeros((v.coins - k, 2), jnp.int32)])
        if exit_pos is None:
            exit_pos = (0, 0)
        return self._start(params, pos, rotation, tuple(spots), coins, num_coins, exit_pos)

    @functools.partial(jax.jit, static_argnums=0)
    def _start(self, params, pos, rotation, spots, coins, num_coins, exit_pos):
        """The traced part of :meth:`reset_to` (host inputs already converted)."""
        state = self._initial_state(params, pos, rotation, spots, coins, num_coins, exit_pos)
        return self.observe(state, params), state

    def _initial_state(self, params, pos, rotation, spots, coins, num_coins, exit_pos):
        """The state at reset from the agent's centre and rotation, the spotlight queue
        (the tuple :meth:`_sample_spots` returns), the coins (``Variant.coins`` rows) and
        the exit; the initial spawns are in place."""
        v = self.variant
        q_spawn, q_target, q_offset, q_radius, q_speed = spots
        num_coins = jnp.asarray(num_coins, jnp.int32)
        s = v.slots
        zero = jnp.zeros((), jnp.int32)
        state = State(
            pos=jnp.asarray(pos, jnp.int32),
            rotation=jnp.asarray(rotation, jnp.int32),
            sprite_rotation=zero,
            health=params.agent_health,
            hits=zero,
            t=zero,
            episode_return=dfloat.zeros(),
            # With light_dim_off_duration 0 the layer starts at the threshold.
            alpha=jnp.where(params.light_step > 0, 0, params.light_threshold).astype(jnp.int32),
            spawn_timer=zero,
            spawned=zero,
            queue_spawn=q_spawn,
            queue_target=q_target,
            queue_offset=q_offset,
            queue_radius=q_radius,
            queue_speed=q_speed,
            spot_alive=jnp.zeros(s, bool),
            spot_done=jnp.zeros(s, bool),
            spot_t=jnp.zeros((s, 2), jnp.float32),
            spot_index=jnp.full(s, -1, jnp.int32),
            spot_spawn=jnp.zeros((s, 2, 2), jnp.float32),
            spot_target=jnp.zeros((s, 2, 2), jnp.float32),
            spot_offset=jnp.zeros((s, 2, 2), jnp.float32),
            spot_radius=jnp.zeros(s, jnp.int32),
            spot_speed=jnp.zeros((s, 2), jnp.float32),
            coin_pos=coins,
            coin_alive=jnp.arange(v.coins) < (v.coins if v.endless else num_coins),
            coin_index=zero,
            coins_collected=zero,
            num_coins=num_coins,
            coin_t=zero,
            exit_pos=jnp.zeros(2, jnp.int32)
            if exit_pos is None
            else jnp.asarray(exit_pos, jnp.int32),
            exit_open=jnp.asarray(False),
            last_action=jnp.zeros(2, jnp.int32),
            last_reward=jnp.zeros((), jnp.float32),
            hit=jnp.asarray(False),
            spot_centre=jnp.zeros((s, 2), jnp.int32),
            spot_drawn=jnp.zeros(s, bool),
            shown_action=jnp.zeros(2, jnp.int32),
            shown_positive=jnp.asarray(False),
        )
        # The initial spawns, all at once: spawn i (< min(32, S)) goes to slot i with
        # queue entry i % Q, as _spawn would put it.
        n0 = jnp.minimum(params.initial_spawns, min(32, s))
        j = np.arange(s)
        init = jnp.asarray(j) < n0
        q = j % v.queue

        def fill(queue, empty):
            m = init.reshape((s,) + (1,) * (queue.ndim - 1))
            return jnp.where(m, queue[q], empty)

        state = state.replace(
            spot_alive=init,
            spot_index=jnp.where(init, jnp.asarray(j, jnp.int32), -1),
            spot_spawn=fill(q_spawn, state.spot_spawn),
            spot_target=fill(q_target, state.spot_target),
            spot_offset=fill(q_offset, state.spot_offset),
            spot_radius=fill(q_radius, state.spot_radius),
            spot_speed=fill(q_speed, state.spot_speed),
            spawned=n0.astype(jnp.int32),
        )
        return state

    # --------------------------------------------------------------------- step
    def _spawn(self, state: State, key, params: Params) -> State:
        """Append spotlight number ``spawned`` (queue entry ``spawned % Q``) to the list
        (slot ``spawned % S``). Endless: refill the used queue entry from ``key``."""
        v = self.variant
        n = state.spawned
        q, s = n % v.queue, n % v.slots
        # One-hot selects rather than .at[].set / indexing: under vmap those become
        # scatters and gathers; these stay elementwise.
        at_s = jnp.arange(v.slots) == s
        at_q = jnp.arange(v.queue) == q

        def take(queue):
            m = at_q.reshape((v.queue,) + (1,) * (queue.ndim - 1))
            return jnp.sum(jnp.where(m, queue, 0), axis=0)

        def put(arr, value):
            return jnp.where(at_s.reshape((v.slots,) + (1,) * (arr.ndim - 1)), value, arr)

        st = state.replace(
            spot_alive=state.spot_alive | at_s,
            spot_done=state.spot_done & ~at_s,
            spot_t=put(state.spot_t, 0.0),
            spot_index=put(state.spot_index, n),
            spot_spawn=put(state.spot_spawn, take(state.queue_spawn)),
            spot_target=put(state.spot_target, take(state.queue_target)),
            spot_offset=put(state.spot_offset, take(state.queue_offset)),
            spot_radius=put(state.spot_radius, take(state.queue_radius)),
            spot_speed=put(state.spot_speed, take(state.queue_speed)),
            spawned=n + 1,
        )
        if v.endless and key is not None:
            # Refill the entry of spawn n - initial_spawns (already used): every entry
            # is refilled before it comes round again, including the initial ones,
            # and a replay of up to Q spawns only ever reads recorded entries.
            at_r = jnp.arange(v.queue) == (n - params.initial_spawns) % v.queue
            words = _Words(jax.random.bits(key, (SPOT_WORDS,), jnp.uint32))
            sp, tg, of, rad, spd = self._sample_spots(words, params, 1)

            def refill(arr, value):
                return jnp.where(at_r.reshape((v.queue,) + (1,) * (arr.ndim - 1)), value, arr)

            st = st.replace(
                queue_spawn=refill(st.queue_spawn, sp[0]),
                queue_target=refill(st.queue_target, tg[0]),
                queue_offset=refill(st.queue_offset, of[0]),
                queue_radius=refill(st.queue_radius, rad[0]),
                queue_speed=refill(st.queue_speed, spd[0]),
            )
        return st

    def _move(self, state: State, action, params: Params):
        """``CharacterController.step`` in ``walkable_rect = (0, 4, 84, 80)``: int-cast
        velocity of length ``agent_speed`` (diagonal 3.0 -> 2 px per axis), centre clamped
        to x in [r, 84 - r], y in [4 + r, 84 - r]."""
        dx, dy, vel = action_velocity(action, params.agent_speed)
        rot = character_rotation(dx, dy, state.rotation)
        pos = state.pos + jnp.trunc(vel).astype(jnp.int32)
        r = self._agent_radius
        lo = jnp.array([r, BAR + r], jnp.int32)
        pos = jnp.clip(pos, lo, SCREEN - r)
        return pos, rot

    def _spot_task(self, state: State, key, params: Params):
        """Spawn, then walk ``self.spotlights`` in order as the original does: a done
        spotlight is removed *while iterating*, so the next one is skipped this frame
        (not drawn, not hit-tested, its ``t`` does not advance). Returns (state,
        hole mask bool (84, 84) of the drawn spotlights, hit, centres, drawn)."""
        v = self.variant
        timer = state.spawn_timer + 1
        spawn = (state.spawned - params.initial_spawns < params.num_spawns) & (
            timer >= params.spawn_interval
        )
        # A cond: one environment (gym.make) spawns, and draws the endless refill's random
        # bits, only on the steps that spawn; under vmap both branches run and the state
        # is selected, as a where() would.
        state = jax.lax.cond(spawn, lambda s: self._spawn(s, key, params), lambda s: s, state)
        state = state.replace(spawn_timer=jnp.where(spawn, 0, timer))

        loc = spot_location(state)  # (S, 2, 2)
        centre = dfloat.trunc(loc)  # (S, 2)
        diff = dfloat.add(loc, dfloat.from_float32(-state.pos.astype(jnp.float32))[None])
        d2 = dfloat.add(dfloat.mul(diff[:, 0], diff[:, 0]), dfloat.mul(diff[:, 1], diff[:, 1]))
        reach = (state.spot_radius + self._agent_radius).astype(jnp.float32)
        rel = dfloat.add(d2, dfloat.from_float32(-(reach * reach)))
        inside = (rel[:, 0] < 0) | ((rel[:, 0] == 0) & (rel[:, 1] <= 0))

        # List order = spawn order: slots (spawned + j) % S for j = 0..S-1.
        s = v.slots
        # perm[j, i]: list position j holds slot i (a one-hot matrix, no gathers).
        perm = ((state.spawned + jnp.arange(s))[:, None] % s) == jnp.arange(s)[None, :]
        alive = jnp.any(perm & state.spot_alive[None, :], axis=1)
        done = jnp.any(perm & state.spot_done[None, :], axis=1)
        skip = jnp.asarray(False)
        drawn_l, removed_l = [], []
        for j in range(s):
            active = alive[j] & ~skip
            removed = active & done[j]
            drawn = active & ~done[j]
            skip = jnp.where(alive[j], removed, skip)
            drawn_l.append(drawn)
            removed_l.append(removed)
        drawn = jnp.any(perm & jnp.stack(drawn_l)[:, None], axis=0)
        removed = jnp.any(perm & jnp.stack(removed_l)[:, None], axis=0)

        t = dfloat.add(state.spot_t, state.spot_speed)
        finished = (t[:, 0] > 1) | ((t[:, 0] == 1) & (t[:, 1] >= 0))
        t = jnp.where(finished[:, None], jnp.array([1.0, 0.0], jnp.float32), t)
        state = state.replace(
            spot_t=jnp.where(drawn[:, None], t, state.spot_t),
            spot_done=state.spot_done | (drawn & finished),
            spot_alive=state.spot_alive & ~removed,
        )
        hit = jnp.any(drawn & inside)
        return state, hit, centre, drawn

    def transition(self, key: jax.Array, state: State, action, params: Params):
        """Advance one step (the original's ``step``, without the frame: :meth:`observe`).

        Returns:
            ``(state, reward, terminated, truncated, info)``. ``info`` holds every
            step: ``reward`` (float32 return so far), ``length`` (int32), ``agent_health``
            (float32 fraction), ``coins_collected`` (finite: float32 fraction; endless:
            int32 count), finite ``success`` (int32; the original reports these only at
            the end) and endless ``ground_truth`` (float32 (4,): agent x, y, coin x, y
            over 84). ``truncated`` is True when ``max_steps`` ends the episode (the
            original reports it as ``done``; ``terminated | truncated`` equals it).
        """
        v = self.variant
        action = jnp.asarray(action, jnp.int32).reshape(2)
        pos, rot = self._move(state, action, params)
        # The bar shows the previous action and whether the previous reward was positive.
        state = state.replace(
            pos=pos,
            rotation=rot,
            sprite_rotation=rot,
            shown_action=state.last_action,
            shown_positive=state.last_reward > 0,
        )
        # Dim the light: +int(255 / duration) while alpha <= threshold (pygame caps the
        # surface alpha at 255); duration 0: set to the threshold.
        dim = jnp.where(
            params.light_step > 0,
            jnp.minimum(state.alpha + params.light_step, 255),
            params.light_threshold,
        )
        alpha = jnp.where(state.alpha <= params.light_threshold, dim, state.alpha)
        state = state.replace(alpha=alpha, last_action=action)

        k_spot, k_coin = jax.random.split(key)
        state, hit, centre, drawn = self._spot_task(state, k_spot, params)
        hits = jnp.minimum(state.hits + hit, HIT_TABLE)
        health = state.health - jnp.where(hit, params.spot_damage, 0.0)
        zero = dfloat.zeros()
        reward = dfloat.select(hit, params.reward_inside_spotlight, params.reward_outside_spotlight)
        dead = params.hit_dead[hits]
        reward = dfloat.add(reward, dfloat.select(dead, params.reward_death, zero))

        # Coins: |coin - agent| <= coin radius + agent radius.
        reach = self._coin_radius + self._agent_radius
        d = state.coin_pos - pos[None, :]
        touch = jnp.sum(d * d, axis=1) <= reach * reach
        success = jnp.zeros((), jnp.int32)
        if v.endless:
            cur = state.coin_index % v.coins
            got = touch[cur]
            reward = dfloat.add(reward, dfloat.select(got, params.reward_coin, zero))
            # The collected coin's queue entry gets coin index + K, which must avoid
            # coin index + K - 1 (the entry just before it).
            prev = state.coin_pos[(state.coin_index - 1) % v.coins]
            # Drawn only where a coin is collected (a cond: see the spawn above).
            fresh = jax.lax.cond(
                got,
                lambda: self._next_endless_coin(
                    jax.random.bits(k_coin, (COIN_WORDS,), jnp.uint32), prev
                ),
                lambda: prev,
            )
            coin_pos = jnp.where(got, state.coin_pos.at[cur].set(fresh), state.coin_pos)
            coin_t = jnp.where(got, 0, state.coin_t) + 1
            state = state.replace(
                coin_pos=coin_pos,
                coin_index=state.coin_index + got,
                coins_collected=state.coins_collected + got,
                coin_t=coin_t,
            )
            done = dead | (coin_t == params.steps_per_coin)
        else:
            # Remove-while-iterating: a collected coin hides the next one from this check.
            skip = jnp.asarray(False)
            got_l = []
            for i in range(v.coins):
                alive = state.coin_alive[i]
                got = alive & ~skip & touch[i]
                skip = jnp.where(alive, got, skip)
                got_l.append(got)
            got = jnp.stack(got_l)
            n_got = jnp.sum(got).astype(jnp.int32)
            coin_reward = zero
            for got_i in got_l:
                coin_reward = dfloat.add(
                    coin_reward, dfloat.select(got_i, params.reward_coin, zero)
                )
            reward = dfloat.add(reward, coin_reward)
            coin_alive = state.coin_alive & ~got
            coins_done = ~jnp.any(coin_alive)
            state = state.replace(
                coin_alive=coin_alive, coins_collected=state.coins_collected + n_got
            )
            if v.use_exit:
                exit_open = state.exit_open | coins_done
                de = state.exit_pos - pos
                at_exit = coins_done & (
                    jnp.sum(de * de).astype(jnp.float32)
                    <= jnp.float32((self._exit_radius + self._agent_radius) ** 2)
                )
                reward = dfloat.add(reward, dfloat.select(at_exit, params.reward_exit, zero))
                state = state.replace(exit_open=exit_open)
                won = coins_done & at_exit
            else:
                won = coins_done
            success = jnp.where(~dead & won, 1, 0).astype(jnp.int32)
            done = dead | won
        state, truncated = self.count_step(state, reward, done, params.max_steps)
        state = state.replace(
            health=health,
            hits=hits,
            last_reward=dfloat.value(reward),
            hit=hit,
            spot_centre=centre,
            spot_drawn=drawn,
        )
        info = {
            **self.episode_info(state),
            "agent_health": params.hit_health[hits],
        }
        if v.endless:
            info["coins_collected"] = state.coins_collected
            info["ground_truth"] = self._ground_truth(state)
        else:
            info["coins_collected"] = state.coins_collected.astype(jnp.float32) / state.num_coins
            info["success"] = success
        return state, dfloat.value(reward), done, truncated, info

    def reset_info(self, state: State, params: Params) -> dict:
        """Endless: ``{"ground_truth": float32 (4,) agent x, y, coin x, y over 84}``, as the
        original's reset info; finite: ``{}``."""
        del params
        return {"ground_truth": self._ground_truth(state)} if self.variant.endless else {}

    def _ground_truth(self, state: State) -> jax.Array:
        """float32 (4,): agent centre and coin, divided by 84 as the original does in float64
        (a float32 division rounds some of them one ulp away)."""
        coin = state.coin_pos[state.coin_index % self.variant.coins]
        px = jnp.clip(jnp.concatenate([state.pos, coin]), -SCREEN, 2 * SCREEN)
        return jnp.asarray(_PER_SCREEN)[px + SCREEN]

    # ------------------------------------------------------------------ render
    def observe(self, state: State, params: Params) -> jax.Array:
        """The frame of ``state``: uint8 (84, 84, 3).

        Drawn in the original's layer order on a flat frame: the floor, the sprites,
        the darkness and the spotlights' holes, the top bar; by
        :class:`engram.envs.searing_spotlights.render.Picture`."""
        return self._picture.observation(state, params)

    def debug_frame(self, state: State, params: Params) -> jax.Array:
        """The frame without darkness: floor, coin(s), exit, agent, the outline of every
        spotlight (red, where it will be drawn next) and the top bar (showing the last
        action and reward). Drawn by :class:`engram.envs.searing_spotlights.render.Picture`.

        Returns uint8 (84, 84, 3).
        """
        return self._picture.debug(state, params)


# ----------------------------------------------------------------- registry
def _factory(env_id: str, endless: bool):
    def build(rp: dict) -> SearingSpotlights:
        queue, slots = _sizes(rp, endless)
        if not endless and not rp["use_exit"]:
            raise ValueError(
                "reset parameter 'use_exit': got False, but the original crashes with it "
                "(AttributeError 'exit' in reset()); only True is accepted"
            )
        if endless and not rp["show_last_action"]:
            raise ValueError(
                "reset parameter 'show_last_action': got False, but Endless Searing "
                "Spotlights always draws the action (the original crashes with False)"
            )
        specs = ENDLESS_PARAMETERS if endless else FINITE_PARAMETERS
        variant = Variant(
            **static_values(specs, rp),
            endless=endless,
            queue=queue,
            slots=slots,
            coins=ENDLESS_COIN_QUEUE if endless else max(rp["num_coins"]),
            max_radius=max(13, _radius_range(rp)[1]),
        )
        if endless:  # the endless id has no exit
            variant = replace(variant, use_exit=False)
        return SearingSpotlights(env_id, variant)

    return build


register("SearingSpotlights-v0", FINITE_PARAMETERS, _factory("SearingSpotlights-v0", False))
register(
    "Endless-SearingSpotlights-v0",
    ENDLESS_PARAMETERS,
    _factory("Endless-SearingSpotlights-v0", True),
)
