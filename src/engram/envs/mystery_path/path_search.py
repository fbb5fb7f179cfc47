"""Mystery Path's path generator: walls on 64-bit cell masks, the randomised A*, the trace.

The generator is the original's (``pygame_assets.MysteryPath.__init__`` of memory-gym 1.0.2).
The walls are drawn from one array of uint32 random words with scalar bit operations on
*cell masks*: a 64-bit set held as a pair ``(lo, hi)`` of uint32, cell ``(x, y)`` at bit
``8 x + y`` (one column per byte, bit 7 of every byte clear, so that shifting by 1 or 8
moves to a 4-neighbour); under ``vmap`` these are single vectorised loops over the batch,
where per-lane arrays of 49 cells run as slow scalar loops on XLA's CPU backend.

The search reproduces the original exactly (selection rule, ``g`` bug, Euclidean ``h``,
one ``integers(1, 9)`` draw per neighbour in the order right, left, down, up). It runs
as a :class:`Builder`, one iteration at a time, so that an environment can spread it over
the steps of the episode before the one that needs the path.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

GRID = 7  # tiles per side; MysteryPathEnv.grid_dim
CELLS = GRID * GRID
#: Iterations that always suffice: each one closes a cell other than the end, or selects
#: the end (49 cells).
ASTAR_ITERATIONS = CELLS
#: uint32 words of random bits :func:`generate` consumes (see :func:`_bit_layout`).
PATH_WORDS = 16 + 24 + 1 + (ASTAR_ITERATIONS + 1) // 2

_U = jnp.uint32
_NOISE_BITS = 3  # integers(1, 9) is 1 + three uniform bits
_BIG = np.int32(1 << 30)
# The four neighbours in the original's order (Node.add_neighbors): right, left, down, up,
# as (dx, dy) and as the shift of a cell's bit.
NEIGHBOUR_STEPS = ((1, 0), (-1, 0), (0, 1), (0, -1))
_BIT_STEP = tuple(8 * dx + dy for dx, dy in NEIGHBOUR_STEPS)


def _mask_of(cells) -> tuple[int, int]:
    """Host side: the mask of (x, y) cells, as Python ints (lo, hi)."""
    m = sum(1 << (8 * x + y) for x, y in cells)
    return m & 0xFFFFFFFF, m >> 32


_ALL = [(x, y) for x in range(GRID) for y in range(GRID)]
_VALID = _mask_of(_ALL)
_BORDER = [(x, y) for x, y in _ALL if x in (0, GRID - 1) or y in (0, GRID - 1)]
# Interior wall candidates: ``0 < i < num_columns - 2 and 0 < j < num_rows - 2``, i.e.
# columns and rows 1..4 only (column/row 5 never holds a wall).
_INTERIOR = [(x, y) for x, y in _ALL if 0 < x < GRID - 2 and 0 < y < GRID - 2]
# integers(0, 100) < 33 as a uint32 threshold (probability off by less than 2**-32).
_WALL_THRESHOLD = round(0.33 * 2**32)


def _neighbour_table() -> np.ndarray:
    """int32 (49, 4): the 4-neighbours of cell ``x * 7 + y`` in the original's order
    (right, left, down, up), -1 where the neighbour lies outside the grid."""
    table = np.full((CELLS, 4), -1, np.int32)
    for x, y in _ALL:
        for k, (dx, dy) in enumerate(NEIGHBOUR_STEPS):
            if 0 <= x + dx < GRID and 0 <= y + dy < GRID:
                table[x * GRID + y, k] = (x + dx) * GRID + y + dy
    return table


_NEIGHBOURS = _neighbour_table()
_CELL_X = np.repeat(np.arange(GRID), GRID).astype(np.int32)  # cell index = x * 7 + y
_CELL_Y = np.tile(np.arange(GRID), GRID).astype(np.int32)


# ------------------------------------------------------------------------- masks
def _m(value) -> tuple[jax.Array, jax.Array]:
    """A constant mask from a host (lo, hi) pair."""
    return _U(value[0]), _U(value[1])


def _or(a, b):
    return a[0] | b[0], a[1] | b[1]


def _and(a, b):
    return a[0] & b[0], a[1] & b[1]


def _andnot(a, b):
    return a[0] & ~b[0], a[1] & ~b[1]


def _when(cond, a):
    """``a`` where ``cond`` (bool scalar) holds, else the empty mask."""
    full = jnp.where(cond, _U(0xFFFFFFFF), _U(0))
    return a[0] & full, a[1] & full


def _one(p):
    """The mask of bit ``p`` (uint32 0..63); XLA shifts by 32 or more give 0."""
    return _U(1) << p, _U(1) << (p - 32)


def _bit(a, p):
    """Bit ``p`` (uint32 0..63) of mask ``a``, as uint32 0 or 1."""
    return ((a[0] >> p) | (a[1] >> (p - 32))) & 1


def mask_bit(a, x, y):
    """Whether cell ``(x, y)`` (int32 tile) is in the cell mask ``a``: bool."""
    return _bit(a, (8 * x + y).astype(jnp.uint32)) == 1


def mask_add(a, x, y, cond=True):
    """The cell mask ``a`` with cell ``(x, y)`` (int32 tile) added where ``cond``."""
    return _or(a, _when(cond, _one((8 * x + y).astype(jnp.uint32))))


EMPTY = (np.uint32(0), np.uint32(0))  # the empty cell mask


def _shift(a, s: int):
    """Mask ``a`` shifted towards higher bits by the static ``s`` (negative: lower)."""
    lo, hi = a
    if s >= 0:
        return lo << s, (hi << s) | (lo >> (32 - s))
    s = -s
    return (lo >> s) | (hi << (32 - s)), hi >> s


def _count(a):
    return jax.lax.population_count(a[0]) + jax.lax.population_count(a[1])


def _neighbours4(a):
    """Cells 4-adjacent to a cell of ``a`` (cell masks)."""
    out = a
    for s in _BIT_STEP:
        out = _or(out, _shift(a, s))
    return _and(_andnot(out, a), _m(_VALID))


def _neighbours8(a):
    """Cells 8-adjacent to a cell of ``a``, ``a`` included."""
    rows = _or(_or(a, _shift(a, 1)), _shift(a, -1))
    return _and(_or(_or(rows, _shift(rows, 8)), _shift(rows, -8)), _m(_VALID))


# ------------------------------------------------------------------------- walls
def cell_bit(cell):
    """Bit of the cell ``x * 7 + y`` (int32) in a cell mask: ``8 x + y`` (uint32)."""
    cell = jnp.asarray(cell, jnp.int32)
    return (8 * (cell // GRID) + cell % GRID).astype(jnp.uint32)


def walls_of(bits, start, end):
    """The walls of one ``MysteryPath`` grid (``pygame_assets.MysteryPath.__init__``).

    Interior walls: every cell of columns and rows 1..4 is a wall with probability 0.33
    (``integers(0, 100) < 33``). Border walls: ``choice([4, 8])`` cells drawn without
    replacement from the border cells that are not the start or end, not a 4-neighbour of
    either, and have no interior wall among their 8 neighbours (the candidate list is
    computed once, before any border wall is placed): a uniform subset of that size (or
    all candidates), drawn here by selection sampling over the border cells in a fixed
    order (each picked with probability ``needed / candidates left``, off by less than
    ``2**-24``).

    Args:
        bits: uint32 (41,) random words. start, end: uint32 cell bits.

    Returns:
        the wall mask.
    """
    walls = _m((0, 0))
    for i, (x, y) in enumerate(_INTERIOR):
        walls = _or(walls, _when(bits[i] < _WALL_THRESHOLD, _m(_mask_of([(x, y)]))))
    ends = _or(_one(start), _one(end))
    near = _or(_or(ends, _neighbours4(ends)), _neighbours8(walls))
    candidates = _andnot(_m(_mask_of(_BORDER)), near)
    left = _count(candidates)
    need = jnp.where((bits[40] & 1) == 1, _U(8), _U(4))
    for i, (x, y) in enumerate(_BORDER):
        cand = _bit(candidates, _U(8 * x + y)) == 1
        u = bits[16 + i] >> 8  # 24 uniform bits
        pick = cand & (u * left < need << 24)
        walls = _or(walls, _when(pick, _m(_mask_of([(x, y)]))))
        left = left - cand
        need = need - pick
    return walls


def mask_of_cells(flags: jax.Array):
    """The cell mask of bool (49,) flags by cell ``x * 7 + y``."""
    p = cell_bit(jnp.arange(CELLS))
    one = jnp.asarray(flags, jnp.uint32)
    return jnp.sum(one << p, dtype=jnp.uint32), jnp.sum(one << (p - 32), dtype=jnp.uint32)


def cells_of_mask(mask) -> jax.Array:
    """bool (49,) by cell ``x * 7 + y`` of a cell mask."""
    return jax.vmap(lambda q: _bit(mask, q))(cell_bit(jnp.arange(CELLS))) == 1


# ---------------------------------------------------------------------------- A*
@struct.dataclass
class SearchState:
    """State of the randomised A* search over the 49 cells (indexed ``x * 7 + y``).

    Attributes:
        g: int32 (49,) ``g_cost``. f: float32 (49,) ``f_cost``.
        order: int32 (49,) position in the open list (insertion counter), ``_BIG`` when
            the cell is not open; the open list keeps insertion order, so its first
            element is the open cell with the smallest counter.
        closed: bool (49,). prev: int32 (49,) ``previous_node``, -1 for none.
        counter: int32, next insertion number. it: int32 iterations done.
        found: bool, the goal was selected. failed: bool, the open list ran empty.
    """

    g: jax.Array
    f: jax.Array
    order: jax.Array
    closed: jax.Array
    prev: jax.Array
    counter: jax.Array
    it: jax.Array
    found: jax.Array
    failed: jax.Array


def search_init(start: jax.Array) -> SearchState:
    """The search with only ``start`` open (all costs 0, as ``Node.__init__`` sets them)."""
    return SearchState(
        g=jnp.zeros(CELLS, jnp.int32),
        f=jnp.zeros(CELLS, jnp.float32),
        order=jnp.full(CELLS, _BIG, jnp.int32).at[start].set(0),
        closed=jnp.zeros(CELLS, bool),
        prev=jnp.full(CELLS, -1, jnp.int32),
        counter=jnp.int32(1),
        it=jnp.int32(0),
        found=jnp.asarray(False),
        failed=jnp.asarray(False),
    )


def search_step(s: SearchState, walls: jax.Array, end: jax.Array, noise: jax.Array) -> SearchState:
    """One iteration of the original's A* loop (a no-op once found or failed).

    The original's rules, reproduced on purpose:

    * selection is not an argmin: the winner is the *first* open cell (in open-list order)
      whose ``f`` is strictly smaller than that of the first open cell, else the first;
    * each neighbour not closed and not a wall gets ``g = current.g_cost + integers(1, 9)``;
      if it is already open and ``g`` is smaller, the original sets ``neighbor.g`` (not
      ``g_cost``: the bug), so only ``previous_node`` changes (``f`` is recomputed from the
      unchanged ``g_cost``); otherwise it gets ``g_cost = g`` and joins the open list;
    * ``h`` is the Euclidean distance to the end (the docstring says Manhattan).

    Args:
        s: the search state. walls: bool (49,). end: int32 cell.
        noise: int32 (4,) in 1..8, the ``integers(1, 9)`` draws of this iteration.
    """
    active = ~s.found & ~s.failed
    is_open = s.order < _BIG
    any_open = jnp.any(is_open)
    first = jnp.argmin(s.order)
    better = is_open & (s.f < s.f[first])
    winner = jnp.where(jnp.any(better), jnp.argmin(jnp.where(better, s.order, _BIG)), first)
    found = active & any_open & (winner == end)
    expand = active & any_open & ~found

    closed = s.closed.at[winner].set(s.closed[winner] | expand)
    order = s.order.at[winner].set(jnp.where(expand, _BIG, s.order[winner]))
    nb = jnp.asarray(_NEIGHBOURS)[winner]  # (4,)
    safe = jnp.maximum(nb, 0)
    valid = expand & (nb >= 0) & ~closed[safe] & ~walls[safe]
    g_new = s.g[winner] + noise
    nb_open = order[safe] < _BIG
    relink = valid & nb_open & (g_new < s.g[safe])
    add = valid & ~nb_open
    rank = jnp.cumsum(add) - add
    cx, cy = jnp.asarray(_CELL_X), jnp.asarray(_CELL_Y)
    d2 = (cx[safe] - cx[end]) ** 2 + (cy[safe] - cy[end]) ** 2
    h = jnp.sqrt(d2.astype(jnp.float32))
    drop_add = jnp.where(add, nb, CELLS)  # out of range: the scatter drops it
    drop_link = jnp.where(add | relink, nb, CELLS)
    return SearchState(
        g=s.g.at[drop_add].set(g_new, mode="drop"),
        f=s.f.at[drop_add].set(g_new.astype(jnp.float32) + h, mode="drop"),
        order=order.at[drop_add].set(s.counter + rank, mode="drop"),
        closed=closed,
        prev=s.prev.at[drop_link].set(winner.astype(jnp.int32), mode="drop"),
        counter=s.counter + jnp.sum(add),
        it=s.it + active,
        found=s.found | found,
        failed=s.failed | (active & ~any_open),
    )


@struct.dataclass
class Builder:
    """A path being generated: its ends, walls, noise and search (:func:`build`).

    Attributes:
        start, end: int32 (2,) tiles (x, y). walls: bool (49,) by cell ``x * 7 + y``.
        noise: uint32 (25,) the search's draws: 3 bits (draw minus 1) per neighbour, 12
            bits per iteration, two iterations per word.
        search: :class:`SearchState`.
    """

    start: jax.Array
    end: jax.Array
    walls: jax.Array
    noise: jax.Array
    search: SearchState

    @property
    def end_cell(self):
        return self.end[0] * GRID + self.end[1]


def build(bits, start, end) -> Builder:
    """Draw the walls and set up the search of a path from ``start`` to ``end`` (int32
    (2,) tiles), from ``bits``: uint32 (PATH_WORDS,) random words."""
    s, e = start[0] * GRID + start[1], end[0] * GRID + end[1]
    walls = walls_of(bits[:41], cell_bit(s), cell_bit(e))
    return Builder(start, end, cells_of_mask(walls), bits[41:], search_init(s))


def tick(b: Builder) -> Builder:
    """One search iteration (a no-op once the search is over)."""
    i = jnp.minimum(b.search.it, ASTAR_ITERATIONS - 1)
    word = b.noise[i // 2] >> (12 * (i % 2)).astype(jnp.uint32)
    fields = jnp.arange(4, dtype=jnp.uint32) * _NOISE_BITS
    noise = (((word >> fields) & 7) + 1).astype(jnp.int32)
    return b.replace(search=search_step(b.search, b.walls, b.end_cell, noise))


def running(b: Builder) -> jax.Array:
    """bool: the search ``b`` is not over (neither found nor failed, and within
    :data:`ASTAR_ITERATIONS`), so a :func:`tick` still changes it."""
    s = b.search
    return ~s.found & ~s.failed & (s.it < ASTAR_ITERATIONS)


def finish(b: Builder, needed) -> Builder:
    """Run the search to its end where ``needed`` (bool): a loop of as many iterations as
    the lane that needs most (none when no lane needs any)."""
    return jax.lax.while_loop(lambda b: needed & running(b), tick, b)


def path_mask(b: Builder):
    """The cell mask of a finished search's path (start and end included)."""
    path, _ = trace_path(b.search.prev, b.end_cell)
    on = jnp.zeros(CELLS + 1, bool).at[jnp.where(path >= 0, path, CELLS)].set(True)
    return mask_of_cells(on[:CELLS])


