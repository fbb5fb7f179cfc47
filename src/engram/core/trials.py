"""Trials: many episodes in one hidden task, the unit of in-context reinforcement learning.

A *trial* keeps the task fixed (a room's key and door, a house's objects) for
``trial_length`` steps made of episodes of at most ``episode_length`` steps; an agent that
remembers earlier episodes of the trial does better in later ones (Algorithm Distillation,
AMAGO, Memo; the Memo paper).

A trial task subclasses :class:`TrialEnvironment` and writes three pure functions:

* ``sample_task(key, params) -> task``: a new hidden task (a pytree), once per trial;
* ``reset_episode(key, task, params) -> (obs, episode_state)``: a new episode in ``task``;
* ``episode_step(key, task, episode_state, action, params) -> (obs, episode_state, reward,
  terminated, info)``: one step of an episode (``info`` holds what the task reports at an
  episode's end, e.g. ``success`` or ``spl``).

:class:`TrialEnvironment` turns them into an ordinary :class:`~engram.core.Environment`
whose *episode in the protocol's sense is the trial*: ``reset`` samples a task and starts
its first episode; ``step`` starts the next episode of the same task itself when one ends,
and reports ``truncated`` once ``trial_length`` steps are done. So autoreset wrappers,
the Gymnasium adapter and the agents' memory all reset at trial starts only, and the
episode boundaries inside a trial are in ``info``:

* ``episode_index`` int32: the index within the trial of the episode this step belongs to;
* ``episode_terminated`` / ``episode_truncated`` bool: this step ended that episode (by
  the task, or by the episode cap or the trial's end);
* ``episode_return`` float32, ``episode_length`` int32: that episode's so far;
* ``episode_final_obs``: the last observation of that episode (equal to the returned
  observation unless a new episode started), to bootstrap a truncated episode;
* ``trial_return`` float32: the trial's return so far; ``trial_step`` int32: steps done.

Observations carry what in-context agents expect besides the task's own observation
(AMAGO's and RL^2's inputs): the previous action (one-hot; zeros at a trial's start), the
previous reward, an episode-start flag, the step within the episode divided by
``episode_length`` and the step within the trial divided by ``episode_length``. The trial
step is scaled by the episode cap and not by the trial length so that a step keeps its
feature when a trial is made longer for evaluation (generalisation to longer contexts
then extrapolates the feature instead of compressing time). A vector observation gets
these ``num_actions + 4`` numbers appended; a dict observation gets them appended to its
``vector_observation``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from engram.core.environment import Environment
from engram.core.params import ResetParameter
from engram.core.spaces import Box, Dict

#: Trial-level ``info`` keys reported on every step.
TRIAL_INFO = (
    "episode_index",
    "episode_terminated",
    "episode_truncated",
    "episode_return",
    "episode_length",
    "trial_return",
    "trial_step",
)


def trial_parameters(episode_length: int, trial_length: int) -> tuple[ResetParameter, ...]:
    """The ``episode_length`` and ``trial_length`` reset parameters with these defaults."""
    return (
        ResetParameter(
            "episode_length", episode_length, "int", 1, None, "most steps of one episode"
        ),
        ResetParameter(
            "trial_length",
            trial_length,
            "int",
            1,
            None,
            "steps of one trial (episodes in the same task); at least episode_length",
        ),
    )


def check_trial_lengths(reset_params: dict) -> None:
    """Raise ``ValueError`` naming ``trial_length`` if it is shorter than an episode."""
    if reset_params["trial_length"] < reset_params["episode_length"]:
        raise ValueError(
            f"reset parameter 'trial_length': got {reset_params['trial_length']}, expected "
            f"at least episode_length ({reset_params['episode_length']})"
        )


@struct.dataclass
class TrialState:
    """State of a trial: the hidden task, the current episode and the counters."""

    task: Any
    episode: Any
    trial_step: jax.Array  # int32, steps done in the trial
    episode_step: jax.Array  # int32, steps done in the current episode
    episode_index: jax.Array  # int32, index of the current episode in the trial
    prev_action: jax.Array  # int32, -1 at the trial's start
    prev_reward: jax.Array  # float32
    episode_return: jax.Array  # float32
    trial_return: jax.Array  # float32


class TrialEnvironment(Environment):
    """Base of the trial tasks (module docstring).

    Subclasses set ``env_id``, ``reset_parameters`` (including :func:`trial_parameters`),
    ``task_observation_space`` (a 1-d float32 ``Box`` or a ``Dict`` with
    ``visual_observation`` and ``vector_observation``), ``action_space`` (``Discrete``)
    and implement ``sample_task``, ``reset_episode``, ``episode_step`` and
    ``make_params``; their params must have int32 fields ``episode_length`` and
    ``trial_length``.
    """

    trials = True
    pixel_observations = False
    task_observation_space: Any
    info_every_step = TRIAL_INFO

    @property
    def num_actions(self) -> int:
        return int(self.action_space.n)

    #: Bounds of the observation vectors with the in-context inputs: the previous reward
    #: and the trial time are unbounded in principle; a large finite number stands for
    #: infinity because Gymnasium's checker warns about infinite bounds.
    VECTOR_BOUND = 1e6

    @property
    def observation_space(self):
        extra = self.num_actions + 4
        space = self.task_observation_space
        if isinstance(space, Dict):
            vec = space.spaces["vector_observation"]
            spaces = dict(space.spaces)
            shape = (vec.shape[0] + extra,)
            spaces["vector_observation"] = Box(
                -self.VECTOR_BOUND, self.VECTOR_BOUND, shape, np.float32
            )
            return Dict(spaces)
        shape = (space.shape[0] + extra,)
        return Box(-self.VECTOR_BOUND, self.VECTOR_BOUND, shape, np.float32)

    def episode_cap(self, reset_params: dict) -> int:
        """A trial's length: the agents' memory spans the whole trial."""
        return reset_params["trial_length"]

    # -- what subclasses write -------------------------------------------------------
    def sample_task(self, key, params):  # pragma: no cover - abstract
        raise NotImplementedError

    def reset_episode(self, key, task, params):  # pragma: no cover - abstract
        raise NotImplementedError

    def episode_step(self, key, task, episode, action, params):  # pragma: no cover
        raise NotImplementedError

    def episode_frame(self, task, episode, params) -> jax.Array:  # pragma: no cover
        raise NotImplementedError(f"{self.env_id} has no picture")

    # -- the protocol ----------------------------------------------------------------
    def _observe(self, obs, state: TrialState, params):
        # Times as a product with the reciprocal, not a division: XLA turns a division by a
        # value shared by a vmapped batch into that product itself, so the batched and the
        # single program would otherwise differ in the last bit.
        per_step = 1.0 / params.episode_length.astype(jnp.float32)
        extra = jnp.concatenate(
            [
                jax.nn.one_hot(state.prev_action, self.num_actions, dtype=jnp.float32),
                jnp.stack(
                    [
                        state.prev_reward,
                        (state.episode_step == 0).astype(jnp.float32),
                        state.episode_step.astype(jnp.float32) * per_step,
                        state.trial_step.astype(jnp.float32) * per_step,
                    ]
                ).astype(jnp.float32),
            ]
        )
        # The space's bounds are +-VECTOR_BOUND, but the previous reward (e.g. a
        # slack_reward of -1e6 plus a step's other rewards) and the trial time in episodes
        # (trial_length / episode_length, up to 2^31) are not bounded by the parameters:
        # clip, so an observation never leaves its space (found by tests/test_fuzz.py).
        extra = jnp.clip(extra, -self.VECTOR_BOUND, self.VECTOR_BOUND)
        if isinstance(obs, dict):
            vec = obs["vector_observation"].astype(jnp.float32)
            return dict(obs, vector_observation=jnp.concatenate([vec, extra]))
        return jnp.concatenate([obs.astype(jnp.float32), extra])

    def reset(self, key, params):
        """Sample a task and start its first episode. Returns ``(obs, TrialState)``."""
        k_task, k_ep = jax.random.split(key)
        task = self.sample_task(k_task, params)
        obs, episode = self.reset_episode(k_ep, task, params)
        zero = jnp.int32(0)
        state = TrialState(
            task=task,
            episode=episode,
            trial_step=zero,
            episode_step=zero,
            episode_index=zero,
            prev_action=jnp.int32(-1),
            prev_reward=jnp.float32(0),
            episode_return=jnp.float32(0),
            trial_return=jnp.float32(0),
        )
        return self._observe(obs, state, params), state

    def step(self, key, state: TrialState, action, params):
        """One step; a finished episode is followed by a new one in the same task.

        Returns ``(obs, state, reward, terminated, truncated, info)``: ``terminated`` is
        always False and ``truncated`` is True on the trial's last step (the trial is the
        protocol's episode); ``info`` holds :data:`TRIAL_INFO`, ``episode_final_obs`` and
        the task's own keys.
        """
        k_step, k_reset = jax.random.split(key)
        a = jnp.asarray(action, jnp.int32).reshape(())
        obs, episode, reward, ep_term, task_info = self.episode_step(
            k_step, state.task, state.episode, a, params
        )
        reward = jnp.asarray(reward, jnp.float32)
        trial_step = state.trial_step + 1
        episode_step = state.episode_step + 1
        trial_over = trial_step >= params.trial_length
        ep_trunc = ~ep_term & ((episode_step >= params.episode_length) | trial_over)
        ep_done = ep_term | ep_trunc
        ended = state.replace(
            episode=episode,
            trial_step=trial_step,
            episode_step=episode_step,
            prev_action=a,
            prev_reward=reward,
            episode_return=state.episode_return + reward,
            trial_return=state.trial_return + reward,
        )
        final_obs = self._observe(obs, ended, params)
        obs_new, episode_new = self.reset_episode(k_reset, state.task, params)
        fresh = ended.replace(
            episode=episode_new,
            episode_step=jnp.int32(0),
            episode_index=state.episode_index + 1,
            episode_return=jnp.float32(0),
        )
        # The trial's last step keeps the finished episode: the autoreset that follows
        # starts a new trial anyway.
        new_episode = ep_done & ~trial_over
        nxt = jax.tree.map(lambda a, b: jnp.where(new_episode, a, b), fresh, ended)
        obs_out = jax.tree.map(
            lambda a, b: jnp.where(new_episode, a, b),
            self._observe(obs_new, fresh, params),
            final_obs,
        )
        info = dict(
            task_info,
            episode_index=state.episode_index,
            episode_terminated=ep_term,
            episode_truncated=ep_trunc,
            episode_return=ended.episode_return,
            episode_length=episode_step,
            trial_return=ended.trial_return,
            trial_step=trial_step,
            episode_final_obs=final_obs,
        )
        return obs_out, nxt, reward, jnp.bool_(False), trial_over, info

    def frame(self, state: TrialState, params) -> jax.Array:
        """The picture of the current episode (``episode_frame`` of the task)."""
        return self.episode_frame(state.task, state.episode, params)
