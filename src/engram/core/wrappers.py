"""Autoreset and episode-statistics wrappers around a functional environment.

The core environments never reset themselves. These wrappers add the two usual modes:

* :class:`AutoReset` (same-step): the step that ends an episode returns the first
  observation of the next one; the terminal observation is in ``info["final_obs"]``.
  This is what a ``lax.scan`` rollout wants (gymnax / PureJaxRL convention).
* :class:`NextStepAutoReset`: the step that ends an episode returns the terminal
  observation; the following call resets and ignores its action, returning reward 0 and
  ``terminated = truncated = False`` (Gymnasium's default ``NEXT_STEP`` mode).

A wrapped environment has the same ``reset`` / ``step`` signature as the core one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from engram.core.environment import Environment


def _select(pred, on_true, on_false):
    """``where(pred, a, b)`` over two pytrees of the same structure (``pred`` a scalar)."""
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


class Wrapper(Environment):
    """Forwards everything to ``self.env``; subclasses override what they change."""

    def __init__(self, env: Environment):
        self.env = env
        self.env_id = env.env_id
        self.reset_parameters = env.reset_parameters
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self.render_fps = env.render_fps

    def __getattr__(self, name):
        # Only reached for attributes the wrapper does not define itself.
        return getattr(self.env, name)

    @property
    def unwrapped(self) -> Environment:
        env = self.env
        while isinstance(env, Wrapper):
            env = env.env
        return env

    def reset(self, key, params):
        return self.env.reset(key, params)

    def step(self, key, state, action, params):
        return self.env.step(key, state, action, params)

    def make_params(self, reset_params):
        return self.env.make_params(reset_params)


class AutoReset(Wrapper):
    """Same-step autoreset; the terminal observation goes to ``info["final_obs"]``.

    If the core environment defines ``carry_over(old_state, new_state)``, it is applied
    to the fresh state, so that what the original keeps across resets in one instance
    (Endless Mortar Mayhem's last drawn agent pose) is kept here too.
    """

    def step(self, key, state, action, params):
        k_step, k_reset = jax.random.split(key)
        carry_over = getattr(self.unwrapped, "carry_over", None)
        if self.env.observes_state:
            # Choose the state first and draw one observation; the terminal observation
            # is drawn too, but XLA deletes it unless info["final_obs"] is used.
            state_next, reward, terminated, truncated, info = self.env.transition(
                k_step, state, action, params
            )
            state_new = self.env.init_state(k_reset, params)
            if carry_over is not None:  # what carries over is never part of the frame
                state_new = carry_over(state_next, state_new)
            state = _select(terminated | truncated, state_new, state_next)
            info = dict(info, final_obs=self.env.observe(state_next, params))
            return self.env.observe(state, params), state, reward, terminated, truncated, info
        obs, state_next, reward, terminated, truncated, info = self.env.step(
            k_step, state, action, params
        )
        obs_new, state_new = self.env.reset(k_reset, params)
        if carry_over is not None:
            state_new = carry_over(state_next, state_new)
        done = terminated | truncated
        info = dict(info, final_obs=obs)
        return (
            _select(done, obs_new, obs),
            _select(done, state_new, state_next),
            reward,
            terminated,
            truncated,
            info,
        )


def _max_resets(max_resets, batch: int) -> int:
    max_resets = max(1, batch // 8) if max_resets is None else max_resets
    if max_resets < 1:
        raise ValueError(f"max_resets: got {max_resets!r}, expected an int >= 1")
    return min(max_resets, batch)


def _step_rows(env, keys, states, actions, params):
    """Every environment's step of a batch, without the frame where the environment renders
    from its state: ``(k_reset, obs, next_states, reward, terminated, truncated, info)``
    with ``obs`` None then; ``k_reset`` the reset keys split from ``keys`` as
    :class:`AutoReset` splits them."""
    splits = jax.vmap(jax.random.split)(keys)
    k_step, k_reset = splits[:, 0], splits[:, 1]
    if env.observes_state:
        out = jax.vmap(env.transition, in_axes=(0, 0, 0, None))(k_step, states, actions, params)
        return (k_reset, None, *out)
    return (k_reset, *jax.vmap(env.step, in_axes=(0, 0, 0, None))(k_step, states, actions, params))


def _fresh_rows(env, mask, keys, old, states, obs, params, max_resets: int):
    """``(obs, states)`` of a batch with the rows where ``mask`` (bool ``(B,)``) replaced
    by fresh episodes drawn from those rows' ``keys`` (``carry_over`` from ``old``, the
    rows' previous states), as ``vmap`` of a per-environment ``where`` gives them. ``obs``
    is None for an environment that renders from its state (the caller draws the frames).

    The masked rows are taken ``max_resets`` at a time: their fresh episodes are drawn in
    a ``lax.cond`` over those rows only (nothing is drawn where no row is masked) and
    written into the batch outside it, the first ``max_resets`` straight away and any
    further ones by a ``while_loop`` (trial tasks, whose trials all end on one step).
    Nothing as large as the batch's state enters or leaves a conditional: XLA copies such
    a value on both sides (an earlier version chose between the batch's states in a
    ``lax.switch``: two whole copies of the batch's state a step, 2 x 31 MB for Endless
    Mystery Path at B=512, ``jax.profiler`` per XLA operation).
    """
    batch = mask.shape[0]
    carry_over = getattr(env, "carry_over", None)
    # Same-step autoreset passes the stepped states as ``old`` too: a masked row still
    # holds its old state until it is written, so the rows are read from the states being
    # written, and the batch's old states need not be kept (a copy of them) meanwhile.
    old_is_states = old is states

    def fresh(rows, states):
        at = jnp.minimum(rows, batch - 1)
        if env.observes_state:
            obs_new, state_new = None, jax.vmap(env.init_state, in_axes=(0, None))(keys[at], params)
        else:
            obs_new, state_new = jax.vmap(env.reset, in_axes=(0, None))(keys[at], params)
        if carry_over is not None:
            before = states if old_is_states else old
            state_new = jax.vmap(carry_over)(jax.tree.map(lambda x: x[at], before), state_new)
        return obs_new, state_new

    def blank(rows, states):
        shapes = jax.eval_shape(fresh, rows, states)
        return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    def write(carry):
        obs, states, left = carry
        # The next masked rows, padded with B (which the writes drop).
        rows = jnp.nonzero(left, size=max_resets, fill_value=batch)[0]
        obs_new, state_new = jax.lax.cond(rows[0] < batch, fresh, blank, rows, states)

        def put(whole, part):
            return whole.at[rows].set(part, mode="drop")

        left = left.at[rows].set(False, mode="drop")
        return jax.tree.map(put, obs, obs_new), jax.tree.map(put, states, state_new), left

    carry = write((obs, states, mask))
    obs, states, _ = jax.lax.while_loop(lambda c: jnp.any(c[2]), write, carry)
    return obs, states


def autoreset_step_batch(env: Environment, keys, states, actions, params, max_resets=None):
    """``vmap(AutoReset(env).step)`` over a batch, with fresh episodes computed only for the
    environments that finished.

    Under ``vmap`` a reset is computed for every environment at every step (both sides of
    the ``where``), and the whole batch's states are selected between the two. Here:

    * no environment finished: no reset at all;
    * some finished: their indices are gathered, ``max_resets`` fresh episodes drawn
      (from the finished environments' own keys) and written into their rows, so a step
      costs a few resets, not ``B``;
    * more than ``max_resets`` finished (e.g. trial tasks, whose fixed-length trials all
      end on the same step): the same again, ``max_resets`` rows at a time, until every
      finished environment has its fresh episode.

    The results are identical to ``vmap(AutoReset(env).step)`` (same key splits). An
    environment that renders from its state (``observes_state``) draws one frame per step,
    of the chosen state; the terminal frame (``info["final_obs"]``) is drawn only where it
    is used (XLA deletes it otherwise).

    Args:
        env: the core environment (not wrapped).
        keys: ``(B,)`` keys, one per environment; ``states``, ``actions``: leading axis B.
        max_resets: how many fresh episodes are drawn at a time (one ``vmap``); default
            ``max(1, B // 8)``.

    Returns:
        ``(obs, states, reward, terminated, truncated, info)`` with a leading axis B.

    Raises:
        ValueError: ``max_resets`` below 1.
    """
    max_resets = _max_resets(max_resets, keys.shape[0])
    k_reset, obs, nxt, reward, terminated, truncated, info = _step_rows(
        env, keys, states, actions, params
    )
    done = terminated | truncated
    obs_out, state_out = _fresh_rows(env, done, k_reset, nxt, nxt, obs, params, max_resets)
    if env.observes_state:
        obs_out = jax.vmap(env.observe, in_axes=(0, None))(state_out, params)
        obs = jax.vmap(env.observe, in_axes=(0, None))(nxt, params)
    info = dict(info, final_obs=obs)
    return obs_out, state_out, reward, terminated, truncated, info


@struct.dataclass
class NextStepState:
    """State of :class:`NextStepAutoReset`: the core state plus a pending-reset flag."""

    env_state: object
    needs_reset: jax.Array


class NextStepAutoReset(Wrapper):
    """Next-step autoreset (Gymnasium's ``NEXT_STEP`` mode)."""

    def reset(self, key, params):
        obs, state = self.env.reset(key, params)
        return obs, NextStepState(state, jnp.asarray(False))

    def step(self, key, state, action, params):
        k_step, k_reset = jax.random.split(key)
        carry_over = getattr(self.unwrapped, "carry_over", None)
        r = state.needs_reset
        if self.env.observes_state:
            # Choose the state first and draw one observation (as AutoReset does): under
            # vmap both branches are computed, and drawing the step's frame and the
            # reset's frame doubled the cost of every step.
            s_next, reward, terminated, truncated, info = self.env.transition(
                k_step, state.env_state, action, params
            )
            s_new = self.env.init_state(k_reset, params)
        else:
            obs_step, s_next, reward, terminated, truncated, info = self.env.step(
                k_step, state.env_state, action, params
            )
            obs_new, s_new = self.env.reset(k_reset, params)
        if carry_over is not None:
            s_new = carry_over(state.env_state, s_new)
        chosen = _select(r, s_new, s_next)
        if self.env.observes_state:
            obs = self.env.observe(chosen, params)
        else:
            obs = _select(r, obs_new, obs_step)
        return _next_step_outputs(r, obs, chosen, reward, terminated, truncated, info)


def _next_step_outputs(r, obs, chosen, reward, terminated, truncated, info):
    """One environment's next-step result: where its reset was due (``r``), the step only
    reset it (reward 0, not terminated or truncated, zero ``info``); its next reset is due
    when this step ended the episode."""
    zero_info = jax.tree.map(jnp.zeros_like, info)
    return (
        obs,
        NextStepState(chosen, ~r & (terminated | truncated)),
        jnp.where(r, 0.0, reward),
        ~r & terminated,
        ~r & truncated,
        _select(r, zero_info, info),
    )


def next_step_autoreset_batch(
    env: Environment, keys, states: NextStepState, actions, params, max_resets=None
):
    """``vmap(NextStepAutoReset(env).step)`` over a batch (``states`` a batched
    :class:`NextStepState`), with fresh episodes computed only for the environments whose
    reset is due, as :func:`autoreset_step_batch` does for the same-step mode: identical
    results (same key splits), a few resets per step instead of ``B``.

    Args:
        env: the core environment (not wrapped).
        keys: ``(B,)`` keys, one per environment; ``states``, ``actions``: leading axis B.
        max_resets: how many fresh episodes are drawn at a time (one ``vmap``); default
            ``max(1, B // 8)``.

    Returns:
        ``(obs, states, reward, terminated, truncated, info)`` with a leading axis B:
        where a reset was due, the fresh episode's first observation, reward 0 (float32),
        ``terminated`` and ``truncated`` False and every ``info`` entry zero.

    Raises:
        ValueError: ``max_resets`` below 1.
    """
    max_resets = _max_resets(max_resets, keys.shape[0])
    k_reset, obs_step, s_next, reward, terminated, truncated, info = _step_rows(
        env, keys, states.env_state, actions, params
    )
    r = states.needs_reset
    obs, chosen = _fresh_rows(
        env, r, k_reset, states.env_state, s_next, obs_step, params, max_resets
    )
    if env.observes_state:
        obs = jax.vmap(env.observe, in_axes=(0, None))(chosen, params)
    return jax.vmap(_next_step_outputs)(r, obs, chosen, reward, terminated, truncated, info)


class BatchAutoReset:
    """Same-step autoreset of a whole batch that computes only ``num_resets`` fresh
    episodes per step ("optimistic" resets, as Craftax's vectorised wrapper does).

    Under ``vmap``, :class:`AutoReset` runs ``reset`` for every environment at every step
    (both sides of the ``where`` are computed), which dominates the cost of environments
    with an expensive reset (Mystery Path's A* search, Searing Spotlights' spawn
    sampling). Here ``num_resets`` fresh episodes are drawn per step, and the environments
    that finished take them in order: the k-th finished environment gets fresh episode
    ``k mod num_resets``. Each environment's episodes keep the distribution of ``reset``;
    only when more than ``num_resets`` environments finish in the same step do some of
    them start the same episode. ``num_resets`` equal to the batch size is exact
    :class:`AutoReset` (every finished environment gets its own fresh episode).

    Args:
        env: the core environment.
        num_resets: fresh episodes per step, from 1 to the batch size; ``None``: the batch
            size (exact).

    ``reset(key, params, batch)`` and ``step(key, states, actions, params)`` take one key
    for the whole batch and arrays with a leading batch axis; ``step`` returns what
    ``vmap(AutoReset(env).step)`` returns.
    """

    def __init__(self, env: Environment, num_resets: int | None = None):
        if num_resets is not None and num_resets < 1:
            raise ValueError(f"num_resets: got {num_resets}, expected None or an int >= 1")
        self.env = env
        self.num_resets = num_resets
        self._carry_over = getattr(env, "carry_over", None)

    def reset(self, key, params, batch: int):
        """Start ``batch`` independent episodes."""
        return jax.vmap(self.env.reset, in_axes=(0, None))(jax.random.split(key, batch), params)

    def step(self, key, states, actions, params):
        batch = jax.tree.leaves(actions)[0].shape[0]
        k_step, k_reset = jax.random.split(key)
        obs, nxt, reward, terminated, truncated, info = jax.vmap(
            self.env.step, in_axes=(0, 0, 0, None)
        )(jax.random.split(k_step, batch), states, actions, params)
        n = min(self.num_resets or batch, batch)
        done = terminated | truncated

        def fresh(_):
            obs_pool, state_pool = jax.vmap(self.env.reset, in_axes=(0, None))(
                jax.random.split(k_reset, n), params
            )
            slot = jnp.maximum(jnp.cumsum(done) - 1, 0) % n  # k-th finished env -> episode k
            obs_new = jax.tree.map(lambda x: x[slot], obs_pool)
            state_new = jax.tree.map(lambda x: x[slot], state_pool)
            if self._carry_over is not None:
                state_new = jax.vmap(self._carry_over)(nxt, state_new)
            pick = jax.vmap(_select)
            return pick(done, obs_new, obs), pick(done, state_new, nxt)

        # Steps on which no environment finished skip the resets altogether.
        obs_out, state_out = jax.lax.cond(jnp.any(done), fresh, lambda _: (obs, nxt), None)
        info = dict(info, final_obs=obs)
        return obs_out, state_out, reward, terminated, truncated, info
