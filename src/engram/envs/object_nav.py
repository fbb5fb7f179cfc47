"""``ObjectNav-v0``: multi-object navigation in a grid house, a trial task with the structure
of Memo's ExtObjNav.

ExtObjNav (Extended Object Navigation; ReLIC, Elawady et al. 2024, "ReLIC: A Recipe for
64k Steps of In-Context Reinforcement Learning for Embodied AI"; Memo, Gupta et al. 2025,
arXiv 2510.19732 §4.1 and App. A.1/A.3; the Memo paper) runs a *trial*
of object-navigation episodes in one house whose objects stay where they are: an agent that
remembers where it saw the objects in earlier episodes finds them faster in later ones.
Habitat and its scenes cannot run here, so this task keeps ExtObjNav's structure (hidden
placement fixed per trial, a random spawn and target category per episode, the same
actions, reward shaping, success rule and SPL) in a grid house seen through MiniGrid's
egocentric, occluded view (Chevalier-Boisvert et al. 2023, ``minigrid``).

Layout, drawn once per trial (:meth:`ObjectNav.sample_task`):

* a house of ``rooms`` x ``rooms`` rooms of ``room_size`` x ``room_size`` free cells,
  separated by 1-cell walls inside an outer wall: the grid's side is
  ``rooms * (room_size + 1) + 1`` (16 with the defaults). Room ``(i, j)`` spans rows
  ``i * (room_size + 1) + 1 .. + room_size`` and the same columns for ``j``;
* doors: one free cell, at a uniformly random position along the shared wall, for each
  pair of side-by-side rooms that is connected. The connected pairs are a random spanning
  tree of the room graph (Kruskal's algorithm over the pairs in a uniformly random order,
  so every room is reachable) plus every other pair independently with probability
  ``extra_door_probability`` (0.3 by default, a few loops so that routes differ);
* objects: ``num_categories`` categories with ``objects_per_category`` instances each, at
  distinct uniformly random room cells that are neither a doorway nor a cell just inside
  one (a doorway is never blocked). Objects block movement, like furniture. A placement
  that cuts the free cells apart (a free cell unreachable from another, or an object with
  no reachable free neighbour) is drawn again, up to 32 times (``Task.connected`` says
  whether the kept draw is connected). With the defaults about one draw in eleven is
  rejected, so a disconnected house is practically never kept; a crowded house (many
  objects per room cell) may keep one, and then spawns avoid the cells cut off from the
  target;
* per-category distance fields: a multi-source breadth-first search from every instance of
  each category through the free cells (walls and objects block; an instance's own cell is
  0, its free 4-neighbours 1, ...); cells it cannot reach hold :data:`UNREACHABLE`.

Episode (:meth:`ObjectNav.reset_episode`): the target category is uniform and shown as a
one-hot; the agent spawns on a uniformly random free cell (no wall, no object) from which
the target can be reached (every free cell in a connected house; any free cell if no
instance can be reached), with a uniformly random heading. Actions ``Discrete(4)``,
ExtObjNav's navigation actions on the grid: 0 forward (one cell along the heading; a wall
or an object ahead leaves the agent in place), 1 turn left, 2 turn right (90 degrees),
3 stop, which ends the episode (``terminated``).

Success (ExtObjNav's ``must_call_stop`` + ``must_see_object`` at a distance): stop called
next to (4-neighbour) an instance of the target category that is *in view*, i.e. a seen cell
of the observation below: the cell ahead or the cell on either side; an instance behind the
agent does not count.

Reward per step (Memo's ``run_hssd_ac.sh`` values; ``NamedNavToObjReward``):
``slack_reward`` (-0.003) + (distance before the step - distance after it), the distance
being the target's distance field at the agent's cell (steps to the nearest instance), +
``success_reward`` (2.0) on success.

At an episode's end ``info`` holds ``success`` and ``spl`` (Anderson et al. 2018):
``S * L* / max(L, L*)`` with ``L*`` the spawn cell's distance minus 1 (the forward moves
needed to stand next to an instance) and ``L`` the forward moves that changed the agent's
cell; ``spl = S`` when both are 0 (spawned next to a target, stopped without moving).

View: the ``view_size`` x ``view_size`` cells in front of the agent, the agent at the bottom
centre facing up (MiniGrid's convention): view cell ``(r, c)`` lies ``view_size - 1 - r``
cells ahead of the agent and ``c - view_size // 2`` cells to its right; cells outside the
grid are walls. Visibility is propagated away from the agent row by row, as MiniGrid's
``process_vis`` does: in the agent's row only the agent's cell starts seen; in each row a
seen *transparent* cell (floor) makes its whole run of floor cells in that row seen, plus
the opaque cells (wall, object) that end the run; every seen floor cell then makes the
three cells ahead of it (straight and diagonally ahead) seen in the next row. Everything
else is unseen: a wall hides what is behind it, a doorway lets the view through (and, as in
MiniGrid, along every row of open floor behind it), and an object casts a shorter shadow
than a ray would: the diagonal steps and the spreading along rows see past a lone object.

Observations:

* pixels (default): ``{"visual_observation": uint8 (84, 84, 3), "vector_observation":
  float32 (num_categories,)}``: the view drawn at ``84 // view_size`` px per cell (12 for the
  default 7; ``view_size`` must be 3, 7 or 21, the odd sizes that divide 84), colours
  :data:`UNSEEN_RGB`, :data:`FLOOR_RGB`, :data:`WALL_RGB`, :data:`CATEGORY_RGB` per
  category, the agent a :data:`AGENT_RGB` triangle pointing up on its floor cell; the vector
  is the target's one-hot;
* ``symbolic=True``: float32 ``(view_size**2 * (3 + num_categories) + num_categories,)``:
  per view cell (row-major) a one-hot over ``[unseen, floor, wall, category 0 .. K-1]`` (the
  agent's cell is floor), then the target's one-hot.

The trial protocol (:mod:`engram.core.trials`) appends the in-context inputs to the vector
and chains the episodes: ``episode_length`` 200 steps per episode, ``trial_length`` 4096
steps per trial (Memo's training trial; its episodes have 500 steps in a much larger house).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from engram.core.params import Params, ResetParameter
from engram.core.registry import register
from engram.core.spaces import Box, Dict, Discrete
from engram.core.trials import TrialEnvironment, check_trial_lengths, trial_parameters

FORWARD, TURN_LEFT, TURN_RIGHT, STOP = 0, 1, 2, 3
#: (row, column) step of each heading: 0 north (up), 1 east, 2 south, 3 west; turning right
#: adds 1.
DIRECTIONS = ((-1, 0), (0, 1), (1, 0), (0, -1))
#: Cell classes of the grid and the view; category ``k`` is ``OBJECT + k``.
UNSEEN, FLOOR, WALL, OBJECT = 0, 1, 2, 3
#: Distance of a cell no instance of the category can be reached from.
UNREACHABLE = 1 << 20
#: Object placements drawn per trial at most before a disconnected one is kept.
MAX_PLACEMENT_TRIES = 32
#: Side of the pixel observation and the view sizes whose cells tile it exactly.
PICTURE = 84
VIEW_SIZES = (3, 7, 21)
#: Pixels per cell of :meth:`ObjectNav.episode_frame`.
FRAME_CELL = 6

UNSEEN_RGB = (0, 0, 0)
FLOOR_RGB = (40, 40, 40)
WALL_RGB = (130, 130, 130)
AGENT_RGB = (255, 255, 255)
#: Object categories (Sasha Trubetskoy's distinct colours): red, green, blue, yellow,
#: orange, purple, cyan, magenta.
CATEGORY_RGB = (
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (255, 225, 25),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
)
#: Floor cells in the agent's view, in :meth:`ObjectNav.episode_frame`.
SEEN_FLOOR_RGB = (60, 60, 100)

PARAMETERS = (
    # static: they fix the house's and the view's shapes (Variant)
    ResetParameter("rooms", 3, "int", 1, 8, "rooms per side of the house", static=True),
    ResetParameter("room_size", 4, "int", 2, 16, "free cells per room side", static=True),
    ResetParameter(
        "num_categories", 4, "int", 1, len(CATEGORY_RGB), "object categories", static=True
    ),
    ResetParameter(
        "objects_per_category", 2, "int", 1, 32, "instances of each category", static=True
    ),
    ResetParameter(
        "extra_door_probability",
        0.3,
        "float",
        0.0,
        1.0,
        "chance of a door between side-by-side rooms the spanning tree does not connect",
    ),
    ResetParameter(
        "view_size",
        7,
        "int",
        3,
        21,
        "cells per side of the egocentric view: 3, 7 or 21",
        static=True,
    ),
    ResetParameter(
        "symbolic",
        False,
        "bool",
        doc="a flat one-hot view instead of an 84x84 picture",
        static=True,
    ),
    ResetParameter("slack_reward", -0.003, "float", None, None, "reward of every step"),
    ResetParameter("success_reward", 2.0, "float", None, None, "reward of a successful stop"),
    *trial_parameters(200, 4096),
)


@struct.dataclass
class Task:
    """One house: fixed for a trial."""

    cells: jax.Array  # int32 (side, side): FLOOR, WALL or OBJECT + category
    objects: jax.Array  # int32 (K * M, 2): (row, column); object n has category n // M
    distance: jax.Array  # int32 (K, side, side): steps to the nearest instance
    doors: jax.Array  # bool (pairs,): which side-by-side room pairs have a door
    connected: jax.Array  # bool: the free cells are one component, every object reachable


@struct.dataclass
class Episode:
    position: jax.Array  # int32 (2,): (row, column)
    heading: jax.Array  # int32: index into DIRECTIONS
    target: jax.Array  # int32: the target category
    optimal: jax.Array  # int32: L*, forward moves from the spawn to stand next to a target
    path: jax.Array  # int32: L, forward moves that changed the cell


def _room_pairs(rooms: int, room_size: int):
    """The side-by-side room pairs: rooms ``a``, ``b`` (index ``i * rooms + j``), the
    doorway's first possible cell, the step along the wall and the step across it."""
    s = room_size + 1
    pairs = []
    for i in range(rooms):
        for j in range(rooms - 1):  # (i, j) and (i, j + 1): a door in a vertical wall
            pairs.append((i * rooms + j, i * rooms + j + 1, i * s + 1, (j + 1) * s, 1, 0, 0, 1))
    for i in range(rooms - 1):
        for j in range(rooms):  # (i, j) and (i + 1, j): a door in a horizontal wall
            pairs.append((i * rooms + j, (i + 1) * rooms + j, (i + 1) * s, j * s + 1, 0, 1, 1, 0))
    table = np.asarray(pairs, np.int32).reshape(-1, 8)
    return table[:, 0], table[:, 1], table[:, 2:4], table[:, 4:6], table[:, 6:8]


