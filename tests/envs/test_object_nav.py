"""ObjectNav-v0 against its rules (module docstring of ``engram.envs.object_nav``): NumPy
references of the breadth-first distances and of the visibility rule, the house's layout
rules checked cell by cell, a NumPy model of the moves replaying random walks for the
reward, scripted walks to a target for success and SPL, the trial structure, and the
functional-protocol properties (determinism, vmap = loop, spaces, bad input)."""

from __future__ import annotations

from collections import deque
from functools import cache

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engram
import engram.envs.object_nav as object_nav  # registers ObjectNav-v0
from engram.envs.object_nav import (
    DIRECTIONS,
    FLOOR,
    FORWARD,
    OBJECT,
    STOP,
    TURN_LEFT,
    TURN_RIGHT,
    UNREACHABLE,
    UNSEEN,
    WALL,
    Episode,
    Task,
)

SLACK, SUCCESS = -0.003, 2.0


@cache
def _env(**overrides):
    env, params = engram.make("ObjectNav-v0", **overrides)
    return env, params


@cache
def _compiled(symbolic: bool = False):
    """One compilation of each function per observation kind, shared by the tests."""
    env, params = _env(symbolic=symbolic)
    return {
        "tasks": jax.jit(jax.vmap(env.sample_task, in_axes=(0, None))),
        "reset_episode": jax.jit(env.reset_episode),
        "episode_step": jax.jit(env.episode_step),
        "reset": jax.jit(env.reset),
        "step": jax.jit(env.step),
        "view": jax.jit(env.view),
    }


def _tasks(seed: int, n: int, params=None):
    env, default = _env()
    keys = jax.random.split(jax.random.key(seed), n)
    batch = _compiled()["tasks"](keys, default if params is None else params)
    return [jax.tree.map(lambda x, i=i: x[i], batch) for i in range(n)]


