"""Mortar Mayhem's rules: finite, grid, "B" (Act) and endless variants (the pictures are
:mod:`engram.envs.mortar_mayhem.render`).

Rules, timings, rewards and pictures follow Memory Gym 1.0.2
(``memory_gym/mortar_mayhem*.py``, ``endless_mortar_mayhem.py``), checked against
recordings of it. The five registered ids are
one :class:`MortarMayhem` class configured by :class:`Variant`:

=========================== ====== ===== ========
id                          grid   act   endless
=========================== ====== ===== ========
``MortarMayhem-v0``
``MortarMayhem-Grid-v0``    yes
``MortarMayhemB-v0``               yes
``MortarMayhemB-Grid-v0``   yes    yes
``Endless-MortarMayhem-v0``              yes
=========================== ====== ===== ========

The episode (defaults of ``MortarMayhem-v0``): the agent is frozen while 10 commands are
shown one by one (3 frames each plus 1 blank frame, 40 frames; the reset observation is
already frame 0). Then, every 18 + 6 steps, the agent must stand on the tile that the
next command leads to from the previous target when all other tiles turn red (the
check), and stay there while they are red (6 steps). A perfect episode lasts 274 steps.

Commands are pre-sampled at reset into a fixed-size buffer (``State.commands``); the
endless variant's "append one command" just makes the next buffered command active,
which has the same distribution as sampling it then (i.i.d. uniform) and lets a recorded
episode be replayed by filling the buffer (:meth:`MortarMayhem.reset_to`).
"""

from __future__ import annotations

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
from engram.core.spaces import Box, Dict, Discrete, MultiDiscrete
from engram.core.words import RandomWords
from engram.envs.mortar_mayhem.geometry import SCREEN, TILE, arena_left
from engram.envs.mortar_mayhem.render import B_MAX_COMMANDS, Picture, command_vector

#: ``Command.COMMANDS`` of the original, in its order: name -> (dx, dy) in tiles.
COMMANDS: tuple[tuple[str, tuple[int, int]], ...] = (
    ("right", (1, 0)),
    ("down", (0, 1)),
    ("left", (-1, 0)),
    ("up", (0, -1)),
    ("stay", (0, 0)),
    ("right_down", (1, 1)),
    ("right_up", (1, -1)),
    ("left_down", (-1, 1)),
    ("left_up", (-1, -1)),
)
COMMAND_NAMES = tuple(name for name, _ in COMMANDS)
_DELTAS = np.array([d for _, d in COMMANDS], dtype=np.int32)  # (9, 2)


@dataclass(frozen=True)
class Variant:
    """Static configuration of one Mortar Mayhem id (fixes shapes and code paths).

    Attributes:
        grid: grid locomotion (``Discrete(4)``: no-op, rotate left, rotate right, forward).
        act: the "B" / Act variant: no command display, the sequence is a one-hot vector.
        endless: the growing-sequence torus variant (6×6 arena, no success).
        max_commands: size of the command buffer. Finite: ``max(command_count)``.
            Endless: the longest sequence an episode can reach; an episode that would grow
            past it is truncated (round ``n`` costs ``4 + 24 n`` steps with the defaults, so
            128 commands take about 200k steps).
        agent_scale: the original's ``agent_scale`` (sprite size), static because it
            changes the sprite's shape.
    """

    grid: bool = False
    act: bool = False
    endless: bool = False
    max_commands: int = 10
    agent_scale: float = 0.25