def _shift(a: jax.Array, dr: int, dc: int, fill) -> jax.Array:
    """``out[..., r, c] = a[..., r - dr, c - dc]``, ``fill`` outside."""
    h, w = a.shape[-2:]
    pad = [(0, 0)] * (a.ndim - 2) + [(max(dr, 0), max(-dr, 0)), (max(dc, 0), max(-dc, 0))]
    padded = jnp.pad(a, pad, constant_values=fill)
    r0, c0 = max(-dr, 0), max(-dc, 0)
    return padded[..., r0 : r0 + h, c0 : c0 + w]


def _neighbours(a: jax.Array, op, fill) -> jax.Array:
    """``op`` over the four neighbours of every cell (``fill`` outside the grid)."""
    out = _shift(a, 1, 0, fill)
    for dr, dc in ((-1, 0), (0, 1), (0, -1)):
        out = op(out, _shift(a, dr, dc, fill))
    return out


def breadth_first_distances(passable: jax.Array, sources: jax.Array) -> jax.Array:
    """Multi-source BFS distances on the 4-connected grid.

    ``passable`` bool ``(H, W)``, ``sources`` bool ``(..., H, W)``. A source is at distance 0
    (passable or not), a passable cell one more than its nearest neighbour; cells that cannot
    be reached hold :data:`UNREACHABLE`. Neighbour relaxations repeat until nothing changes
    (at most ``H * W`` rounds), so shapes are static and the loop runs as long as the
    longest shortest path.
    """
    big = jnp.int32(UNREACHABLE)
    start = jnp.where(sources, 0, big).astype(jnp.int32)

    def relax(carry):
        dist, _, rounds = carry
        nearest = _neighbours(dist, jnp.minimum, big)
        new = jnp.where(passable, jnp.minimum(dist, jnp.minimum(nearest, big - 1) + 1), dist)
        return new, jnp.any(new != dist), rounds + 1

    limit = passable.shape[0] * passable.shape[1]
    dist, _, _ = jax.lax.while_loop(
        lambda c: c[1] & (c[2] < limit), relax, (start, jnp.bool_(True), jnp.int32(0))
    )
    return dist