def numpy_bfs(passable: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Plain breadth-first search with a queue."""
    dist = np.full(passable.shape, UNREACHABLE, np.int64)
    queue = deque()
    for r, c in zip(*np.nonzero(sources), strict=True):
        dist[r, c] = 0
        queue.append((r, c))
    while queue:
        r, c = queue.popleft()
        for dr, dc in DIRECTIONS:
            nr, nc = r + dr, c + dc
            inside = 0 <= nr < passable.shape[0] and 0 <= nc < passable.shape[1]
            if inside and passable[nr, nc] and dist[nr, nc] > dist[r, c] + 1:
                dist[nr, nc] = dist[r, c] + 1
                queue.append((nr, nc))
    return dist


def reference_visibility(clear: np.ndarray) -> np.ndarray:
    """The docstring's rule with explicit floods: in each row (from the agent's), every seeded
    floor cell floods its row left and right until an opaque cell (which is seen too); the
    seen floor cells seed the three cells ahead of them in the next row."""
    v = clear.shape[0]
    seen = np.zeros_like(clear)
    seeds = {v // 2}
    for r in range(v - 1, -1, -1):
        lit = set()
        for c in seeds:
            if not clear[r, c]:
                continue
            for step in (-1, 1):
                k = c
                while 0 <= k < v and clear[r, k]:
                    lit.add(k)
                    k += step
        row = set(seeds) | {k + d for k in lit for d in (-1, 0, 1) if 0 <= k + d < v}
        seen[r, sorted(row)] = True
        seeds = {k + d for k in lit for d in (-1, 0, 1) if 0 <= k + d < v}
    return seen


class Walker:
    """The moves written out: forward enters the cell ahead if it is floor, turns rotate."""

    def __init__(self, cells, position, heading):
        self.cells, self.pos, self.heading = cells, tuple(int(x) for x in position), heading
        self.path = 0

    def act(self, action):
        if action == FORWARD:
            dr, dc = DIRECTIONS[self.heading]
            ahead = (self.pos[0] + dr, self.pos[1] + dc)
            if self.cells[ahead] == FLOOR:
                self.pos = ahead
                self.path += 1
        elif action == TURN_LEFT:
            self.heading = (self.heading + 3) % 4
        elif action == TURN_RIGHT:
            self.heading = (self.heading + 1) % 4

    def face(self, direction):
        """The turns that make ``direction`` the heading."""
        turns = {0: [], 1: [TURN_RIGHT], 2: [TURN_RIGHT, TURN_RIGHT], 3: [TURN_LEFT]}
        return turns[(direction - self.heading) % 4]


def _run(task, episode, actions, params):
    """Step ``actions`` through the episode; returns the per-step outputs."""
    step = _compiled()["episode_step"]
    out = []
    for a in actions:
        obs, episode, reward, term, info = step(None, task, episode, jnp.int32(a), params)
        out.append((episode, float(reward), bool(term), jax.device_get(info)))
    return out


# ------------------------------------------------------------------ distances


@settings(max_examples=15, deadline=None)
@given(
    bits=st.lists(st.booleans(), min_size=9 * 11, max_size=9 * 11),
    src=st.lists(st.integers(0, 9 * 11 - 1), min_size=1, max_size=3),
)
def test_breadth_first_distances_match_a_queue_bfs(bits, src):
    passable = np.asarray(bits).reshape(9, 11)
    sources = np.zeros((2, 9, 11), bool)
    sources[0].flat[src] = True
    sources[1].flat[src[0]] = True
    got = np.asarray(_bfs()(jnp.asarray(passable), jnp.asarray(sources)))
    for k in range(2):
        np.testing.assert_array_equal(got[k], numpy_bfs(passable, sources[k]))


@cache
def _bfs():
    return jax.jit(object_nav.breadth_first_distances)


def test_distance_fields_match_a_queue_bfs_on_random_houses():
    env, _ = _env()
    for task in _tasks(0, 12):
        cells = np.asarray(task.cells)
        for k in range(env.num_categories):
            ref = numpy_bfs(cells == FLOOR, cells == OBJECT + k)
            np.testing.assert_array_equal(np.asarray(task.distance[k]), ref)
        free = cells == FLOOR
        # Connected houses: every free cell reaches every category.
        assert bool(task.connected)
        assert (np.asarray(task.distance)[:, free] < UNREACHABLE).all()


# ------------------------------------------------------------------ layout


def _room_of(cell, s):
    return (cell[0] - 1) // s, (cell[1] - 1) // s


def test_houses_follow_the_layout_rules():
    env, _ = _env()
    side, s = env.side, env.room_size + 1
    assert side == 16
    lines = (np.arange(side) % s == 0)[:, None] | (np.arange(side) % s == 0)[None, :]
    for task in _tasks(1, 24):
        cells = np.asarray(task.cells)
        assert cells.shape == (side, side)
        edge = np.zeros((side, side), bool)
        edge[[0, -1], :] = edge[:, [0, -1]] = True
        assert (cells[edge] == WALL).all()
        # Room cells are never walls; wall lines are walls except for the doorways.
        assert (cells[~lines] != WALL).all()
        doorways = [tuple(x) for x in np.argwhere(lines & (cells != WALL))]
        assert len(doorways) == int(np.asarray(task.doors).sum())
        rooms_joined = set()
        for r, c in doorways:
            if r % s == 0:  # a door in a horizontal wall: rooms above and below
                a, b = _room_of((r - 1, c), s), _room_of((r + 1, c), s)
                assert cells[r, c - 1] == WALL and cells[r, c + 1] == WALL
            else:
                a, b = _room_of((r, c - 1), s), _room_of((r, c + 1), s)
                assert cells[r - 1, c] == WALL and cells[r + 1, c] == WALL
            rooms_joined.add((a, b))
        assert len(rooms_joined) == len(doorways)  # one door per joined pair at most
        # Every room reachable from every other (objects aside), via a spanning tree or more.
        assert len(doorways) >= env.rooms**2 - 1
        through = numpy_bfs(cells != WALL, np.eye(1, side * side, side + 1, bool).reshape(side, -1))
        assert (through[cells != WALL] < UNREACHABLE).all()
        # Objects: distinct, the right count per category, on room cells away from doorways.
        objects = np.asarray(task.objects)
        assert len({tuple(o) for o in objects}) == env.num_objects
        for n, (r, c) in enumerate(objects):
            assert cells[r, c] == OBJECT + n // env.objects_per_category
            assert not lines[r, c]
            for dr, dc in DIRECTIONS:
                assert (r + dr, c + dc) not in doorways
        counts = np.bincount(cells[cells >= OBJECT] - OBJECT, minlength=env.num_categories)
        np.testing.assert_array_equal(counts, [env.objects_per_category] * env.num_categories)
        # The free cells are one component.
        free = cells == FLOOR
        start = np.zeros_like(free)
        start[tuple(np.argwhere(free)[0])] = True
        assert (numpy_bfs(free, start)[free] < UNREACHABLE).all()


def test_extra_door_probability_zero_gives_a_tree_and_one_every_door():
    env, params = _env()
    pairs = 2 * env.rooms * (env.rooms - 1)
    tree = params.replace(extra_door_probability=jnp.float32(0.0))
    full = params.replace(extra_door_probability=jnp.float32(1.0))
    for task in _tasks(2, 6, tree):
        assert int(np.asarray(task.doors).sum()) == env.rooms**2 - 1
    for task in _tasks(2, 6, full):
        assert int(np.asarray(task.doors).sum()) == pairs


# ------------------------------------------------------------------ trials


def test_the_house_stays_for_a_trial_and_changes_between_trials():
    env, params = _env()
    fns = _compiled()
    obs, state = fns["reset"](jax.random.key(3), params)
    first = state.task
    targets, spawns, indices = set(), set(), []
    keys = jax.random.split(jax.random.key(4), 40)
    for i in range(40):
        action = STOP if i % 2 else FORWARD
        obs, state, _, _, trunc, info = fns["step"](keys[i], state, jnp.int32(action), params)
        assert not bool(trunc)
        assert bool(info["episode_terminated"]) == (action == STOP)
        indices.append(int(state.episode_index))
        targets.add(int(state.episode.target))
        spawns.add(tuple(np.asarray(state.episode.position)))
        for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(state.task), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert indices[-1] == 20 and len(targets) > 1 and len(spawns) > 5
    _, other = fns["reset"](jax.random.key(5), params)
    assert not np.array_equal(np.asarray(other.task.cells), np.asarray(first.cells))


def test_episodes_are_truncated_at_episode_length_and_the_trial_at_trial_length():
    env, params = _env()
    fns = _compiled()
    short = params.replace(episode_length=jnp.int32(5), trial_length=jnp.int32(12))
    _, state = fns["reset"](jax.random.key(6), short)
    ends, truncs = [], []
    for i in range(12):
        _, state, _, _, trunc, info = fns["step"](jax.random.key(i), state, TURN_LEFT, short)
        ends.append(bool(info["episode_truncated"]))
        truncs.append(bool(trunc))
    assert [i + 1 for i, e in enumerate(ends) if e] == [5, 10, 12]
    assert truncs == [False] * 11 + [True]


# ------------------------------------------------------------------ rewards and moves


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    actions=st.lists(
        st.sampled_from([FORWARD, FORWARD, TURN_LEFT, TURN_RIGHT]), min_size=25, max_size=25
    ),
)
def test_random_walks_move_and_pay_by_the_distance_field(seed, actions):
    env, params = _env()
    (task,) = _tasks(seed, 1)
    _, episode = _compiled()["reset_episode"](jax.random.key(seed + 1), task, params)
    cells = np.asarray(task.cells)
    field = np.asarray(task.distance[int(episode.target)])
    walker = Walker(cells, episode.position, int(episode.heading))
    assert cells[walker.pos] == FLOOR and field[walker.pos] < UNREACHABLE
    for a, (ep, reward, term, info) in zip(
        actions, _run(task, episode, actions, params), strict=True
    ):
        before = field[walker.pos]
        walker.act(a)
        assert tuple(np.asarray(ep.position)) == walker.pos
        assert int(ep.heading) == walker.heading and int(ep.path) == walker.path
        assert reward == pytest.approx(SLACK + before - field[walker.pos], abs=1e-6)
        assert not term and not bool(info["success"])


def _greedy(walker, field):
    """Actions down the distance field to a cell next to a target (first downhill neighbour
    in DIRECTIONS order each time)."""
    actions = []
    while field[walker.pos] > 1:
        downhill = [
            d
            for d, (dr, dc) in enumerate(DIRECTIONS)
            if walker.cells[walker.pos[0] + dr, walker.pos[1] + dc] == FLOOR
            and field[walker.pos[0] + dr, walker.pos[1] + dc] == field[walker.pos] - 1
        ]
        for a in walker.face(downhill[0]) + [FORWARD]:
            walker.act(a)
            actions.append(a)
    return actions


def _target_sides(walker, target):
    """Directions from the walker's cell to an adjacent instance of ``target``."""
    return [
        d
        for d, (dr, dc) in enumerate(DIRECTIONS)
        if walker.cells[walker.pos[0] + dr, walker.pos[1] + dc] == OBJECT + target
    ]