# ------------------------------------------------------------ public cell layout
def generate_walls(key: jax.Array, start, end) -> jax.Array:
    """The walls (:func:`walls_of`) for cells ``x * 7 + y``, as bool (49,)."""
    bits = jax.random.bits(key, (41,), jnp.uint32)
    return cells_of_mask(walls_of(bits, cell_bit(start), cell_bit(end)))


def generate_path(key: jax.Array, start, end):
    """A whole ``MysteryPath`` for cells ``x * 7 + y``: walls, search, trace.

    Returns:
        ``(walls, path, length, found)``: bool (49,), int32 (49,) cells from start to end
        padded with -1, int32 length, bool (False only if the search ran out of open
        cells, which the original raises as "No valid path found"; the wall rules make
        that impossible).
    """
    xy = lambda c: jnp.stack([c // GRID, c % GRID]).astype(jnp.int32)  # noqa: E731
    bits = jax.random.bits(key, (PATH_WORDS,), jnp.uint32)
    b = finish(build(bits, xy(start), xy(end)), True)
    path, length = trace_path(b.search.prev, end)
    return b.walls, path, length, b.search.found


def trace_path(prev: jax.Array, end: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Follow ``previous_node`` from ``end`` back to the start, without a sequential loop.

    List ranking by pointer doubling gives each cell's depth below the root of its
    ``prev`` chain; binary lifting from ``end`` tells which cells lie on end's chain.

    Args:
        prev: int32 (49,) previous cell of each cell ``x * 7 + y``, -1 for none.
        end: int32 cell.

    Returns:
        ``(path, length)``: int32 (49,) the path's cells from start (index 0) to end,
        padded with -1, and its int32 length in tiles.
    """
    depth = (prev >= 0).astype(jnp.int32)
    jump = prev
    lifts = [prev]
    for _ in range(6):  # 2**6 = 64 >= 49 links
        ok = jump >= 0
        safe = jnp.maximum(jump, 0)
        depth = depth + jnp.where(ok, depth[safe], 0)
        jump = jnp.where(ok, jump[safe], -1)
        lifts.append(jump)
    # lifts[j] = ancestor 2**j links up (lifts[0] = prev), for j = 0..5.
    up = depth[end] - depth  # (49,) links from end up to each cell's depth
    v = jnp.full(CELLS, end, jnp.int32)
    for j in range(6):
        step = (up >> j) & 1
        v = jnp.where((step == 1) & (v >= 0), lifts[j][jnp.maximum(v, 0)], v)
    on = (up >= 0) & (v == jnp.arange(CELLS))
    length = depth[end] + 1
    path = (
        jnp.full(CELLS, -1, jnp.int32)
        .at[jnp.where(on, depth, CELLS)]
        .set(jnp.arange(CELLS, dtype=jnp.int32), mode="drop")
    )
    return path, length
