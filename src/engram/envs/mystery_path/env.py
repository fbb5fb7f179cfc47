"""Mystery Path's rules: finite, grid and endless variants (the pictures are
:mod:`engram.envs.mystery_path.render`, the geometry they share
:mod:`engram.envs.mystery_path.geometry`).

Rules, rewards and pictures follow Memory Gym 1.0.2 (``memory_gym/mystery_path.py``,
``mystery_path_grid.py``, ``endless_mystery_path.py`` and the ``MysteryPath`` /
``EndlessMysteryPath`` classes of ``pygame_assets.py``), checked against
recordings of it. The three registered ids are one
:class:`MysteryPath` class configured by :class:`Variant`:

========================== ====== ========
id                         grid   endless
========================== ====== ========
``MysteryPath-v0``
``MysteryPath-Grid-v0``    yes
``Endless-MysteryPath-v0``        yes
========================== ====== ========

The episode (``MysteryPath-v0``): a 7×7 grid of 12-px tiles holds an invisible path from
a start tile on one border to an end tile on the opposite border. Walking off the path
shows a red X for one frame and puts the agent back on the start tile; every new path
tile pays ``reward_path_progress`` once per episode, the end tile ``reward_goal`` and ends
the episode. The path is drawn by the original's *randomised* A* search
(:mod:`engram.envs.mystery_path.path_search`), reproduced with its selection rule and its
``g`` bug so that the path distribution is the original's.

The endless variant chains 8-column segments (a 7×7 path plus one transition tile) to
the right; the camera follows the agent and only the path behind it is drawn. Falling
off behind the frontier, falling off twice on the same tile, or 20 steps without a new
tile end the episode. Segments are built ahead of the agent by a small incremental
builder inside ``step`` (see :meth:`MysteryPath._build`), so that no step has to run a
whole A* search.

Random numbers: the original draws from NumPy's PCG64, which cannot be reproduced
seed-for-seed in JAX; engram reproduces the *distributions* (every draw has the
original's law; independent draws may be taken in another order). To replay a recorded
episode, :meth:`MysteryPath.reset_to` starts from the recorded path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from engram.core import dfloat
from engram.core.controller import (
    action_velocity,
    character_radius,
    character_rotation,
    grid_move,
)
from engram.core.environment import Environment
from engram.core.params import Params, ResetParameter, to_params
from engram.core.registry import register
from engram.core.spaces import Box, Discrete, MultiDiscrete
from engram.envs.mystery_path.geometry import (
    SCREEN,
    SEGMENT_COLUMNS,
    SEGMENT_SLOTS,
    TILE,
    camera_offset,
)
from engram.envs.mystery_path.path_search import (
    ASTAR_ITERATIONS,
    CELLS,
    EMPTY,
    GRID,
    PATH_WORDS,
    Builder,
    build,
    finish,
    mask_add,
    mask_bit,
    mask_of_cells,
    path_mask,
    running,
    tick,
    trace_path,
)
from engram.envs.mystery_path.render import Picture


# ------------------------------------------------------------------ the environment
@dataclass(frozen=True)
class Variant:
    """Static configuration of one Mystery Path id (fixes shapes and code paths).

    Attributes:
        grid: grid locomotion (``Discrete(4)``: no-op, rotate left, rotate right, forward).
        endless: the endless variant (chained segments, camera, stamina).
        agent_scale: the original's ``agent_scale`` (sprite size and radius), static
            because it changes the sprite's shape.
        max_segments: endless only: segments the state can hold (8 columns each). An
            episode whose agent reaches the last one is truncated; with the default 64 that
            is column 504, at least 2,000 steps of flawless walking.
        build_ticks: A* iterations spent per step on building paths ahead: the next
            episode's path (finite and grid), the segments ahead of the agent (endless).
            More are spent when a path is needed at once.
    """

    grid: bool = False
    endless: bool = False
    agent_scale: float = 0.25
    max_segments: int = 64
    build_ticks: int = 2


def stamina_bar_round_down(level: int) -> np.ndarray:
    """Where the original's float64 stamina-bar height falls one pixel short.

    The bar's red part is ``int(84 * (1 - min(stamina, level) / level))`` px tall
    (``EndlessMysteryPathEnv.step``). Where the exact value ``84 (level - stamina) / level``
    is not an integer, it is at least ``1 / level`` from one and float64 floors it right;
    where it is an integer ``n``, float64 rounding may land just below ``n``. This finds
    those cases on the host, in float64 as the original computes them.

    Returns:
        bool (SCREEN + 1,): entry ``n`` is True when the height is ``n - 1`` instead of ``n``.
    """
    out = np.zeros(SCREEN + 1, bool)
    # The exact height 84 d / level (d = level - stamina) is an integer exactly when d is
    # a multiple of level / gcd(84, level): at most 85 staminas to try, not level + 1
    # (a loop over every stamina took minutes for stamina_level near 2^31).
    g = math.gcd(SCREEN, level)
    for j in range(g + 1):
        stamina = level - j * (level // g)
        n = SCREEN * j // g
        out[n] = int(SCREEN * (1 - (min(stamina, level) / level))) == n - 1
    return out


@struct.dataclass
class State:
    """Finite and grid episode state; names follow the original's attributes.

    Cell masks are ``(lo, hi)`` uint32 pairs, cell ``(x, y)`` at bit ``8 x + y``
    (:mod:`engram.envs.mystery_path.path_search`).

    Attributes:
        pos: int32 (2,) agent centre in px (``agent.rect.center``).
        rotation: int32 degrees (``agent.rotation``).
        start, end: int32 (2,) tiles (``start``, ``end``).
        on_path: cell mask of ``mystery_path.path``.
        walls: cell mask of ``mystery_path.wall_nodes`` (debug view only).
        visited: cell mask of ``node.reward_visited``.
        off_path: bool (``is_off_path``): the agent fell off in the last step.
        num_fails, t: int32. episode_return: double-float sum of rewards. success: int32.
        done: bool, the last transition ended the episode.
        next: the next episode's path, generated ``Variant.build_ticks`` search
            iterations per step, so that a reset only takes it (:meth:`MysteryPath.carry_over`).
        pending: bool, a state of :meth:`MysteryPath.init_state`, whose episode (start,
            end, path) is still to be taken from the previous episode's ``next``.
    """

    pos: jax.Array
    rotation: jax.Array
    start: jax.Array
    end: jax.Array
    on_path: tuple
    walls: tuple
    visited: tuple
    off_path: jax.Array
    num_fails: jax.Array
    t: jax.Array
    episode_return: jax.Array  # double-float (2,)
    success: jax.Array
    done: jax.Array
    next: Builder
    pending: jax.Array


@struct.dataclass
class EndlessState:
    """Endless episode state.

    The path is stored in node *slots*: segment ``k`` owns slots ``50 k .. 50 k + 49`` in
    path order (its 7×7 path from column 0 to column 6, then the transition node), so a
    smaller slot is always earlier on the path.

    Attributes:
        pos: int32 (2,) agent centre in world px (x grows to the right without bound).
        rotation: int32 degrees. camera_x: float32 (``camera_x``). bg_scroll: int32.
        seg_rows: int32 (S + 1,) row where segment k starts (= where k - 1 ends); the
            last entry is where segment S - 1 ends. Sampled up front: i.i.d. uniform.
        node_x, node_y: int32 (50 S,) world tile of each slot (-1: empty).
        seg_len: int32 (S,) nodes of each built segment (path + transition).
        cell_node: int32 (8 S, 7) slot of the node on each world tile, -1 for none.
        reward_visited: bool (50 S,). stamina_mark: int32 (50 S,); a node counts as
            ``stamina_visited`` iff its mark equals ``num_fails + 1``, so a fall (which
            clears every flag in the original) clears them by incrementing ``num_fails``.
        fall_map: bool (8 S, 9) ``fall_off_locations`` (rows -1..7), never cleared.
        built: int32 segments built. builder: the A* search of segment ``built`` in
            progress, with its walls and noise (:class:`Builder`).
        key: uint32 key data for the segments' randomness.
        current: int32 slot of ``current_node``. ground_truth: int32 (3,) East, North,
            South one-hot (``target_direction``).
        max_x, tiles_visited, num_fails, stamina, t: int32. episode_return: double-float
            sum of rewards.
        off_path: bool (``is_off_path``).
    """

    pos: jax.Array
    rotation: jax.Array
    camera_x: jax.Array
    bg_scroll: jax.Array
    seg_rows: jax.Array
    node_x: jax.Array
    node_y: jax.Array
    seg_len: jax.Array
    cell_node: jax.Array
    reward_visited: jax.Array
    stamina_mark: jax.Array
    fall_map: jax.Array
    built: jax.Array
    builder: Builder
    key: jax.Array
    current: jax.Array
    ground_truth: jax.Array
    max_x: jax.Array
    tiles_visited: jax.Array
    num_fails: jax.Array
    stamina: jax.Array
    t: jax.Array
    episode_return: jax.Array  # double-float (2,)
    off_path: jax.Array


def _finite_parameters(grid: bool) -> tuple[ResetParameter, ...]:
    p = [
        ResetParameter("max_steps", 128 if grid else 512, "int", 1, None, "time limit"),
        ResetParameter("agent_scale", 0.25, "float", 0.05, 1.0, "sprite scale", static=True),
    ]
    if not grid:
        p.append(ResetParameter("agent_speed", 3.0, "float", 0.0, 84.0, "px per step"))
    p += [
        ResetParameter("cardinal_origin_choice", [0, 1, 2, 3], "int_list", 0, 3, "start side"),
        ResetParameter("show_origin", False, "bool", doc="draw the start tile (blue)"),
        ResetParameter("show_goal", False, "bool", doc="draw the end tile (green)"),
        ResetParameter("visual_feedback", True, "bool", doc="red X on a fall"),
        ResetParameter("reward_goal", 1.0, "float", double=True),
        ResetParameter("reward_fall_off", 0.0, "float", double=True),
        ResetParameter("reward_path_progress", 0.0 if grid else 0.1, "float", double=True),
        ResetParameter("reward_step", 0.0, "float", double=True),
    ]
    return tuple(p)


ENDLESS_PARAMETERS: tuple[ResetParameter, ...] = (
    ResetParameter("max_steps", -1, "int", -1, None, "time limit, -1 = none"),
    ResetParameter("agent_scale", 0.25, "float", 0.05, 1.0, "sprite scale", static=True),
    # At most one tile per step, so that a fall is always detected on the row next to
    # the path (the fall-off map holds rows -1..7); the original does not bound it.
    ResetParameter("agent_speed", 3.0, "float", 0.0, 12.0, "px per step"),
    ResetParameter("show_origin", False, "bool", doc="no effect, as in the original"),
    ResetParameter("show_past_path", True, "bool"),
    ResetParameter("show_background", False, "bool", doc="scrolling ice tiles"),
    ResetParameter("show_stamina", False, "bool", doc="stamina bar on the right edge"),
    ResetParameter("visual_feedback", True, "bool", doc="red X on a fall"),
    # The original clamps the camera offset to [0, 5.5] but uses the raw value for the
    # drawn past-path depth; engram accepts only the range where both agree.
    ResetParameter("camera_offset_scale", 5.0, "float", 0.0, 5.5, "camera lead, tiles"),
    ResetParameter("stamina_level", 20, "int", 1, None, "steps without a new tile"),
    ResetParameter("reward_fall_off", 0.0, "float", double=True),
    ResetParameter("reward_path_progress", 0.1, "float", double=True),
    ResetParameter("reward_step", 0.0, "float", double=True),
)


def _below(word, n):
    """``floor(word * n / 2**32)``: a uniform integer in ``0 .. n - 1`` (off by at most
    ``n / 2**32`` in probability, as ``jax.random.randint``) from a uint32 ``word``."""
    n = jnp.asarray(n, jnp.uint32)
    high = (word >> 16) * n
    low = ((word & 0xFFFF) * n) >> 16
    return ((high + low) >> 16).astype(jnp.int32)


def _ends(bits, options):
    """The start and end tiles (int32 (2,) each) of a finite episode from uint32 (3,)
    random words: ``choice(cardinal_origin_choice)`` picks the side of the start (0 west,
    1 east, 2 north, 3 south; the end lies on the opposite side), the start and end
    rows/columns are uniform (``MysteryPathEnv.reset``)."""
    side = options[_below(bits[0], options.shape[0])]
    a, b = _below(bits[1], GRID), _below(bits[2], GRID)
    last = GRID - 1
    sx = jnp.asarray([0, last, 0, 0])[side] + jnp.where(side >= 2, a, 0)
    sy = jnp.asarray([0, 0, 0, last])[side] + jnp.where(side < 2, a, 0)
    ex = jnp.asarray([last, 0, 0, 0])[side] + jnp.where(side >= 2, b, 0)
    ey = jnp.asarray([0, 0, last, 0])[side] + jnp.where(side < 2, b, 0)
    return jnp.stack([sx, sy]).astype(jnp.int32), jnp.stack([ex, ey]).astype(jnp.int32)


def _velocity(a, speed):
    """``action_velocity`` with the velocity int-cast as ``CharacterController`` does."""
    dx, dy, vel = action_velocity(a, speed)
    return dx, dy, jnp.trunc(vel).astype(jnp.int32)


class MysteryPath(Environment):
    """Every Mystery Path id; see the module docstring and :class:`Variant`.

    Observation: uint8 (84, 84, 3) in standard image layout (row = y); the original
    returns (x, y, c). Action: ``MysteryPath-v0``: int32 (2,) in MultiDiscrete([3, 3])
    (horizontal none/left/right, vertical none/up/down); ``MysteryPath-Grid-v0``: int32
    scalar in Discrete(4) (no-op, rotate left, rotate right, forward);
    ``Endless-MysteryPath-v0``: int32 scalar in Discrete(4) (no-op, right, up, down).

    Time limits (``t == max_steps``) are reported as ``truncated``; the original reports
    them as ``terminated`` (its ``truncated`` is always False), so ``terminated |
    truncated`` is the original's ``done``.
    """

    observes_state = True

    def __init__(self, env_id: str, variant: Variant):
        self.env_id = env_id
        self.variant = variant
        v = variant
        self.reset_parameters = ENDLESS_PARAMETERS if v.endless else _finite_parameters(v.grid)
        self.observation_space = Box(0, 255, (SCREEN, SCREEN, 3), np.uint8)
        self.action_space = Discrete(4) if (v.grid or v.endless) else MultiDiscrete((3, 3))
        self.render_fps = 3 if v.grid else 25  # metadata["render_fps"] of the original
        self._radius = character_radius(v.agent_scale)
        self._picture = Picture(v, self._radius)
        if v.endless:
            self.info_every_step = ("ground_truth",)
            self.info_at_end = (
                "reward",
                "length",
                "num_fails",
                "max_x",
                "tiles_visited",
                "ground_truth",
            )
        else:
            self.info_at_end = ("reward", "length", "success", "num_fails")

    @property
    def static_key(self) -> tuple:
        return ("MysteryPath", self.env_id, self.variant)

    # ------------------------------------------------------------------ params
    def make_params(self, rp: dict) -> Params:
        """The :class:`~engram.core.params.Params` of a complete, validated reset-parameter
        dict. The endless id adds ``stamina_round_down``, bool (85,): entry n is True when
        the original's float64 stamina-bar height ``int(84 * (1 - stamina / level))``
        comes out as n - 1 where the exact value is the integer n (e.g.
        ``84 * (1 - 27/28)`` is 2.9999999999999996), see :func:`stamina_bar_round_down`."""
        derived = {}
        if "stamina_level" in rp:  # the endless id's stamina bar
            derived["stamina_round_down"] = jnp.asarray(stamina_bar_round_down(rp["stamina_level"]))
        return to_params(self.reset_parameters, rp, **derived)

    # ------------------------------------------------------------------- reset
    def reset(self, key: jax.Array, params: Params):
        """Start an episode with the original's sampling rules.

        Finite and grid: the start and end tiles (:func:`_ends`), then the walls and the
        path (:mod:`engram.envs.mystery_path.path_search`), searched here to the end.
        Endless: the start row of the first segment and the end row of every segment are
        uniform; segment 0 is built here, the following ones by ``step``.

        Returns:
            ``(obs, state)``.
        """
        if self.variant.endless:
            state = self.init_state(key, params)
        else:
            k_now, k_next = jax.random.split(key)
            ready = finish(self._next_path(k_now, params), True)
            state = self._begin(self.init_state(k_next, params), ready)
        return self.observe(state, params), state

    def init_state(self, key: jax.Array, params: Params):
        """Finite and grid: a *pending* state (see :class:`State`): the next episode's
        path is drawn from ``key`` and searched step by step; the episode itself comes
        from the previous state in :meth:`carry_over` (``AutoReset``), or from
        :meth:`reset`. This keeps the A* search out of the reset that ``AutoReset``
        computes for every environment at every step. Endless: the whole first state."""
        if self.variant.endless:
            return self._reset_endless(key, params)
        nxt = self._next_path(key, params)
        return self._start(nxt.start, nxt.end, EMPTY, EMPTY, nxt).replace(pending=jnp.asarray(True))

    def _next_path(self, key, params: Params) -> Builder:
        bits = jax.random.bits(key, (3 + PATH_WORDS,), jnp.uint32)
        start, end = _ends(bits[:3], params.cardinal_origin_choice)
        return build(bits[3:], start, end)

    def carry_over(self, old, new):
        """A pending state (:meth:`init_state`) takes the episode that ``old`` built in
        ``next``, searching what is left of it where ``old`` just ended (only episodes
        shorter than the search, about 25 steps at most). Other states are kept."""
        if self.variant.endless:
            return new
        ready = finish(old.next, new.pending & old.done)
        begun = self._begin(new, ready)
        return jax.tree.map(lambda a, b: jnp.where(new.pending, a, b), begun, new)

    def _begin(self, state: State, path: Builder) -> State:
        """``state`` playing the episode of the finished search ``path``."""
        walls = mask_of_cells(path.walls)
        return self._start(path.start, path.end, path_mask(path), walls, state.next)

    def reset_to(self, params: Params, *, start=None, end=None, path, walls=(), key=None):
        """Start an episode from explicit values, e.g. to replay a recorded episode.

        Args:
            params: the environment's params.
            start, end: finite and grid: (x, y) tiles (default: the path's ends).
            path: finite and grid: the path's (x, y) tiles in any order (the original's
                ``mystery_path.path``). Endless: a list of segments, each a list of world
                (x, y) tiles in path order ending with the transition node (the original's
                ``endless_path.path``); segments after these are generated by ``step``.
            walls: finite and grid: (x, y) wall tiles (debug view only).
            key: PRNG key for the paths after the given ones (default ``key(0)``).

        Returns:
            ``(obs, state)`` exactly as :meth:`reset` would give them for these values.

        Raises:
            ValueError: a tile outside the grid, or (endless) more segments than
                ``Variant.max_segments`` or a segment that does not fit its 8 columns.
        """
        key = jax.random.key(0) if key is None else key
        if self.variant.endless:
            state = self._reset_endless(key, params, segments=path)
            return self.observe(state, params), state
        cells = np.asarray(path, np.int64).reshape(-1, 2)
        if np.any((cells < 0) | (cells >= GRID)):
            raise ValueError(f"path: tiles must lie in 0..{GRID - 1}, got {cells.tolist()}")
        on_path = np.zeros(CELLS, bool)
        on_path[cells[:, 0] * GRID + cells[:, 1]] = True
        wall = np.zeros(CELLS, bool)
        w = np.asarray(walls, np.int64).reshape(-1, 2)
        wall[w[:, 0] * GRID + w[:, 1]] = True
        start = cells[-1] if start is None else start
        end = cells[0] if end is None else end
        state = self._start(
            jnp.asarray(start, jnp.int32),
            jnp.asarray(end, jnp.int32),
            mask_of_cells(jnp.asarray(on_path)),
            mask_of_cells(jnp.asarray(wall)),
            self._next_path(key, params),
        )
        return self.observe(state, params), state

    def _start_pos(self, start):
        # mystery_path.py: rect.center = start * tile_dim + radius (tile_dim 12.0; the
        # grid variant uses the cell centre 12 * i + 6, the same at the default scale).
        offset = TILE // 2 if self.variant.grid else self._radius
        return start * TILE + offset

    def _start(self, start, end, on_path, walls, nxt: Builder) -> State:
        zero = jnp.zeros((), jnp.int32)
        return State(
            pos=self._start_pos(start).astype(jnp.int32),
            rotation=zero,
            start=start,
            end=end,
            on_path=on_path,
            walls=walls,
            visited=EMPTY,
            off_path=jnp.asarray(False),
            num_fails=zero,
            t=zero,
            episode_return=dfloat.zeros(),
            success=zero,
            done=jnp.asarray(False),
            next=nxt,
            pending=jnp.asarray(False),
        )

    # -------------------------------------------------------------------- step
    def transition(self, key: jax.Array, state, action, params: Params):
        """Advance one step without drawing (the original's ``step``; ``key`` is unused:
        the paths ahead draw from their own bits).

        Returns:
            ``(state, reward, terminated, truncated, info)``. ``info`` holds, every
            step: ``reward`` (float32 episode return so far), ``length`` (int32 steps so
            far), ``num_fails`` (int32); finite and grid: ``success`` (int32, 1 when the
            end tile was reached); endless: ``max_x``, ``tiles_visited`` (int32) and
            ``ground_truth`` (float32 (3,) one-hot East, North, South of the next path
            node). The original reports them only at the end, except ``ground_truth``.
        """
        del key
        if self.variant.endless:
            return self._step_endless(state, action, params)
        return self._step_finite(state, action, params)

    def _move(self, state: State, action, params: Params):
        """Locomotion of the finite and grid variants; returns (pos, rotation)."""
        if self.variant.grid:
            tile, rot = grid_move(action, state.rotation, state.pos // TILE, GRID)
            return tile * TILE + TILE // 2, rot
        a = jnp.asarray(action, jnp.int32).reshape(2)
        dx, dy, vel = _velocity(a, params.agent_speed)
        # Clamped to the screen rect shrunk by the radius (right edge: 84 - r).
        pos = jnp.clip(state.pos + vel, self._radius, SCREEN - self._radius)
        return pos, character_rotation(dx, dy, state.rotation)

    def _step_finite(self, state: State, action, params: Params):
        pos, rot = self._move(state, action, params)
        # After a fall the agent is put back on the start tile and the action ignored
        # (step([0, 0]) / step(0): the rotation is kept). The continuous controller then
        # clamps that centre to the screen shrunk by the radius: on a start tile at the
        # right or bottom edge, an agent with radius int(25 * scale) above 6 ends up left
        # of (or above) start * 12 + radius. The reset does not clamp.
        back = self._start_pos(state.start)
        if not self.variant.grid:
            back = jnp.clip(back, self._radius, SCREEN - self._radius)
        pos = jnp.where(state.off_path, back, pos)
        rot = jnp.where(state.off_path, state.rotation, rot)
        tile = pos // TILE
        at_end = jnp.all(tile == state.end)
        on = ~at_end & mask_bit(state.on_path, tile[0], tile[1])
        new_tile = on & ~mask_bit(state.visited, tile[0], tile[1])
        new_tile = new_tile & ~jnp.all(tile == state.start)
        fell = ~at_end & ~on
        zero = dfloat.zeros()
        # In the original's order: goal, path progress, fall, then the step reward.
        reward = dfloat.select(at_end, params.reward_goal, zero)
        reward = dfloat.add(reward, dfloat.select(new_tile, params.reward_path_progress, zero))
        reward = dfloat.add(reward, dfloat.select(fell, params.reward_fall_off, zero))
        reward = dfloat.add(reward, params.reward_step)
        state, truncated = self.count_step(state, reward, at_end, params.max_steps)
        # The next episode's search, while it runs (a cond: one environment skips the
        # ticks once it is over, most of an episode; under vmap both sides run and are
        # selected, and a tick of a finished search is a no-op anyway).
        nxt = jax.lax.cond(running(state.next), self._ticks, lambda b: b, state.next)
        # The goal step leaves is_off_path as it was (it can only be False there).
        new = state.replace(
            pos=pos,
            rotation=rot,
            visited=mask_add(state.visited, tile[0], tile[1], new_tile),
            off_path=jnp.where(at_end, state.off_path, fell),
            num_fails=state.num_fails + fell,
            success=at_end.astype(jnp.int32),
            done=at_end | truncated,
            next=nxt,
        )
        info = {**self.episode_info(new), "success": new.success, "num_fails": new.num_fails}
        return new, dfloat.value(reward), at_end, truncated, info

    def _ticks(self, b: Builder) -> Builder:
        """``Variant.build_ticks`` iterations of the search ``b``."""
        for _ in range(self.variant.build_ticks):
            b = tick(b)
        return b

    # ------------------------------------------------------------------ render
    def observe(self, state, params: Params) -> jax.Array:
        """The observation of ``state``: uint8 (84, 84, 3).

        Finite and grid: the background (black; with ``show_goal`` the end tile green,
        with ``show_origin`` the start tile blue), the agent and, in the frame of a fall
        (with ``visual_feedback``), the X over it. Endless: the background (black or
        scrolling ice), the past path, the agent at a fixed screen x, the stamina bar,
        the X. Drawn by :class:`engram.envs.mystery_path.render.Picture`."""
        return self._picture.observation(state, params)

    def reset_info(self, state, params: Params) -> dict:
        """The original's reset info: ``{"ground_truth": float32 (3,)}`` (one-hot East,
        North, South of the start node's next node) in the endless variant, else ``{}``."""
        del params
        if self.variant.endless:
            return {"ground_truth": state.ground_truth.astype(jnp.float32)}
        return {}

    def debug_frame(self, state, params: Params) -> jax.Array:
        """The observation with the hidden path made visible: uint8 (84, 84, 3).

        Finite and grid: start (blue), end (green), the rest of the path (white) and the
        walls (red), as the original's debug surface. Endless: every built path tile in
        grey (200, 200, 200) under the past path the agent sees. Drawn by
        :class:`engram.envs.mystery_path.render.Picture`.
        """
        return self._picture.debug(state, params)

    # ================================================================ endless
    def _segment_key(self, state_key, k):
        return jax.random.fold_in(jax.random.wrap_key_data(state_key), k)

    def _segment(self, st: EndlessState, k) -> Builder:
        """The A* search of segment ``k``, not started: from (0, row k) to (6, row k + 1)
        of its own 7×7 grid (``EndlessMysteryPath.add_path_segment``), its walls and noise
        drawn from the segment's own key."""
        rows = st.seg_rows[jnp.minimum(jnp.stack([k, k + 1]), self.variant.max_segments)]
        bits = jax.random.bits(self._segment_key(st.key, k), (PATH_WORDS,), jnp.uint32)
        return build(bits, jnp.stack([0, rows[0]]), jnp.stack([GRID - 1, rows[1]]))

    def _commit(self, st: EndlessState, k, path, length, when=True) -> EndlessState:
        """Write segment ``k``'s path (cells from start to end, padded with -1) and its
        transition node into the world arrays where ``when`` (bool): world column =
        local column + 8 k. Elsewhere the same blocks are written back unchanged, so
        that under vmap no whole array has to be selected."""
        i = jnp.arange(SEGMENT_SLOTS)
        cell = jnp.concatenate([path, jnp.full(1, -1, jnp.int32)])
        x = jnp.where(cell >= 0, cell // GRID + SEGMENT_COLUMNS * k, -1)
        y = jnp.where(cell >= 0, cell % GRID, -1)
        # The transition node (column 8 k + 7, the end row) follows the end node.
        x = jnp.where(i == length, SEGMENT_COLUMNS * k + GRID, x)
        y = jnp.where(i == length, st.seg_rows[k + 1], y)
        valid = i <= length
        block = jnp.full((SEGMENT_COLUMNS, GRID), -1, jnp.int32)
        lx = jnp.where(valid, x - SEGMENT_COLUMNS * k, SEGMENT_COLUMNS)  # dropped if invalid
        block = block.at[lx, jnp.maximum(y, 0)].set(SEGMENT_SLOTS * k + i, mode="drop")

        def put(a, new, at):
            old = jax.lax.dynamic_slice(a, at, new.shape)
            return jax.lax.dynamic_update_slice(a, jnp.where(when, new, old), at)

        return st.replace(
            node_x=put(st.node_x, x, (SEGMENT_SLOTS * k,)),
            node_y=put(st.node_y, y, (SEGMENT_SLOTS * k,)),
            seg_len=st.seg_len.at[k].set(jnp.where(when, length + 1, st.seg_len[k])),
            cell_node=put(st.cell_node, block, (SEGMENT_COLUMNS * k, jnp.int32(0))),
            built=jnp.where(when, k + 1, st.built),
        )

    def _store(self, st: EndlessState, when) -> EndlessState:
        """Where ``when`` (bool) and the search of segment ``built`` is over: trace and
        store that segment and set up the next one's search.

        The trace and the next search's set-up (its random bits: JAX's Threefry runs as
        a loop of dozens of small kernels on the CPU) are a ``lax.cond`` over those small
        values only: one environment (``gym.make``) computes them on the few steps that
        store a segment (68 of the 307 microseconds of kernels of a step did it on every
        step, ``jax.profiler``), and under ``vmap``, where the cond runs both sides and
        selects, nothing larger than them is selected. The world arrays are written by
        :meth:`_commit`, field by field."""
        b = st.builder
        k = jnp.minimum(st.built, self.variant.max_segments - 1)
        # A failed search cannot happen (the wall rules keep start and end connected);
        # storing it anyway keeps the builder from stalling.
        commit = when & (b.search.found | b.search.failed)

        def stored(_):
            path, length = trace_path(b.search.prev, b.end_cell)
            return path, length, self._segment(st, k + 1)  # reads seg_rows and key only

        def kept(_):
            return jnp.full(CELLS, -1, jnp.int32), jnp.int32(0), b

        path, length, builder = jax.lax.cond(commit, stored, kept, None)
        return self._commit(st, k, path, length, commit).replace(builder=builder)

    def _build(self, st: EndlessState, segment) -> EndlessState:
        """Build segments ahead of the agent in ``segment``: ``build_ticks`` A* iterations
        per step while fewer than ``segment + 3`` exist, the segment stored on the step
        its search ends; as many as it takes when the agent's own segment is missing (only
        at speeds near one tile per step). The original builds segment ``n`` when the
        agent enters ``n - 1``; segments do not depend on the agent, so building them
        earlier gives the same path law."""
        v = self.variant
        work = (st.built < v.max_segments) & (st.built < segment + 3)
        b = self._ticks(st.builder)  # a no-op once the search is over
        pick = lambda x, y: jnp.where(work, x, y)  # noqa: E731
        st = self._store(st.replace(builder=jax.tree.map(pick, b, st.builder)), work)
        limit = 2 * (ASTAR_ITERATIONS + 1)  # enough for the missing segment and more

        def cond(carry):
            st, n = carry
            return (st.built < v.max_segments) & (st.built <= segment) & (n < limit)

        def body(carry):
            st, n = carry
            return self._store(st.replace(builder=tick(st.builder)), True), n + 1

        st, _ = jax.lax.while_loop(cond, body, (st, jnp.int32(0)))
        return st

    def _reset_endless(self, key, params: Params, segments=None):
        v = self.variant
        n_slots = SEGMENT_SLOTS * v.max_segments
        n_cols = SEGMENT_COLUMNS * v.max_segments
        k_rows, k_seg = jax.random.split(key)
        # Row where each segment starts; segment k ends where k + 1 starts. All uniform
        # (integers(0, 7)), drawn up front.
        rows = jax.random.randint(k_rows, (v.max_segments + 1,), 0, GRID, dtype=jnp.int32)
        zero = jnp.zeros((), jnp.int32)
        st = EndlessState(
            pos=jnp.zeros(2, jnp.int32),
            rotation=jnp.int32(270),
            camera_x=jnp.zeros((), jnp.float32),
            bg_scroll=zero,
            seg_rows=rows,
            node_x=jnp.full(n_slots, -1, jnp.int32),
            node_y=jnp.full(n_slots, -1, jnp.int32),
            seg_len=jnp.zeros(v.max_segments, jnp.int32),
            cell_node=jnp.full((n_cols, GRID), -1, jnp.int32),
            reward_visited=jnp.zeros(n_slots, bool),
            stamina_mark=jnp.zeros(n_slots, jnp.int32),
            fall_map=jnp.zeros((n_cols, GRID + 2), bool),
            built=zero,
            builder=None,
            key=jax.random.key_data(k_seg),
            current=zero,
            ground_truth=jnp.zeros(3, jnp.int32),
            max_x=zero,
            tiles_visited=zero,
            num_fails=zero,
            stamina=params.stamina_level,
            t=zero,
            episode_return=dfloat.zeros(),
            off_path=jnp.asarray(False),
        )
        if segments is None:
            first = finish(self._segment(st, zero), True)
            path, length = trace_path(first.search.prev, first.end_cell)
            st = self._commit(st, zero, path, length)
        else:
            st = self._load_segments(st, segments)
        st = st.replace(builder=self._segment(st, st.built))
        # The first node pays nothing (path[0][0].reward_visited = True).
        st = st.replace(reward_visited=st.reward_visited.at[0].set(True))
        offset = camera_offset(params.camera_offset_scale)
        st = st.replace(
            pos=jnp.stack([jnp.int32(self._radius), st.seg_rows[0] * TILE + self._radius]),
            camera_x=offset,
        )
        return st.replace(ground_truth=self._direction(st, st.ground_truth))

    def _load_segments(self, st: EndlessState, segments) -> EndlessState:
        """Host side: store recorded segments (lists of world (x, y), transition last)."""
        v = self.variant
        if len(segments) > v.max_segments:
            raise ValueError(
                f"path: {len(segments)} segments, this environment holds {v.max_segments}"
            )
        node_x = np.asarray(st.node_x).copy()
        node_y = np.asarray(st.node_y).copy()
        seg_len = np.zeros(v.max_segments, np.int32)
        cell_node = np.full(np.asarray(st.cell_node).shape, -1, np.int32)
        rows = np.asarray(st.seg_rows).copy()
        for k, seg in enumerate(segments):
            xy = np.asarray(seg, np.int64).reshape(-1, 2)
            lo = SEGMENT_COLUMNS * k
            if (
                len(xy) > SEGMENT_SLOTS
                or np.any((xy[:, 0] < lo) | (xy[:, 0] >= lo + SEGMENT_COLUMNS))
                or np.any((xy[:, 1] < 0) | (xy[:, 1] >= GRID))
            ):
                raise ValueError(f"path: segment {k} does not fit columns {lo}..{lo + 7}")
            base = SEGMENT_SLOTS * k
            node_x[base : base + len(xy)] = xy[:, 0]
            node_y[base : base + len(xy)] = xy[:, 1]
            seg_len[k] = len(xy)
            cell_node[xy[:, 0], xy[:, 1]] = base + np.arange(len(xy))
            rows[k] = xy[0, 1]
            rows[k + 1] = xy[-1, 1]
        return st.replace(
            node_x=jnp.asarray(node_x),
            node_y=jnp.asarray(node_y),
            seg_len=jnp.asarray(seg_len),
            cell_node=jnp.asarray(cell_node),
            seg_rows=jnp.asarray(rows),
            built=jnp.int32(len(segments)),
        )

    def _direction(self, st: EndlessState, previous):
        """``target_direction``: one-hot [East, North, South] of the step from
        ``current_node`` to its ``next_node``; a West step keeps ``previous``."""
        c = st.current
        k = c // SEGMENT_SLOTS
        last = c - SEGMENT_SLOTS * k + 1 >= st.seg_len[k]
        # After a segment's transition node comes the next segment's start node.
        nxt = jnp.minimum(c + 1, st.node_x.shape[0] - 1)
        k1 = jnp.minimum(k + 1, self.variant.max_segments)
        nx = jnp.where(last, SEGMENT_COLUMNS * (k + 1), st.node_x[nxt])
        ny = jnp.where(last, st.seg_rows[k1], st.node_y[nxt])
        dx, dy = nx - st.node_x[c], ny - st.node_y[c]
        east = jnp.asarray([1, 0, 0], jnp.int32)
        north = jnp.asarray([0, 1, 0], jnp.int32)
        south = jnp.asarray([0, 0, 1], jnp.int32)
        out = jnp.where(dy == 1, south, previous)
        out = jnp.where(dy == -1, north, out)
        return jnp.where(dx == 1, east, out)

    def _step_endless(self, st: EndlessState, action, params: Params):
        v = self.variant
        a = jnp.asarray(action, jnp.int32).reshape(())
        # Discrete(4) -> MultiDiscrete: 0 none, 1 right [2, 0], 2 up [0, 1], 3 down [0, 2].
        h = jnp.where(a == 1, 2, 0)
        vert = jnp.where(a == 2, 1, jnp.where(a == 3, 2, 0))
        dx, dy, vel = _velocity(jnp.stack([h, vert]), params.agent_speed)
        vel = jnp.where(st.off_path, 0, vel)
        rot = jnp.where(st.off_path, st.rotation, character_rotation(dx, dy, st.rotation))
        offset = camera_offset(params.camera_offset_scale)
        start_pos = jnp.stack([jnp.int32(self._radius), st.seg_rows[0] * TILE + self._radius])
        # No boundary: the agent may leave the screen vertically (a fall).
        pos = jnp.where(st.off_path, start_pos, st.pos + vel)
        camera_x = jnp.where(st.off_path, offset, st.camera_x + vel[0])
        # Background scroll: bg -= vx; past one tile it wraps to |bg| % |vx| (keeping
        # the sign), which the original does because diagonal speeds differ.
        bg = st.bg_scroll - vel[0]
        wrap = jnp.abs(bg) >= TILE
        bg = jnp.where(wrap, jnp.sign(bg) * (jnp.abs(bg) % jnp.maximum(jnp.abs(vel[0]), 1)), bg)
        bg = jnp.where(st.off_path, 0, bg)

        tile = jnp.floor_divide(pos, TILE)
        segment = tile[0] // SEGMENT_COLUMNS
        st = self._build(st, segment)

        n_cols = SEGMENT_COLUMNS * v.max_segments
        col = jnp.clip(tile[0], 0, n_cols - 1)
        inside = (tile[1] >= 0) & (tile[1] < GRID) & (tile[0] < n_cols)
        slot = st.cell_node[col, jnp.clip(tile[1], 0, GRID - 1)]
        on = inside & (slot >= 0)
        slot = jnp.maximum(slot, 0)
        new_tile = on & ~st.reward_visited[slot]
        # In 1.0.2 the start tile is not exempt from the stamina refresh (the comparison
        # with self.start compares a tuple with a Node, which is always False).
        refresh = on & (st.stamina_mark[slot] != st.num_fails + 1)
        fell = ~on
        behind = fell & (tile[0] < st.max_x)
        frow = jnp.clip(tile[1] + 1, 0, GRID + 1)
        seen = st.fall_map[col, frow]
        again = fell & ~behind & seen
        fall_map = st.fall_map.at[col, frow].set(seen | (fell & ~behind))
        num_fails = st.num_fails + fell
        stamina = jnp.where(fell | refresh, params.stamina_level, st.stamina) - 1
        current = jnp.where(on, slot, st.current)
        zero = dfloat.zeros()
        reward = dfloat.select(new_tile, params.reward_path_progress, zero)
        reward = dfloat.add(reward, dfloat.select(fell, params.reward_fall_off, zero))
        reward = dfloat.add(reward, params.reward_step)
        terminated = behind | again | (stamina == 0)
        st, truncated = self.count_step(st, reward, terminated, params.max_steps)
        st = st.replace(
            pos=pos,
            rotation=rot,
            camera_x=camera_x,
            bg_scroll=bg,
            reward_visited=st.reward_visited.at[slot].set(st.reward_visited[slot] | new_tile),
            stamina_mark=st.stamina_mark.at[slot].set(
                jnp.where(refresh, st.num_fails + 1, st.stamina_mark[slot])
            ),
            fall_map=fall_map,
            current=current,
            max_x=jnp.where(on & (tile[0] > st.max_x), tile[0], st.max_x),
            tiles_visited=st.tiles_visited + new_tile,
            num_fails=num_fails,
            stamina=stamina,
            off_path=fell,
        )
        st = st.replace(ground_truth=self._direction(st, st.ground_truth))
        # The state holds max_segments segments: an agent that reaches the last one
        # ends the episode (truncated).
        truncated |= ~terminated & (segment >= v.max_segments - 1)
        info = {
            **self.episode_info(st),
            "num_fails": num_fails,
            "max_x": st.max_x,
            "tiles_visited": st.tiles_visited,
            "ground_truth": st.ground_truth.astype(jnp.float32),
        }
        return st, dfloat.value(reward), terminated, truncated, info


# ----------------------------------------------------------------- registry
_IDS = {
    "MysteryPath-v0": Variant(),
    "MysteryPath-Grid-v0": Variant(grid=True),
    "Endless-MysteryPath-v0": Variant(endless=True),
}


def _factory(env_id: str, base: Variant):
    def build(rp: dict) -> MysteryPath:
        # The grid id accepts agent_scale but ignores it: its GridCharacterController is
        # built with the module's SCALE = 0.25 (trajectories-params/README.md).
        scale = 0.25 if base.grid else rp["agent_scale"]
        return MysteryPath(
            env_id, Variant(base.grid, base.endless, scale, base.max_segments, base.build_ticks)
        )

    return build


for _id, _variant in _IDS.items():
    register(
        _id,
        ENDLESS_PARAMETERS if _variant.endless else _finite_parameters(_variant.grid),
        _factory(_id, _variant),
    )