@struct.dataclass
class State:
    """Episode state. Names follow the original's attributes where one exists.

    Attributes:
        pos: int32 (2,) agent centre in px (x, y) (``agent.rect.center``).
        rotation: int32 degrees, a multiple of 45 (``agent.rotation``).
        commands: int32 (max_commands,) command indices into :data:`COMMANDS`.
        num_commands: int32, active length of ``commands`` (``num_commands``).
        current: int32 (``_current_command``).
        command_steps: int32 (``_command_steps``).
        verify_step: int32 (``_command_verify_step``).
        tiles_on: bool, the check is running (``arena.tiles_on``).
        target: int32 (2,) target tile (``_target_pos``).
        vis_index, vis_len, vis_first: the command display: frame ``vis_index`` of
            ``vis_len`` is shown next; frame ``f`` shows command ``vis_first + f // (d + g)``
            if ``f % (d + g) < d`` (``d`` show duration, ``g`` delay), else nothing.
        show_duration, show_delay, explosion_duration, explosion_delay: int32, sampled
            once per episode.
        t: int32 steps taken. episode_return: the sum of rewards as a double-float
            (the original's float64 ``sum(episode_rewards)``).
        commands_completed: int32 total successful checks (endless info).
        sprite_rotation, sprite_pos: the pose the display frames draw the agent with.
            Finite variants draw the agent at rotation 0; the endless variant keeps the
            pose of the last movement step, across resets (the original's stale-sprite
            quirk, see :meth:`MortarMayhem.carry_over`).
        symbol, frame_rotation, frame_pos: what the current frame shows (the observation
            is a function of the state alone, :meth:`MortarMayhem.observe`): the command
            symbol (0..8, 9 none) and the agent's drawn rotation and centre.
    """

    pos: jax.Array
    rotation: jax.Array
    commands: jax.Array
    num_commands: jax.Array
    current: jax.Array
    command_steps: jax.Array
    verify_step: jax.Array
    tiles_on: jax.Array
    target: jax.Array
    vis_index: jax.Array
    vis_len: jax.Array
    vis_first: jax.Array
    show_duration: jax.Array
    show_delay: jax.Array
    explosion_duration: jax.Array
    explosion_delay: jax.Array
    t: jax.Array
    episode_return: jax.Array
    commands_completed: jax.Array
    sprite_rotation: jax.Array
    sprite_pos: jax.Array
    symbol: jax.Array
    frame_rotation: jax.Array
    frame_pos: jax.Array


def _finite_parameters(variant: Variant) -> tuple[ResetParameter, ...]:
    grid, act = variant.grid, variant.act
    max_count = B_MAX_COMMANDS if act else None
    scale_doc = "unused (the original ignores it)" if grid else "sprite scale"
    p = [ResetParameter("agent_scale", 0.25, "float", 0.05, 1.0, scale_doc, static=True)]
    if not grid:
        p.append(ResetParameter("agent_speed", 3.0, "float", 0.0, 84.0, "px per step"))
    p += [
        ResetParameter("arena_size", 5, "int", 2, 6, "tiles per side"),
        ResetParameter("allowed_commands", 5 if grid else 9, "int", 4, 9, "first k commands"),
        ResetParameter("command_count", [10], "int_list", 1, max_count, "sequence lengths"),
    ]
    if not act:
        p += [
            ResetParameter("command_show_duration", [3], "int_list", 0, None, "frames/cmd"),
            ResetParameter("command_show_delay", [1], "int_list", 0, None, "blank frames"),
        ]
    p += [
        ResetParameter("explosion_duration", [2] if grid else [6], "int_list", 1, None, ""),
        ResetParameter("explosion_delay", [6] if grid else [18], "int_list", 1, None, ""),
        ResetParameter("visual_feedback", True, "bool"),
        ResetParameter("reward_command_failure", 0.0, "float", double=True),
        ResetParameter("reward_command_success", 0.1, "float", double=True),
        ResetParameter("reward_episode_success", 0.0, "float", double=True),
    ]
    return tuple(p)


ENDLESS_PARAMETERS: tuple[ResetParameter, ...] = (
    ResetParameter("max_steps", -1, "int", -1, None, "time limit, -1 = none"),
    ResetParameter("agent_scale", 0.25, "float", 0.05, 1.0, "sprite scale", static=True),
    ResetParameter("agent_speed", 3.0, "float", 0.0, 84.0, "px per step"),
    ResetParameter("allowed_commands", 9, "int", 4, 9, "first k commands"),
    ResetParameter("initial_command_count", 1, "int", 1, None, "first round's length"),
    ResetParameter("command_show_duration", [3], "int_list", 0, None, "frames/cmd"),
    ResetParameter("command_show_delay", [1], "int_list", 0, None, "blank frames"),
    ResetParameter("explosion_duration", [6], "int_list", 1, None, ""),
    ResetParameter("explosion_delay", [18], "int_list", 1, None, ""),
    ResetParameter("visual_feedback", True, "bool"),
    ResetParameter("reward_command_failure", 0.0, "float", double=True),
    ResetParameter("reward_command_success", 0.1, "float", double=True),
)