@pytest.mark.parametrize("detour", [False, True])
def test_a_scripted_walk_to_the_target_succeeds_with_the_hand_computed_spl(detour):
    env, params = _env()
    done = 0
    for seed in range(10, 22):
        (task,) = _tasks(seed, 1)
        _, episode = _compiled()["reset_episode"](jax.random.key(seed), task, params)
        cells = np.asarray(task.cells)
        target = int(episode.target)
        field = np.asarray(task.distance[target])
        walker = Walker(cells, episode.position, int(episode.heading))
        optimal = int(field[walker.pos]) - 1
        assert int(episode.optimal) == optimal
        actions = []
        if detour:
            if optimal == 0:
                continue
            # Bump into something (no move), then one cell away and back: L = L* + 2.
            blocked = [
                d
                for d, (dr, dc) in enumerate(DIRECTIONS)
                if cells[walker.pos[0] + dr, walker.pos[1] + dc] != FLOOR
            ]
            open_ = [d for d in range(4) if d not in blocked]
            for a in (walker.face(blocked[0]) + [FORWARD]) if blocked else []:
                walker.act(a)
                actions.append(a)
            for a in walker.face(open_[0]) + [FORWARD, TURN_RIGHT, TURN_RIGHT, FORWARD]:
                walker.act(a)
                actions.append(a)
        actions += _greedy(walker, field)
        actions += walker.face(_target_sides(walker, target)[0]) + [STOP]
        out = _run(task, episode, actions, params)
        assert [t for _, _, t, _ in out] == [False] * (len(actions) - 1) + [True]
        _, reward, _, info = out[-1]
        assert reward == pytest.approx(SLACK + SUCCESS, abs=1e-6)
        assert bool(info["success"])
        path = optimal + 2 if detour else optimal
        expected = 1.0 if path == 0 else optimal / max(path, optimal)
        assert float(info["spl"]) == pytest.approx(expected, abs=1e-6)
        total = sum(r for _, r, _, _ in out)
        assert total == pytest.approx(len(actions) * SLACK + optimal + SUCCESS, abs=1e-4)
        done += 1
    assert done >= 6


