"""A memory agent bound to one environment configuration: everything acting needs.

:class:`Policy` is what evaluation, ``engram record``, the benchmarks and the trainer's
rollout call to act; it holds no optimiser and no training state. A trained policy is
loaded from a run folder with :func:`engram.run.load_run`.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

import engram
from engram.core.params import parse_options
from engram.core.spaces import Discrete, MultiDiscrete
from engram.models import (
    MEMORY_MODELS,
    ActorCritic,
    encoder_for,
    greedy_action,
    memory_spec,
    sample_action,
)


def action_dims(space) -> tuple[int, ...]:
    """Categories per action component of a Discrete or MultiDiscrete space.

    Raises:
        ValueError: any other space.
    """
    if isinstance(space, Discrete):
        return (int(space.n),)
    if isinstance(space, MultiDiscrete):
        return tuple(int(n) for n in np.asarray(space.nvec))
    raise ValueError(f"action space {space} is not supported (Discrete or MultiDiscrete only)")


class Policy:
    """The agent of a :class:`engram.config.TrainConfig` and the environment it acts in.

    Attributes:
        config: the (validated) configuration.
        env: the environment (no autoreset), ``env_params`` its params.
        agent: the :class:`engram.models.ActorCritic` module (unbound).
        dims: categories per action component, e.g. ``(4,)`` or ``(3, 3)``.
        has_success: the environment reports ``info["success"]`` at episode ends.
        trials: a trial task (:mod:`engram.core.trials`): memory resets at trial starts.
        task_metrics: end-of-episode ``info`` keys logged as task metrics (e.g.
            ``commands_completed``); return, length and success are logged apart.
        ground_truth_dims: size of the ground-truth head (0: none).
        memory: the memory model's :class:`engram.models.MemorySpec`.

    Raises:
        ValueError: an invalid configuration (named field), before any compilation.
    """

    def __init__(self, config):
        config.validate()
        self.config = c = config
        self.env, self.env_params = engram.make(c.env, **parse_options(c.env_options))
        env = self.env
        self.dims = action_dims(env.action_space)
        self.discrete = isinstance(env.action_space, Discrete)
        self.has_success = "success" in env.info_at_end
        self.trials = env.trials
        self.task_metrics = tuple(
            k for k in env.info_at_end if k not in ("reward", "length", "success", "ground_truth")
        )
        self.ground_truth_dims = self._ground_truth_dims() if c.ground_truth_estimation else 0
        encoder = encoder_for(env.observation_space)
        if c.obs_reconstruction and encoder != "cnn":
            raise ValueError(
                f"obs_reconstruction: got {c.obs_reconstruction}, but {c.env} has vector "
                "observations; the reconstruction decoder draws 84x84 images (use 0)"
            )
        self.memory = memory_spec(c.agent)
        #: Learning draws a segment length per pass (segment_jitter of Memo/RMT).
        self.segment_rng = self.memory.segments and c.segment_jitter > 0
        self.agent = ActorCritic(
            self.dims,
            c.agent,
            self.memory.settings(c),
            c.post_memory_width,
            c.shared_body,
            reconstruction=c.obs_reconstruction > 0,
            ground_truth_dims=self.ground_truth_dims,
            encoder=encoder,
        )
        # Compiled evaluation programs by setting (engram.evaluation), built once per
        # policy so that periodic evaluation during training compiles only once.
        self.eval_programs: dict = {}

    def _ground_truth_dims(self) -> int:
        """Size of ``info["ground_truth"]``, found by tracing one step (nothing runs).

        Raises:
            ValueError: the environment reports no ground truth.
        """
        env = self.env
        if "ground_truth" not in env.info_every_step:
            raise ValueError(
                f"ground_truth_estimation: {self.config.env} reports no info['ground_truth'] "
                "on every step (the endless ids do)"
            )
        key = jax.random.key(0)
        _, state = jax.eval_shape(env.reset, key, self.env_params)
        action = jax.eval_shape(env.action_space.sample, key)
        info = jax.eval_shape(env.step, key, state, action, self.env_params)[-1]
        return int(np.prod(info["ground_truth"].shape))

    def initial_carry(self, batch_size: int):
        """The empty memory of ``batch_size`` environments (a pytree, leading axis B)."""
        return self.agent.initial_carry(batch_size)

    def memory_state_bytes(self) -> int:
        """Bytes of the agent's memory state (the carry) per environment: what acting keeps
        between steps and the learner stores once per rollout (e.g. a GRU-512 carry is 2 KiB;
        Transformer-XL's window ``(memory_length - 1) x blocks x width`` float32)."""
        carry = jax.eval_shape(lambda: self.initial_carry(1))
        return int(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(carry)))

    def act(self, params, carry, obs, reset):
        """One acting step for a batch: ``obs`` leaves ``(B, ...)``, ``reset`` bool ``(B,)``
        (the observation starts an episode: the memory is cleared before reading it).

        Returns ``(carry, logits float32 (B, sum(dims)), value float32 (B,))``.
        """
        return self.agent.apply(params, carry, obs, reset, method=ActorCritic.step)

    def recorded(self, carry):
        """What the acting step that produced ``carry`` computed and learning reuses (the
        memory spec's ``recorded``, e.g. Transformer-XL's layer inputs ``(B, layers,
        width)``), or None: the model records nothing, or ``recompute_memory`` is set."""
        if self.config.recompute_memory:
            return None
        return self.agent.recorded(carry)

    def choose(self, key, logits, deterministic: bool = False):
        """The action for ``logits`` ``(..., sum(dims))``: sampled with ``key``, or the most
        likely one. int32 ``(..., len(dims))``, the agent's layout."""
        if deterministic:
            return greedy_action(logits, self.dims)
        return sample_action(key, logits, self.dims)

    def env_action(self, action):
        """The agent's int32 ``(..., n_components)`` action in the environment's layout:
        a scalar for Discrete, the vector for MultiDiscrete."""
        return action[..., 0] if self.discrete else action

    def for_evaluation(self, trial_scale: int = 1, stream_window: int | None = None) -> Policy:
        """This policy with its token caches sized for an evaluation (the parameters do not
        depend on the cache sizes, so the same parameters act in the returned policy).

        * ``trial_scale > 1`` (a model with a token cache on a trial task): the caches grow
          to cover the longer trials, so the agent is tested on a longer context rather
          than silently streaming.
        * ``stream_window=W``: keep only the most recent ``W`` cached tokens, the oldest
          dropped first and positions not re-indexed (the Memo paper's streaming
          evaluation). FCT: a ring of ``W`` steps. Memo: as many summary sets as fit
          beside one segment, ``(W - segment_length) // summary_length``; RMT keeps one.

        Acting always uses the fixed segment length, so ``segment_jitter`` is dropped.
        Returns ``self`` when nothing changes.

        Raises:
            ValueError: ``stream_window`` for a model without a token cache, below 1, or
                (memo, rmt) smaller than one segment plus its summaries.
        """
        c = self.config
        cached = self.memory.token_cache
        if stream_window is None and (trial_scale == 1 or not cached):
            return self
        if not cached:
            raise ValueError(
                f"stream_window: the {c.agent!r} agent keeps no token cache to stream; it "
                f"applies to {', '.join(memory_names_with_cache())}"
            )
        d = c.decoder_settings()
        context = d.max_context
        if self.trials:
            context = max(context, int(self.env_params.trial_length) * trial_scale)
        if stream_window is not None:
            if stream_window < 1:
                raise ValueError(f"stream_window: got {stream_window}, expected an int >= 1")
            if not self.memory.segments:
                context = stream_window
            else:
                least = d.segment_length + d.summary_length
                if stream_window < least:
                    raise ValueError(
                        f"stream_window: got {stream_window}, smaller than one segment plus "
                        f"its summaries (segment_length {d.segment_length} + summary_length "
                        f"{d.summary_length} = {least} tokens)"
                    )
                sets = (stream_window - d.segment_length) // d.summary_length
                context = sets * d.segment_length  # MemoMemory keeps max_context // segment
        return Policy(
            dataclasses.replace(
                c,
                max_context=context,
                segment_length=d.segment_length,
                summary_length=d.summary_length,
                segment_jitter=0.0,
            )
        )


def memory_names_with_cache() -> list[str]:
    """The registered memory models that keep a token cache (``stream_window`` applies)."""
    return [name for name, spec in MEMORY_MODELS.items() if spec.token_cache]