def _choice(words: RandomWords, options: jax.Array) -> jax.Array:
    """Uniform choice from a 1-D int array (the original's ``np_random.choice(list)``),
    two random words."""
    return options[words.integers((), 0, options.shape[0])]


class MortarMayhem(Environment):
    """Every Mortar Mayhem id; see the module docstring and :class:`Variant`.

    Observation: uint8 (84, 84, 3) in standard image layout (row = y); the original
    returns (x, y, c). The Act variants return ``{"visual_observation": that image,
    "vector_observation": float32 (180,)}``, a one-hot of up to 20 commands × 9.
    Action: int32 (2,) in MultiDiscrete([3, 3]) (horizontal: none/left/right, vertical:
    none/up/down), or an int32 scalar in Discrete(4) for the grid variants.
    """

    observes_state = True

    def __init__(self, env_id: str, variant: Variant):
        self.env_id = env_id
        self.variant = variant
        self.reset_parameters = (
            ENDLESS_PARAMETERS if variant.endless else _finite_parameters(variant)
        )
        image = Box(0, 255, (SCREEN, SCREEN, 3), np.uint8)
        if variant.act:
            vector = Box(0.0, 1.0, (B_MAX_COMMANDS * 9,), np.float32)
            self.observation_space = Dict(
                {"visual_observation": image, "vector_observation": vector}
            )
        else:
            self.observation_space = image
        self.action_space = Discrete(4) if variant.grid else MultiDiscrete((3, 3))
        # render_fps of the original (metadata): 6 for MM-Grid, 1 for MMB-Grid, else 25.
        self.render_fps = (1 if variant.act else 6) if variant.grid else 25
        self._picture = Picture(variant.agent_scale)
        self._radius = character_radius(variant.agent_scale)
        if variant.endless:
            self.info_every_step = ("ground_truth",)
            self.info_at_end = (
                "reward",
                "length",
                "commands_completed",
                "max_command_sequence",
                "ground_truth",
            )
        else:
            self.info_at_end = ("reward", "length", "success", "commands_completed")

    @property
    def static_key(self) -> tuple:
        return ("MortarMayhem", self.env_id, self.variant)

    # ------------------------------------------------------------------ params
    def episode_cap(self, rp: dict) -> int | None:
        """The original's ``calc_max_episode_steps`` (275 with the defaults, 119 on the grid,
        79 on B-Grid, a perfect episode being one step shorter): the display phase plus, per
        command, the move and check phases, minus the last check's tail. Endless: the base
        class's (``max_steps``, or ``None`` when it is -1)."""
        if self.variant.endless:
            return super().episode_cap(rp)
        n = max(rp["command_count"])
        show = 0
        if not self.variant.act:  # the B variants show nothing (the original passes 0, 0)
            show = max(rp["command_show_duration"]) + max(rp["command_show_delay"])
        move, check = max(rp["explosion_delay"]), max(rp["explosion_duration"])
        return show * n + (move + check) * n - check + 1

    def make_params(self, rp: dict) -> Params:
        """The :class:`~engram.core.params.Params` of a complete, validated reset-parameter
        dict.

        Raises:
            ValueError: if ``command_count`` (or ``initial_command_count``) exceeds the
                static buffer ``Variant.max_commands``, or both ``command_show_duration``
                and ``command_show_delay`` allow 0 (the original crashes on that draw).
        """
        v = self.variant
        if 0 in rp.get("command_show_duration", ()) and 0 in rp.get("command_show_delay", ()):
            raise ValueError(
                "reset parameters 'command_show_duration' and 'command_show_delay': both "
                f"allow 0 ({rp['command_show_duration']!r}, {rp['command_show_delay']!r}); an "
                "episode that draws both shows no frame, on which the original crashes "
                "(IndexError in reset()). Remove 0 from one of them"
            )
        counts = (rp["initial_command_count"],) if v.endless else rp["command_count"]
        if max(counts) > v.max_commands:
            name = "initial_command_count" if v.endless else "command_count"
            raise ValueError(
                f"reset parameter {name!r}: got {rp.get(name)!r}, but this environment was "
                f"built for at most {v.max_commands} commands; pass the value to make()"
            )
        # What a variant without a parameter uses in its place: the B variants draw a
        # display timing they never show (one frame per command, no gap: the draws keep
        # the original's random stream), the finite ids have no time limit, the endless
        # arena is 6x6 and its success reward 0.
        i32 = lambda x: jnp.asarray(x, jnp.int32)  # noqa: E731
        absent = {
            "command_show_duration": i32((1,)),
            "command_show_delay": i32((0,)),
            "max_steps": i32(-1),
            "arena_size": i32(6),
            "reward_episode_success": dfloat.of(0.0),
        }
        absent = {k: a for k, a in absent.items() if k not in rp}
        return to_params(self.reset_parameters, rp, command_count=i32(counts), **absent)

    # ------------------------------------------------------------ geometry
    @staticmethod
    def _arena_left(params: Params) -> jax.Array:
        return arena_left(params.arena_size)

    def _tile_of(self, pos: jax.Array, params: Params) -> jax.Array:
        """Tile under an agent centre: ``(pos - arena.left) // 14`` (floor, like Python)."""
        return jnp.floor_divide(pos - self._arena_left(params), TILE)

    def _tile_center(self, tile: jax.Array, params: Params) -> jax.Array:
        return self._arena_left(params) + TILE // 2 + TILE * tile

    # ----------------------------------------------------------------- reset
    def _sample_commands(self, words: RandomWords, spawn_tile, params: Params) -> jax.Array:
        """Sample the whole command buffer (``Variant.max_commands``) from ``words``.

        Finite variants: each command is uniform over the first ``allowed_commands`` whose
        target stays inside the arena from the simulated position (``_get_valid_commands``),
        so the sequence is always executable: one uniform float ``u`` per command (one
        word) picks the ``int(u * count)``-th valid one (cheaper than a categorical draw,
        which costs a random number per option). Endless: uniform over the first
        ``allowed_commands`` (two words each), no filtering (the torus makes every
        command valid).
        """
        n = self.variant.max_commands
        if self.variant.endless:
            return words.integers((n,), 0, params.allowed_commands)
        u = words.floats((n,), 0.0, 1.0)
        # Written as straight-line scalar code (the 9 options' validity, their running
        # count, the pick-th valid one) rather than a scan with cumsum and argmax: under
        # vmap XLA fuses it into a few kernels, where the scan ran several small kernels
        # per command (about 1.3 of the 2.3 microseconds of a reset at batch 64).
        x, y = spawn_tile[0], spawn_tile[1]
        deltas = _DELTAS.tolist()
        commands = []
        for k in range(n):
            valid = [
                (j < params.allowed_commands)
                & (x + dx >= 0)
                & (x + dx < params.arena_size)
                & (y + dy >= 0)
                & (y + dy < params.arena_size)
                for j, (dx, dy) in enumerate(deltas)
            ]
            count = sum(v.astype(jnp.int32) for v in valid)
            pick = jnp.minimum((u[k] * count).astype(jnp.int32), count - 1)
            seen, cmd, step_x, step_y = (jnp.int32(0),) * 4
            for j, (dx, dy) in enumerate(deltas):
                hit = valid[j] & (seen == pick)
                cmd = jnp.where(hit, j, cmd)
                step_x, step_y = jnp.where(hit, dx, step_x), jnp.where(hit, dy, step_y)
                seen = seen + valid[j].astype(jnp.int32)
            x, y = x + step_x, y + step_y
            commands.append(cmd)
        return jnp.stack(commands)

    def init_state(self, key: jax.Array, params: Params) -> State:
        """Start an episode with the original's sampling rules.

        Spawn: a uniform tile, the agent at its centre (plus a uniform offset in
        {-2, -1, 0, 1} px per axis in ``MortarMayhemB-v0`` and the endless variant).
        Then the command count (``choice(command_count)``), the commands, the show
        duration and delay, and the explosion duration and delay.

        Returns:
            the episode's first state (:meth:`reset` adds its observation).
        """
        v = self.variant
        offset_drawn = (v.act and not v.grid) or v.endless
        # All of the reset's randomness from one draw (engram.core.words): on CPU each
        # jax.random call has a fixed cost, and a batched rollout resets at every step.
        count = 2 + 2 * offset_drawn + v.max_commands * (2 if v.endless else 1) + 5 * 2
        words = RandomWords(jax.random.bits(key, (count,), jnp.uint32))
        size = params.arena_size
        flat = words.integers((), 0, size * size)
        tile = jnp.stack([flat // size, flat % size]).astype(jnp.int32)
        offset = jnp.zeros(2, jnp.int32)
        if offset_drawn:  # uniform in {-2, -1, 0, 1}
            offset = words.low_bits((2,), 2) - 2
        pos = self._tile_center(tile, params) + offset
        commands = self._sample_commands(words, self._tile_of(pos, params), params)
        state = self.start_state(
            params,
            pos=pos,
            commands=commands,
            num_commands=_choice(words, params.command_count),
            show_duration=_choice(words, params.command_show_duration),
            show_delay=_choice(words, params.command_show_delay),
            explosion_duration=_choice(words, params.explosion_duration),
            explosion_delay=_choice(words, params.explosion_delay),
        )
        words.check_used()
        return state

    def reset_to(self, params: Params, **values):
        """Start an episode from explicit values, e.g. to replay a recorded episode; the
        arguments are those of :meth:`start_state`. Returns ``(obs, state)`` exactly as
        :meth:`reset` would give them for these values."""
        state = self.start_state(params, **values)
        return self.observe(state, params), state

    def start_state(
        self,
        params: Params,
        *,
        pos,
        commands,
        num_commands=None,
        show_duration=3,
        show_delay=1,
        explosion_duration=6,
        explosion_delay=18,
    ):
        """Start an episode from explicit values, e.g. to replay a recorded episode.

        Args:
            params: the environment's params.
            pos: (2,) int, the agent's centre in px (the original's ``agent.rect.center``).
            commands: sequence of command indices into :data:`COMMANDS` or names (e.g.
                ``["left", "stay"]``); padded to ``Variant.max_commands``. In the endless
                variant the entries after ``num_commands`` are the commands appended in
                later rounds.
            num_commands: active sequence length (default: ``len(commands)``; endless:
                ``initial_command_count`` of the first round).
            show_duration, show_delay, explosion_duration, explosion_delay: the values
                the original samples once per episode (ignored where the variant has
                no display).

        Returns:
            the state :meth:`init_state` would give for these values.

        Raises:
            ValueError: more commands than ``Variant.max_commands`` or an unknown name.
        """
        v = self.variant
        if isinstance(commands, (list, tuple)):
            idx = []
            for c in commands:
                if isinstance(c, str):
                    if c not in COMMAND_NAMES:
                        raise ValueError(f"unknown command {c!r}; valid: {COMMAND_NAMES}")
                    c = COMMAND_NAMES.index(c)
                idx.append(int(c))
            if len(idx) > v.max_commands:
                raise ValueError(f"commands: got {len(idx)} commands, at most {v.max_commands} fit")
            if num_commands is None:
                num_commands = len(idx)
            commands = np.zeros(v.max_commands, np.int32)
            commands[: len(idx)] = idx
        commands = jnp.asarray(commands, jnp.int32)
        num_commands = jnp.asarray(num_commands, jnp.int32)
        pos = jnp.asarray(pos, jnp.int32)
        tile = self._tile_of(pos, params)
        target = tile + jnp.asarray(_DELTAS)[commands[0]]
        if v.endless:
            target = target % params.arena_size
        show_duration = jnp.asarray(show_duration, jnp.int32)
        show_delay = jnp.asarray(show_delay, jnp.int32)
        vis_len = 0 if v.act else num_commands * (show_duration + show_delay)
        zero = jnp.zeros((), jnp.int32)
        state = State(
            pos=pos,
            rotation=zero,
            commands=commands,
            num_commands=num_commands,
            current=zero,
            command_steps=zero,
            verify_step=zero,
            tiles_on=jnp.asarray(False),
            target=target.astype(jnp.int32),
            # The reset observation already shows frame 0 of the display.
            vis_index=jnp.asarray(0 if v.act else 1, jnp.int32),
            vis_len=jnp.asarray(vis_len, jnp.int32),
            vis_first=zero,
            show_duration=show_duration,
            show_delay=show_delay,
            explosion_duration=jnp.asarray(explosion_duration, jnp.int32),
            explosion_delay=jnp.asarray(explosion_delay, jnp.int32),
            t=zero,
            episode_return=dfloat.zeros(),
            commands_completed=zero,
            sprite_rotation=zero,
            sprite_pos=pos,
            symbol=jnp.int32(9),
            frame_rotation=zero,
            frame_pos=pos,
        )
        if not v.act:
            state = state.replace(symbol=self._frame_symbol(state, zero))
        return state

    def carry_over(self, old: State, new: State) -> State:
        """Keep what the original keeps across resets of one instance.

        Endless Mortar Mayhem never clears its last drawn agent pose, so the display
        frames of a new episode draw the agent where the previous episode left it
        (the recordings' README in the shared reference folder). Finite variants keep nothing.
        """
        if not self.variant.endless:
            return new
        return new.replace(sprite_rotation=old.sprite_rotation, sprite_pos=old.sprite_pos)

    # ------------------------------------------------------------------ step
    def _frame_symbol(self, state: State, frame: jax.Array) -> jax.Array:
        """Symbol index (0..8, or 9 = nothing) that display frame ``frame`` shows."""
        period = state.show_duration + state.show_delay
        cmd = state.commands[jnp.clip(state.vis_first + frame // period, 0, None)]
        return jnp.where(frame % period < state.show_duration, cmd, 9)

    def _move(self, state: State, action, params: Params):
        """One locomotion step (the original's character controllers); returns (pos,
        rotation)."""
        v = self.variant
        if v.grid:
            tile = self._tile_of(state.pos, params)
            tile, rot = grid_move(action, state.rotation, tile, params.arena_size)
            return self._tile_center(tile, params), rot
        dx, dy, vel = action_velocity(action, params.agent_speed)
        rot = character_rotation(dx, dy, state.rotation)
        if v.endless:
            # ScreenWrapCharacterController: no int cast; the Rect rounds the new centre
            # half away from zero, then the centre wraps around the arena rect (0..84)
            # with a margin of half the radius.
            new = state.pos.astype(jnp.float32) + vel
            new = (jnp.sign(new) * jnp.floor(jnp.abs(new) + 0.5)).astype(jnp.int32)
            half = self._radius * 0.5
            lo, hi = -half, SCREEN + half
            newf = new.astype(jnp.float32)
            newf = jnp.where(newf > hi, lo, newf)
            newf = jnp.where(newf < lo, hi, newf)
            pos = (jnp.sign(newf) * jnp.floor(jnp.abs(newf) + 0.5)).astype(jnp.int32)
            return pos, rot
        # CharacterController: int-cast velocity, then clamp the centre to the arena
        # rect shrunk by the radius (right/bottom edge exclusive: bottomright - r).
        pos = state.pos + jnp.trunc(vel).astype(jnp.int32)
        left = self._arena_left(params)
        right = left + TILE * params.arena_size
        pos = jnp.clip(pos, left + self._radius, right - self._radius)
        return pos, rot

    def transition(self, key: jax.Array, state: State, action, params: Params):
        """Advance one step (the original's ``step``; ``key`` is unused: no randomness);
        :meth:`step` adds the observation.

        Returns:
            ``(state, reward, terminated, truncated, info)``. ``info`` holds, every
            step: ``reward`` (float32 episode return so far), ``length`` (int32 steps so
            far), ``success`` (int32, 1 once all commands are done; the original reports
            it only at the end; always 0 in the endless variant), ``commands_completed``
            (finite: float32 fraction ``(current - 1 + success) / N``; endless: int32
            count), and for the endless variant ``max_command_sequence`` (int32) and
            ``ground_truth`` (float32 (2,) = target tile / 5).
        """
        del key
        v = self.variant
        displaying = state.vis_index < state.vis_len
        logic_state, reward, done, success = self._task_step(state, action, params)
        # While the display runs, the agent is frozen and the action ignored.
        new = jax.tree.map(
            lambda a, b: jnp.where(displaying, a, b),
            state.replace(vis_index=state.vis_index + 1),
            logic_state,
        )
        reward = dfloat.select(displaying, dfloat.zeros(), reward)
        done = ~displaying & done
        success = jnp.where(displaying, 0, success).astype(jnp.int32)
        # The finite ids have no time limit (their max_steps param is -1).
        new, truncated = self.count_step(new, reward, done, params.max_steps)
        reward = dfloat.value(reward)
        if v.endless:
            # The buffer cannot grow past max_commands: end the episode as truncated.
            truncated |= ~done & (new.num_commands > v.max_commands)
        # Display frames: symbol of the popped frame, agent at its display pose. The
        # endless variant keeps the pose of the last movement step; finite variants
        # draw rotation 0 at the (unmoved) agent.
        symbol = jnp.where(displaying, self._frame_symbol(state, state.vis_index), 9)
        if v.endless:
            pose_rot = jnp.where(displaying, state.sprite_rotation, new.rotation)
            pose_pos = jnp.where(displaying, state.sprite_pos, new.pos)
            new = new.replace(sprite_rotation=pose_rot, sprite_pos=pose_pos)
        else:
            pose_rot = jnp.where(displaying, 0, new.rotation)
            pose_pos = new.pos
        new = new.replace(symbol=symbol, frame_rotation=pose_rot, frame_pos=pose_pos)

        n = jnp.maximum(new.num_commands, 1).astype(jnp.float32)
        info = {**self.episode_info(new), "success": success}
        if v.endless:
            info["commands_completed"] = new.commands_completed
            info["max_command_sequence"] = jnp.maximum(new.num_commands - 1, 0)
            info["ground_truth"] = new.target.astype(jnp.float32) / 5.0
        else:
            info["commands_completed"] = (new.current - 1 + success).astype(jnp.float32) / n
        return new, reward, done, truncated, info

    def _task_step(self, state: State, action, params: Params):
        """Movement and the command logic of the original's ``step`` (non-display branch)."""
        v = self.variant
        pos, rot = self._move(state, action, params)
        tile = self._tile_of(pos, params)
        on_target = jnp.all(tile == state.target)
        deltas = jnp.asarray(_DELTAS)

        zero = dfloat.zeros()
        reward = zero
        done = jnp.asarray(False)
        success = jnp.zeros((), jnp.int32)
        current, cmd_steps, verify_step = state.current, state.command_steps, state.verify_step
        tiles_on, target = state.tiles_on, state.target
        num, completed = state.num_commands, state.commands_completed
        vis_index, vis_len, vis_first = state.vis_index, state.vis_len, state.vis_first

        # 1. The check: every explosion_delay command steps, while the tiles are off.
        verify = (cmd_steps % state.explosion_delay == 0) & (cmd_steps > 0) & ~tiles_on
        check = verify & (current < num)
        current = current + check
        tiles_on = tiles_on | check
        hit = check & on_target
        reward = dfloat.add(reward, dfloat.select(hit, params.reward_command_success, zero))
        completed = completed + hit
        done = done | (check & ~on_target)
        reward = dfloat.add(
            reward, dfloat.select(check & ~on_target, params.reward_command_failure, zero)
        )
        all_done = verify & (current >= num)
        if v.endless:
            # "I packed my bag": append a command, restart the sequence, show only the
            # new command. A failed last check still appends (the original does too,
            # which is why max_command_sequence counts the failed round).
            num = num + all_done
            current = jnp.where(all_done, 0, current)
            verify_step = jnp.where(all_done, 0, verify_step)
            vis_index = jnp.where(all_done, 0, vis_index)
            vis_len = jnp.where(all_done, state.show_duration + state.show_delay, vis_len)
            vis_first = jnp.where(all_done, num - 1, vis_first)
        else:
            done = done | all_done
            success = jnp.where(all_done, 1, success)
            reward = dfloat.add(
                reward, dfloat.select(all_done, params.reward_episode_success, zero)
            )
        cmd_steps = jnp.where(verify, 1, cmd_steps)

        # 2. While the tiles are red: switch them off after explosion_duration steps and
        # advance the target from the previous target; else the agent must stay on it.
        off = tiles_on & (verify_step % state.explosion_duration == 0) & (verify_step > 0)
        advance = off & (current < num)
        nxt = target + deltas[state.commands[jnp.clip(current, 0, v.max_commands - 1)]]
        if v.endless:
            nxt = nxt % params.arena_size
        target = jnp.where(advance, nxt, target)
        red = tiles_on & ~off
        fail = red & ~on_target
        done = done | fail
        # The original assigns here (reward = failure), it does not add.
        reward = dfloat.select(fail, params.reward_command_failure, reward)
        verify_step = jnp.where(off, 0, jnp.where(red, verify_step + 1, verify_step))
        cmd_steps = jnp.where(tiles_on, cmd_steps, cmd_steps + 1)
        tiles_on = tiles_on & ~off

        new = state.replace(
            pos=pos,
            rotation=rot,
            num_commands=num,
            current=current,
            command_steps=cmd_steps,
            verify_step=verify_step,
            tiles_on=tiles_on,
            target=target,
            vis_index=vis_index,
            vis_len=vis_len,
            vis_first=vis_first,
            commands_completed=completed,
        )
        return new, reward, done, success

    # ---------------------------------------------------------------- render
    def reset_info(self, state: State, params: Params) -> dict:
        """Endless: ``{"ground_truth": float32 (2,) target tile / 5}``, as the original's
        reset info; finite ids: ``{}``."""
        del params
        if not self.variant.endless:
            return {}
        return {"ground_truth": state.target.astype(jnp.float32) / 5.0}

    def debug_frame(self, state: State, params: Params) -> jax.Array:
        """The arena with the tile the agent must reach next painted green, and the agent.

        Returns uint8 (84, 84, 3). During the command display the target shown is the
        spawn tile (the sequence has not started); the symbols are not drawn.
        """
        return self._picture.debug(state, params, self.variant.endless)

    def observe(self, state: State, params: Params):
        """The observation of ``state``: the arena, the agent at its frame pose, and the
        command symbol (in that order, as the original draws them); the Act variants add
        the one-hot command vector.

        Drawn by :class:`engram.envs.mortar_mayhem.render.Picture`."""
        img = self._picture.observation(state, params)
        if not self.variant.act:
            return img
        vector = command_vector(state.commands, state.num_commands, self.variant.max_commands)
        return {"visual_observation": img, "vector_observation": vector}


# ----------------------------------------------------------------- registry
_IDS = {
    "MortarMayhem-v0": Variant(),
    "MortarMayhem-Grid-v0": Variant(grid=True),
    "MortarMayhemB-v0": Variant(act=True),
    "MortarMayhemB-Grid-v0": Variant(grid=True, act=True),
    "Endless-MortarMayhem-v0": Variant(endless=True, max_commands=128),
}


def _factory(env_id: str, base: Variant):
    def build(rp: dict) -> MortarMayhem:
        if base.endless:
            size = max(base.max_commands, rp["initial_command_count"])
        else:
            size = max(rp["command_count"])
        # The grid ids accept agent_scale but ignore it: their GridCharacterController is
        # built with the module's SCALE = 0.25 (trajectories-params/README.md).
        scale = 0.25 if base.grid else rp["agent_scale"]
        return MortarMayhem(env_id, Variant(base.grid, base.act, base.endless, size, scale))

    return build


for _id, _variant in _IDS.items():
    register(
        _id,
        ENDLESS_PARAMETERS if _variant.endless else _finite_parameters(_variant),
        _factory(_id, _variant),
    )