def test_stopping_next_to_a_target_behind_the_agent_is_no_success():
    env, params = _env()
    checked = 0
    for seed in range(30, 50):
        (task,) = _tasks(seed, 1)
        _, episode = _compiled()["reset_episode"](jax.random.key(seed), task, params)
        target = int(episode.target)
        walker = Walker(np.asarray(task.cells), episode.position, int(episode.heading))
        actions = _greedy(walker, np.asarray(task.distance[target]))
        sides = _target_sides(walker, target)
        # Face away from a target with no other target ahead or beside.
        away = [(d + 2) % 4 for d in sides if len(sides) == 1]
        if not away:
            continue
        actions += walker.face(away[0]) + [STOP]
        out = _run(task, episode, actions, params)
        _, reward, term, info = out[-1]
        assert term and not bool(info["success"]) and float(info["spl"]) == 0.0
        assert reward == pytest.approx(SLACK, abs=1e-6)
        # The same spot facing the target succeeds.
        again = actions[:-1] + [TURN_RIGHT, TURN_RIGHT, STOP]
        assert bool(_run(task, episode, again, params)[-1][3]["success"])
        checked += 1
    assert checked >= 5


# ------------------------------------------------------------------ view


@settings(max_examples=25, deadline=None)
@given(bits=st.lists(st.booleans(), min_size=49, max_size=49))
def test_visibility_follows_the_row_by_row_rule(bits):
    env, _ = _env()
    clear = np.asarray(bits).reshape(7, 7)
    clear[6, 3] = True  # the agent stands on floor
    got = np.asarray(_visibility()(jnp.asarray(clear)))
    np.testing.assert_array_equal(got, reference_visibility(clear))


