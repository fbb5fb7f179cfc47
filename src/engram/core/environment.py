"""The functional environment protocol shared by every engram environment.

An environment is a Python object that holds only *static* configuration (the values
that fix array shapes, e.g. the maximum number of commands) and two pure functions::

    obs, state = env.reset(key, params)
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)

``state`` and ``params`` are pytrees (``flax.struct.dataclass``), so both functions can
be ``jit``-ed and ``vmap``-ed. ``info`` is a dict of fixed-shape arrays. There is no
autoreset in the core; see :mod:`engram.core.wrappers`.
"""

from __future__ import annotations

from typing import Any

import jax

from engram.core import dfloat
from engram.core.params import Params, ResetParameter, resolve, to_params
from engram.core.spaces import Space


class Environment:
    """Base class of the functional environments.

    Subclasses set ``env_id``, ``reset_parameters`` and the spaces, and implement
    :meth:`reset`, :meth:`step` and :meth:`make_params`.
    """

    env_id: str = ""
    reset_parameters: tuple[ResetParameter, ...] = ()
    observation_space: Space
    action_space: Space
    render_fps: int = 25
    #: ``info`` keys the original reports on every step (e.g. ``ground_truth``) and
    #: only on the last step of an episode (e.g. ``success``); the Gymnasium adapter
    #: returns exactly these, as the original does.
    #: The observation is the picture (``rgb_array`` renders it); False for vector
    #: observations, whose picture comes from :meth:`frame`.
    pixel_observations: bool = True
    #: A trial task (:mod:`engram.core.trials`): the protocol's episode is a trial, and
    #: ``info`` marks the episodes inside it.
    trials: bool = False
    #: ``engram play``'s turn-based keys: key name (``up``, ``down``, ``left``, ``right``,
    #: ``wait`` for space) -> ``Discrete`` action; None: the grid ids' turns (left/right
    #: rotate, up forward, space no-op).
    play_keys: dict[str, int] | None = None
    info_every_step: tuple[str, ...] = ()
    info_at_end: tuple[str, ...] = ()

    @property
    def static_key(self) -> tuple:
        """Hashable identity of the static configuration: two environments with equal
        keys compile to the same program (used to share ``jit`` caches)."""
        return (type(self).__name__, self.env_id)

    #: The environment is written as :meth:`init_state`, :meth:`transition` and
    #: :meth:`observe` (the observation a function of the state alone), so that a wrapper
    #: can choose the state first and draw one observation (:class:`AutoReset` renders
    #: once per step, not once for the step and once for the reset). Set by subclasses
    #: that implement those three instead of :meth:`reset` and :meth:`step`.
    observes_state: bool = False

    def reset(self, key: jax.Array, params) -> tuple[Any, Any]:
        """Start an episode. Returns ``(obs, state)``."""
        state = self.init_state(key, params)
        return self.observe(state, params), state

    def step(self, key: jax.Array, state, action, params):
        """Advance one step.

        Returns:
            ``(obs, state, reward, terminated, truncated, info)``: ``reward`` float32 scalar,
            ``terminated`` / ``truncated`` bool scalars, ``info`` a dict of arrays.
        """
        state, reward, terminated, truncated, info = self.transition(key, state, action, params)
        return self.observe(state, params), state, reward, terminated, truncated, info

    def init_state(self, key: jax.Array, params):  # pragma: no cover
        """The first state of an episode (without its observation)."""
        raise NotImplementedError

    def transition(self, key: jax.Array, state, action, params):  # pragma: no cover
        """One step without the observation: ``(state, reward, terminated, truncated,
        info)``."""
        raise NotImplementedError

    def observe(self, state, params):  # pragma: no cover
        """The observation of ``state`` (pure, ``jit``-able)."""
        raise NotImplementedError

    @staticmethod
    def count_step(state, reward: jax.Array, done: jax.Array, max_steps: jax.Array):
        """The episode bookkeeping of one step, as every Memory Gym id keeps it.

        Args:
            state: a state with ``t`` (int32, steps taken) and ``episode_return`` (the sum
                of the rewards as a double-float, :mod:`engram.core.dfloat`: the original
                sums its rewards in float64).
            reward: this step's reward, double-float ``(2,)``.
            done: bool scalar, the task ended the episode on this step (terminated).
            max_steps: int32 scalar, the time limit in steps; ``<= 0`` never truncates.

        Returns:
            ``(state, truncated)``: ``t`` one higher, the reward added to
            ``episode_return``; ``truncated`` is True when this step reaches the time limit
            and the task did not end the episode. The original reports both as ``done``
            (``self.t == self.max_steps``, memory-gym 1.0.2); Gymnasium's API tells them
            apart, and a task's end on the last step counts as terminated.
        """
        t = state.t + 1
        truncated = ~done & (t == max_steps)
        state = state.replace(t=t, episode_return=dfloat.add(state.episode_return, reward))
        return state, truncated

    @staticmethod
    def episode_info(state) -> dict:
        """The ``info`` keys every Memory Gym id reports at an episode's end: ``reward`` (the
        return so far, float32) and ``length`` (int32 steps), from a state kept by
        :meth:`count_step`."""
        return {"reward": dfloat.value(state.episode_return), "length": state.t}

    def reset_info(self, state, params) -> dict:
        """The ``info`` the original returns from ``reset`` for ``state`` (a fresh episode's
        state): ``{}``, or the every-step keys such as the endless ids' ``ground_truth``.
        Pure and ``jit``-able; used by the Gymnasium adapter."""
        del state, params
        return {}

    def frame(self, state, params) -> jax.Array:  # pragma: no cover
        """The picture of ``state`` for people (``render_mode="rgb_array"``) when the
        observation is not one (``pixel_observations`` False): uint8 ``(H, W, 3)``. Pure and
        ``jit``-able."""
        raise NotImplementedError(f"{self.env_id}: the observation is the picture")

    def debug_frame(self, state, params) -> jax.Array:  # pragma: no cover
        """The ground-truth debug view of ``state``: uint8 (84, 84, 3), standard image
        layout, what the agent must remember made visible (the path in Mystery Path,
        the hidden entities in Searing Spotlights, the target tile in Mortar Mayhem).
        Pure and ``jit``-able; used by ``engram play`` and ``engram record``."""
        raise NotImplementedError(f"{self.env_id} has no debug view")

    def episode_cap(self, reset_params: dict) -> int | None:
        """The most steps an episode can last with ``reset_params`` (a complete, validated
        reset-parameter dict), or ``None`` when episodes are unbounded (endless ids without
        ``max_steps``). Host-side; used to check a memory window against the episodes.

        This default is the Memory Gym ids' time limit: the ``max_steps`` reset parameter
        where the environment has one and it is positive (``<= 0`` disables it, the
        endless ids' default), else ``None``."""
        steps = reset_params.get("max_steps")
        return steps if steps is not None and steps > 0 else None

    def make_params(self, reset_params: dict) -> Params:
        """The params pytree of a complete, validated reset-parameter dict: by default
        every parameter that is not ``static`` as one array (:func:`~engram.core.params.
        to_params`). Environments that check combinations of values or derive values
        from them override this."""
        return to_params(self.reset_parameters, reset_params)

    def default_params(self):
        """The params pytree for this environment's defaults (the original's)."""
        return self.make_params(resolve(self.reset_parameters, {}))

    def params_from(self, **overrides):
        """Validate ``overrides`` (original reset-parameter names) and build params.

        Raises:
            ValueError: unknown name or value out of range (before any compilation).
        """
        return self.make_params(resolve(self.reset_parameters, overrides))

    def check_action(self, action) -> None:
        """Raise ``ValueError`` if a host-side ``action`` is outside the action space."""
        if not self.action_space.contains(action):
            raise ValueError(
                f"action {action!r} is outside the action space {self.action_space} "
                f"of {self.env_id}"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env_id!r})"