def _triangle(size: int) -> np.ndarray:
    """bool ``(size, size)``: a triangle pointing up (the agent)."""
    v = (np.arange(size)[:, None] + 0.5) / size
    u = (np.arange(size)[None, :] + 0.5) / size
    return (v >= 0.1) & (v <= 0.9) & (np.abs(u - 0.5) <= 0.45 * (v - 0.1) / 0.8 + 1e-9)


@dataclass(frozen=True)
class Variant:
    """Static configuration of ``ObjectNav-v0``: the ``static`` reset parameters, which fix
    shapes and code paths (the rest are in the params). The defaults are the parameters'.

    Attributes:
        rooms: rooms per side of the house. room_size: cells per side of a room.
        num_categories, objects_per_category: the objects placed in the house.
        view_size: cells per side of the egocentric view. symbolic: a vector observation
            instead of the picture.
    """

    rooms: int = 3
    room_size: int = 4
    num_categories: int = 4
    objects_per_category: int = 2
    view_size: int = 7
    symbolic: bool = False


class ObjectNav(TrialEnvironment):
    """Multi-object navigation trials (module docstring), built like every engram
    environment from its id and a :class:`Variant` (the static configuration)."""

    reset_parameters = PARAMETERS
    action_space = Discrete(4)
    render_fps = 10
    info_at_end = ("success", "spl")
    play_keys = {"up": 0, "left": 1, "right": 2, "wait": 3}

    def __init__(self, env_id: str = "ObjectNav-v0", variant: Variant = Variant()):
        self.env_id = env_id
        self.variant = variant
        rooms, room_size = variant.rooms, variant.room_size
        num_categories, view_size = variant.num_categories, variant.view_size
        objects_per_category, symbolic = variant.objects_per_category, variant.symbolic
        self.rooms, self.room_size = rooms, room_size
        self.num_categories, self.objects_per_category = num_categories, objects_per_category
        self.view_size, self.symbolic = view_size, bool(symbolic)
        self.side = rooms * (room_size + 1) + 1
        self.num_objects = num_categories * objects_per_category
        self._pair_a, self._pair_b, self._door0, self._along, self._across = _room_pairs(
            rooms, room_size
        )
        rr, cc = np.mgrid[: self.side, : self.side]
        self._room_cells = (rr % (room_size + 1) != 0) & (cc % (room_size + 1) != 0)
        v, half = view_size, view_size // 2
        self._ahead = (v - 1 - np.arange(v))[:, None] * np.ones((1, v), np.int32)
        self._right = np.ones((v, 1), np.int32) * (np.arange(v) - half)[None, :]
        self.cell_px = PICTURE // view_size
        # The agent's triangle in the bottom-centre cell of the picture.
        agent = np.zeros((PICTURE, PICTURE), bool)
        px = self.cell_px
        agent[(v - 1) * px : v * px, half * px : (half + 1) * px] = _triangle(px)
        self._agent_mask = agent
        self._palette = np.asarray(
            (UNSEEN_RGB, FLOOR_RGB, WALL_RGB) + CATEGORY_RGB[:num_categories], np.uint8
        )
        k = num_categories
        if self.symbolic:
            n = v * v * (OBJECT + k) + k
            self.task_observation_space = Box(0.0, 1.0, (n,), np.float32)
        else:
            self.task_observation_space = Dict(
                {
                    "visual_observation": Box(0, 255, (PICTURE, PICTURE, 3), np.uint8),
                    "vector_observation": Box(0.0, 1.0, (k,), np.float32),
                }
            )

    @property
    def static_key(self) -> tuple:
        return ("ObjectNav", self.env_id, self.variant)

    # -------------------------------------------------------------------- the house
    def _doors(self, key, params: Params) -> jax.Array:
        """bool (pairs,): a random spanning tree of the rooms plus random extra pairs."""
        n = self._pair_a.shape[0]
        if n == 0:
            return jnp.zeros((0,), bool)
        k_order, k_extra = jax.random.split(key)
        order = jax.random.permutation(k_order, n)
        pair_a, pair_b = jnp.asarray(self._pair_a), jnp.asarray(self._pair_b)

        def kruskal(i, carry):
            label, tree = carry
            p = order[i]
            la, lb = label[pair_a[p]], label[pair_b[p]]
            join = la != lb
            label = jnp.where(join & (label == lb), la, label)
            return label, tree.at[p].set(join)

        label0 = jnp.arange(self.rooms * self.rooms, dtype=jnp.int32)
        _, tree = jax.lax.fori_loop(0, n, kruskal, (label0, jnp.zeros((n,), bool)))
        extra = jax.random.bernoulli(k_extra, params.extra_door_probability, (n,))
        return tree | extra

    def _place(self, key, free, placeable):
        """Distinct uniformly random placeable cells for the objects: (cells, objects)."""
        side = self.side
        scores = jnp.where(placeable.reshape(-1), jax.random.uniform(key, (side * side,)), -1.0)
        _, flat = jax.lax.top_k(scores, self.num_objects)
        objects = jnp.stack([flat // side, flat % side], axis=1).astype(jnp.int32)
        category = jnp.arange(self.num_objects, dtype=jnp.int32) // self.objects_per_category
        cells = jnp.where(free, FLOOR, WALL).astype(jnp.int32)
        cells = cells.at[objects[:, 0], objects[:, 1]].set(OBJECT + category)
        return cells, objects

    def _connected(self, cells, objects) -> jax.Array:
        """Every free cell reachable from every other and every object next to one."""
        free = cells == FLOOR
        first = jnp.argmax(free.reshape(-1))
        source = jnp.zeros(free.size, bool).at[first].set(True).reshape(free.shape)
        reached = breadth_first_distances(free, source) < UNREACHABLE
        touched = _neighbours(reached, jnp.logical_or, False)
        return jnp.all(reached | ~free) & jnp.all(touched[objects[:, 0], objects[:, 1]])

    def sample_task(self, key, params: Params) -> Task:
        """A new house: doors, object placement (redrawn while disconnected), distances."""
        k_doors, k_offsets, k_place = jax.random.split(key, 3)
        side = self.side
        doors = self._doors(k_doors, params)
        free = jnp.asarray(self._room_cells)
        placeable = free
        if doors.shape[0]:
            offset = jax.random.randint(k_offsets, doors.shape, 0, self.room_size)
            door = jnp.asarray(self._door0) + offset[:, None] * jnp.asarray(self._along)
            across = jnp.asarray(self._across)
            opened = doors.astype(jnp.int32)
            free = free | (
                jnp.zeros((side, side), jnp.int32).at[door[:, 0], door[:, 1]].max(opened) > 0
            )
            inside = jnp.zeros((side, side), jnp.int32)
            for sign in (1, -1):
                cell = door + sign * across
                inside = inside.at[cell[:, 0], cell[:, 1]].max(opened)
            placeable = placeable & (inside == 0)

        def draw(carry):
            k, tries, _, _, _ = carry
            k, k_now = jax.random.split(k)
            cells, objects = self._place(k_now, free, placeable)
            return k, tries + 1, cells, objects, self._connected(cells, objects)

        cells, objects = self._place(k_place, free, placeable)
        init = (k_place, jnp.int32(1), cells, objects, self._connected(cells, objects))
        _, _, cells, objects, connected = jax.lax.while_loop(
            lambda c: ~c[4] & (c[1] < MAX_PLACEMENT_TRIES), draw, init
        )
        category = jnp.arange(self.num_categories, dtype=jnp.int32)
        sources = cells[None] == OBJECT + category[:, None, None]
        distance = breadth_first_distances(cells == FLOOR, sources)
        return Task(
            cells=cells, objects=objects, distance=distance, doors=doors, connected=connected
        )

    # -------------------------------------------------------------------- the view
    def view(self, task: Task, episode: Episode):
        """The egocentric view: int32 ``(V, V)`` classes with unseen cells ``UNSEEN``, and
        the world ``(row, column)`` of each view cell, int32 ``(V, V, 2)``."""
        forward = jnp.asarray(DIRECTIONS, jnp.int32)[episode.heading]
        right = jnp.asarray(DIRECTIONS, jnp.int32)[(episode.heading + 1) % 4]
        world = (
            episode.position
            + jnp.asarray(self._ahead)[..., None] * forward
            + jnp.asarray(self._right)[..., None] * right
        )
        side = self.side
        inside = jnp.all((world >= 0) & (world < side), axis=-1)
        at = jnp.clip(world, 0, side - 1)
        classes = jnp.where(inside, task.cells[at[..., 0], at[..., 1]], WALL)
        seen = self._visibility(classes == FLOOR)
        return jnp.where(seen, classes, UNSEEN), world

    def _visibility(self, transparent: jax.Array) -> jax.Array:
        """bool (V, V): the seen cells (module docstring), row by row from the agent's."""
        v = self.view_size
        seed = jnp.zeros((v,), bool).at[v // 2].set(True)
        rows = [None] * v
        for r in range(v - 1, -1, -1):
            clear = transparent[r]
            run = jnp.cumsum(~clear)  # equal along a run of floor cells, and only there
            same_run = (run[:, None] == run[None, :]) & clear[:, None] & clear[None, :]
            lit = jnp.any(same_run & (seed & clear)[None, :], axis=1)
            spread = lit | _shift(lit[None], 0, 1, False)[0] | _shift(lit[None], 0, -1, False)[0]
            rows[r] = seed | spread
            seed = spread
        return jnp.stack(rows)

    def _task_observation(self, task: Task, episode: Episode, classes=None):
        if classes is None:
            classes, _ = self.view(task, episode)
        target = jax.nn.one_hot(episode.target, self.num_categories, dtype=jnp.float32)
        if self.symbolic:
            cells = jax.nn.one_hot(classes, OBJECT + self.num_categories, dtype=jnp.float32)
            return jnp.concatenate([cells.reshape(-1), target])
        v, px = self.view_size, self.cell_px
        colours = jnp.asarray(self._palette)[classes]
        picture = jnp.broadcast_to(colours[:, None, :, None, :], (v, px, v, px, 3))
        picture = picture.reshape(PICTURE, PICTURE, 3)
        picture = jnp.where(
            jnp.asarray(self._agent_mask)[..., None], jnp.asarray(AGENT_RGB, jnp.uint8), picture
        )
        return {"visual_observation": picture, "vector_observation": target}

    # -------------------------------------------------------------------- episodes
    def reset_episode(self, key, task: Task, params: Params):
        """Spawn on a random free cell that reaches the target, random heading and target."""
        del params
        k_target, k_cell, k_heading = jax.random.split(key, 3)
        target = jax.random.randint(k_target, (), 0, self.num_categories, dtype=jnp.int32)
        field = task.distance[target]
        free = task.cells == FLOOR
        reach = free & (field < UNREACHABLE)
        where = jnp.where(jnp.any(reach), reach, free).reshape(-1)
        flat = jax.random.categorical(k_cell, jnp.where(where, 0.0, -jnp.inf))
        position = jnp.stack([flat // self.side, flat % self.side]).astype(jnp.int32)
        episode = Episode(
            position=position,
            heading=jax.random.randint(k_heading, (), 0, 4, dtype=jnp.int32),
            target=target,
            optimal=field[position[0], position[1]] - 1,
            path=jnp.int32(0),
        )
        return self._task_observation(task, episode), episode

    def episode_step(self, key, task: Task, episode: Episode, action, params: Params):
        """One action. Returns ``(obs, episode, reward, terminated, info)``."""
        del key
        a = jnp.asarray(action, jnp.int32).reshape(())
        h = episode.heading
        ahead = episode.position + jnp.asarray(DIRECTIONS, jnp.int32)[h]
        moved = (a == FORWARD) & (task.cells[ahead[0], ahead[1]] == FLOOR)
        position = jnp.where(moved, ahead, episode.position)
        heading = jnp.where(a == TURN_LEFT, (h + 3) % 4, jnp.where(a == TURN_RIGHT, (h + 1) % 4, h))
        new = episode.replace(
            position=position, heading=heading, path=episode.path + moved.astype(jnp.int32)
        )
        field = task.distance[episode.target]
        before = field[episode.position[0], episode.position[1]]
        after = field[position[0], position[1]]
        classes, _ = self.view(task, new)
        v, half = self.view_size, self.view_size // 2
        neighbours = jnp.stack(
            [classes[v - 2, half], classes[v - 1, half - 1], classes[v - 1, half + 1]]
        )
        stop = a == STOP
        success = stop & jnp.any(neighbours == OBJECT + episode.target)
        reward = (
            params.slack_reward
            + (before - after).astype(jnp.float32)
            + jnp.where(success, params.success_reward, 0.0)
        )
        best = jnp.maximum(new.path, new.optimal)
        ratio = jnp.where(best > 0, new.optimal / jnp.maximum(best, 1), 1.0)
        spl = jnp.where(success, ratio, 0.0).astype(jnp.float32)
        info = {"success": success, "spl": spl}
        return self._task_observation(task, new, classes), new, reward, stop, info

    # -------------------------------------------------------------------- pictures
    def episode_frame(self, task: Task, episode: Episode, params: Params) -> jax.Array:
        """The house from above: uint8 ``(side * 6, side * 6, 3)``. Walls grey, floor dark
        (blue-grey where the agent sees it), objects in their category's colour with a white
        outline on the target's instances, the agent a white triangle along its heading."""
        del params
        side, c = self.side, FRAME_CELL
        classes, world = self.view(task, episode)
        inside = jnp.all((world >= 0) & (world < side), axis=-1) & (classes != UNSEEN)
        at = jnp.clip(world, 0, side - 1)
        seen = jnp.zeros((side, side), bool).at[at[..., 0], at[..., 1]].max(inside)
        palette = jnp.asarray(self._palette)
        colours = palette[task.cells]
        colours = jnp.where(
            (seen & (task.cells == FLOOR))[..., None],
            jnp.asarray(SEEN_FLOOR_RGB, jnp.uint8),
            colours,
        )
        img = jnp.broadcast_to(colours[:, None, :, None, :], (side, c, side, c, 3))
        img = img.reshape(side * c, side * c, 3)

        def up(mask):
            return jnp.broadcast_to(mask[:, None, :, None], (side, c, side, c)).reshape(
                side * c, side * c
            )

        border = np.ones((c, c), bool)
        border[1:-1, 1:-1] = False
        is_target = task.cells == OBJECT + episode.target
        white = jnp.asarray(AGENT_RGB, jnp.uint8)
        img = jnp.where((up(is_target) & np.tile(border, (side, side)))[..., None], white, img)
        sprites = jnp.asarray(np.stack([np.rot90(_triangle(c), -k) for k in range(4)]))
        here = jnp.zeros((side, side), bool).at[episode.position[0], episode.position[1]].set(True)
        arrow = jnp.tile(sprites[episode.heading], (side, side))
        return jnp.where((up(here) & arrow)[..., None], white, img)


def _make(rp: dict) -> ObjectNav:
    """Check the static parameters on the host, then build the environment."""
    check_trial_lengths(rp)
    if rp["view_size"] not in VIEW_SIZES:
        raise ValueError(
            f"reset parameter 'view_size': got {rp['view_size']}, expected one of "
            f"{', '.join(map(str, VIEW_SIZES))} (odd sizes whose cells tile the 84-px picture)"
        )
    rooms, size = rp["rooms"], rp["room_size"]
    # Cells just inside a doorway hold no object: at most two per possible door.
    placeable = rooms * rooms * size * size - 4 * rooms * (rooms - 1)
    limit = placeable // 2  # the other half for spawning and for the paths between objects
    total = rp["num_categories"] * rp["objects_per_category"]
    if total > limit:
        raise ValueError(
            f"reset parameters 'num_categories' x 'objects_per_category': got "
            f"{rp['num_categories']} x {rp['objects_per_category']} = {total} objects, expected "
            f"at most {limit} for rooms={rooms}, room_size={size} (half the room cells that "
            "cannot be next to a doorway)"
        )
    variant = Variant(
        rooms=rooms,
        room_size=size,
        num_categories=rp["num_categories"],
        objects_per_category=rp["objects_per_category"],
        view_size=rp["view_size"],
        symbolic=bool(rp["symbolic"]),
    )
    return ObjectNav("ObjectNav-v0", variant)


register("ObjectNav-v0", PARAMETERS, _make)