@cache
def _visibility():
    return jax.jit(_env()[0]._visibility)


def _hand_built(cells):
    env, _ = _env()
    k, side = env.num_categories, env.side
    return Task(
        cells=jnp.asarray(cells, jnp.int32),
        objects=jnp.zeros((env.num_objects, 2), jnp.int32),
        distance=jnp.zeros((k, side, side), jnp.int32),
        doors=jnp.zeros((2 * env.rooms * (env.rooms - 1),), bool),
        connected=jnp.bool_(True),
    )


def test_cells_behind_a_wall_are_unseen_and_a_doorway_lets_the_view_through():
    side = 16
    cells = np.full((side, side), FLOOR)
    cells[[0, -1], :] = cells[:, [0, -1]] = WALL
    cells[5, 3:12] = WALL
    cells[4, 7] = OBJECT + 2  # behind the wall
    episode = Episode(
        position=jnp.asarray([8, 7], jnp.int32),
        heading=jnp.int32(0),  # north: view row r is 6 - r cells ahead, columns 4 .. 10
        target=jnp.int32(2),
        optimal=jnp.int32(0),
        path=jnp.int32(0),
    )
    view = _compiled()["view"]
    classes, world = (np.asarray(x) for x in view(_hand_built(cells), episode))
    np.testing.assert_array_equal(world[6, 3], [8, 7])
    np.testing.assert_array_equal(world[0, 0], [2, 4])
    assert (classes[4:] == FLOOR).all() and (classes[3] == WALL).all()
    assert (classes[:3] == UNSEEN).all()
    # A doorway straight ahead: the row behind it is seen along its floor (the object too);
    # a second wall behind that row hides what lies further on again.
    cells[5, 7] = FLOOR
    classes, _ = (np.asarray(x) for x in view(_hand_built(cells), episode))
    assert classes[3, 3] == FLOOR and (classes[3, [0, 1, 2, 4, 5, 6]] == WALL).all()
    assert classes[2, 3] == OBJECT + 2 and (classes[2, [0, 1, 2, 4, 5, 6]] == FLOOR).all()
    assert (classes[1] == FLOOR).all() and (classes[0] == FLOOR).all()
    cells[3, 3:12] = WALL
    classes, _ = (np.asarray(x) for x in view(_hand_built(cells), episode))
    assert (classes[1] == WALL).all() and (classes[0] == UNSEEN).all()
    # Turned east (right = south), the view runs along the wall: columns 7 .. 13 ahead.
    east = episode.replace(heading=jnp.int32(1))
    classes, world = (np.asarray(x) for x in view(_hand_built(cells), east))
    np.testing.assert_array_equal(world[6, 0], [5, 7])  # three cells to the agent's left
    np.testing.assert_array_equal(world[0, 3], [8, 13])
    assert classes[0, 3] == FLOOR and classes[6, 0] == FLOOR  # the doorway


def test_pixels_and_symbols_draw_the_same_view():
    env, params = _env()
    sym_env, sym_params = _env(symbolic=True)
    key = jax.random.key(7)
    obs, state = _compiled()["reset"](key, params)
    sym, sym_state = _compiled(True)["reset"](key, sym_params)
    np.testing.assert_array_equal(np.asarray(state.task.cells), np.asarray(sym_state.task.cells))
    assert env.observation_space.contains(jax.device_get(obs))
    assert sym_env.observation_space.contains(np.asarray(sym))
    picture = np.asarray(obs["visual_observation"])
    assert picture.shape == (84, 84, 3) and picture.dtype == np.uint8
    assert sym.shape == sym_env.observation_space.shape and sym.dtype == np.float32
    assert obs["vector_observation"].dtype == np.float32
    classes, _ = (np.asarray(x) for x in _compiled()["view"](state.task, state.episode))
    k, v, px = env.num_categories, env.view_size, env.cell_px
    cells = np.asarray(sym)[: v * v * (OBJECT + k)].reshape(v, v, OBJECT + k)
    assert (cells.sum(-1) == 1).all()
    np.testing.assert_array_equal(cells.argmax(-1), classes)
    target = np.eye(k)[int(state.episode.target)]
    np.testing.assert_array_equal(
        np.asarray(sym)[v * v * (OBJECT + k) : v * v * (OBJECT + k) + k], target
    )
    np.testing.assert_array_equal(np.asarray(obs["vector_observation"])[:k], target)
    palette = np.asarray(env._palette)
    corners = picture[::px, ::px]  # a cell's top-left pixel: the triangle never reaches it
    np.testing.assert_array_equal(corners, palette[classes])
    agent = picture[(v - 1) * px : v * px, (v // 2) * px : (v // 2 + 1) * px]
    assert (agent == 255).all(-1).any()


def test_episode_frame_shape_and_colours():
    env, params = _env()
    _, state = _compiled()["reset"](jax.random.key(8), params)
    frame = np.asarray(jax.jit(env.frame)(state, params))
    c = object_nav.FRAME_CELL
    assert frame.shape == (env.side * c, env.side * c, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame[0, 0], object_nav.WALL_RGB)
    r, col = np.asarray(state.task.objects[0])
    np.testing.assert_array_equal(
        frame[r * c + c // 2, col * c + c // 2], object_nav.CATEGORY_RGB[0]
    )
    pr, pc = np.asarray(state.episode.position)
    assert (frame[pr * c : (pr + 1) * c, pc * c : (pc + 1) * c] == 255).all(-1).any()


# ------------------------------------------------------------------ protocol


def test_spaces_and_info_keys():
    env, params = _env()
    assert env.action_space.n == 4 and env.info_at_end == ("success", "spl")
    assert env.episode_cap({"trial_length": 4096, "episode_length": 200}) == 4096
    assert int(params.episode_length) == 200 and int(params.trial_length) == 4096
    sym_env, _ = _env(symbolic=True)
    assert sym_env.observation_space.shape == (49 * 7 + 4 + 4 + 4,)
    assert env.observation_space.spaces["vector_observation"].shape == (4 + 4 + 4,)


@pytest.mark.parametrize(
    "overrides, name",
    [
        ({"view_size": 5}, "view_size"),
        ({"view_size": 8}, "view_size"),
        ({"room_size": 1}, "room_size"),
        ({"trial_length": 100}, "trial_length"),
        ({"objects_per_category": 31}, "objects_per_category"),
        ({"rooms": 3, "room_size": 2}, "objects_per_category"),
        ({"num_categories": 9}, "num_categories"),
    ],
)
def test_bad_reset_parameters_name_the_parameter(overrides, name):
    with pytest.raises(ValueError, match=name):
        engram.make("ObjectNav-v0", **overrides)
