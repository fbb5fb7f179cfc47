"""The compiled learner: :class:`TrainState` (everything one update reads and writes) and
:class:`Trainer` (``init`` and ``update``, one program each, optionally vmapped over seeds
and sharded over devices).

One update = a rollout of ``num_steps`` steps in ``num_envs`` vmapped environments
(:mod:`engram.ppo.rollout`, same-step autoreset), GAE (:mod:`engram.ppo.gae`), then
``num_epochs`` passes over ``num_minibatches`` minibatches (:mod:`engram.ppo.loss`). A
minibatch is a set of whole per-environment rollout sequences, replayed through the memory
model's ``sequence`` operation from the carry stored at the rollout's start, so every
memory model learns through the same code path.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from engram.core.wrappers import AutoReset
from engram.policy import Policy
from engram.ppo.gae import rollout_advantages
from engram.ppo.loss import minibatch_loss, training_batch
from engram.ppo.rollout import rollout


@struct.dataclass
class TrainState:
    """Everything one update reads and writes (a pytree; checkpointed as a whole)."""

    params: Any
    opt_state: Any
    env_state: Any
    obs: Any
    carry: Any
    reset: jax.Array  # (B,) the current observation starts an episode
    episode_return: jax.Array  # (B,) running return of the current episodes
    episode_length: jax.Array  # (B,)
    ground_truth: jax.Array  # (B, G) info["ground_truth"] of the current observation; G=0: unused
    key: jax.Array
    update: jax.Array  # int32 number of updates done


class Trainer:
    """The compiled pieces of one training configuration.

    ``init(key) -> TrainState`` and ``update(state) -> (state, metrics)`` are jitted;
    ``metrics`` holds per-update means of the losses and sums over the episodes that ended
    during the rollout (``episodes``, ``return_sum``, ``length_sum``, ``success_sum``).
    ``policy`` is the agent being trained (:class:`engram.policy.Policy`).

    Raises:
        ValueError: an invalid configuration (named field), before any compilation.
    """

    def __init__(self, config):
        self.policy = Policy(config)
        self.config = c = self.policy.config
        self.env = AutoReset(self.policy.env)
        # Both anneal linearly over anneal_updates updates and stay constant within an
        # update (neroRL and CleanRL set them once per update); the optimiser counts its
        # steps, epochs x minibatches of them per update.
        self.opt_steps_per_update = c.num_epochs * c.num_minibatches
        self.rollout_steps = c.rollout_steps  # resolved here: it builds the env, untraced
        per_update = optax.linear_schedule(c.lr, c.final_lr, c.anneal_updates)
        self.lr_schedule = lambda count: per_update(count // self.opt_steps_per_update)
        self.ent_coef_schedule = optax.linear_schedule(
            c.ent_coef, c.final_ent_coef, c.anneal_updates
        )
        self.tx = optax.chain(optax.clip_by_global_norm(c.max_grad_norm), self._optimizer())
        # Several seeds: the same programs over a leading seed axis of the state, the update
        # vmapped, the initialisation a loop over the seeds (lax.map). Vmapped, the
        # orthogonal initialisers become batched QR factorisations, and jaxlib 0.10's CPU
        # LAPACK kernels hand a batch to XLA's intra-op thread pool and block until it is
        # done: two of them running at once on a 2-thread pool wait for each other forever
        # (the multi-seed stall of issue 20; scripts/seed_stall.py). One seed at a time,
        # each QR is a single matrix and runs on its own thread.
        if c.num_seeds > 1:
            init, update = (lambda keys: jax.lax.map(self._init, keys)), jax.vmap(self._update)
        else:
            init, update = self._init, self._update
        self.mesh = Mesh(np.asarray(jax.devices()[: c.num_devices]), ("env",))
        if c.num_devices == 1:  # nothing to place: plain programs on the default device
            self.init = jax.jit(init)
            self.update = jax.jit(update)
            return
        shardings = self._state_shardings()
        replicated = NamedSharding(self.mesh, PartitionSpec())
        self.init = jax.jit(init, out_shardings=shardings)
        self.update = jax.jit(update, out_shardings=(shardings, replicated))

    def _optimizer(self) -> optax.GradientTransformation:
        """The configured optimiser (:meth:`engram.config.TrainConfig.optimizer_settings`);
        AdamW decays every parameter, as ``torch.optim.AdamW`` does."""
        o = self.config.optimizer_settings()
        if o["optimizer"] == "adamw":
            return optax.adamw(self.lr_schedule, eps=o["adam_eps"], weight_decay=o["weight_decay"])
        return optax.adam(self.lr_schedule, eps=o["adam_eps"])

    def seed_keys(self) -> jax.Array:
        """The key(s) :meth:`init` takes: one key, or ``(num_seeds,)`` keys of the seeds
        ``seed .. seed + num_seeds - 1``."""
        c = self.config
        if c.num_seeds == 1:
            return jax.random.key(c.seed)
        return jax.vmap(jax.random.key)(jnp.arange(c.seed, c.seed + c.num_seeds))

    def initial_state(self) -> TrainState:
        """A fresh state of the configured seed(s)."""
        return self.init(self.seed_keys())

    def state_shapes(self) -> TrainState:
        """The shapes and dtypes of :meth:`initial_state` (traced, nothing runs)."""
        return jax.eval_shape(self.init, self.seed_keys())

    def seed_params(self, ts: TrainState, index: int):
        """The parameters of the ``index``-th seed of ``ts``.

        Raises:
            ValueError: ``index`` is not in ``[0, num_seeds)``.
        """
        n = self.config.num_seeds
        if not 0 <= index < n:
            raise ValueError(f"seed_index: got {index}, the run has {n} seed(s)")
        return ts.params if n == 1 else jax.tree.map(lambda x: x[index], ts.params)

    def _state_shardings(self) -> TrainState:
        """Where each leaf of the TrainState lives: everything with one row per
        environment is split along that axis across the mesh; parameters, optimiser
        state, key and counter are replicated. One device: everything on it."""
        lead = (None,) if self.config.num_seeds > 1 else ()  # the seed axis stays whole
        batch = NamedSharding(self.mesh, PartitionSpec(*lead, "env"))
        replicated = NamedSharding(self.mesh, PartitionSpec())
        shapes = jax.eval_shape(self._init, jax.random.key(0))
        per_env = (
            "env_state",
            "obs",
            "carry",
            "reset",
            "episode_return",
            "episode_length",
            "ground_truth",
        )
        return shapes.replace(
            **{
                f.name: jax.tree.map(
                    lambda _, f=f: batch if f.name in per_env else replicated,
                    getattr(shapes, f.name),
                )
                for f in dataclasses.fields(shapes)
            }
        )

    def _init(self, key) -> TrainState:
        c, policy = self.config, self.policy
        k_param, k_env, key = jax.random.split(key, 3)
        obs, env_state = jax.vmap(self.env.reset, in_axes=(0, None))(
            jax.random.split(k_env, c.num_envs), policy.env_params
        )
        carry = policy.initial_carry(c.num_envs)
        reset = jnp.ones((c.num_envs,), bool)
        seq_obs = jax.tree.map(lambda x: x[None], obs)
        params = policy.agent.init(k_param, carry, seq_obs, reset[None], aux=True)
        return TrainState(
            params=params,
            opt_state=self.tx.init(params),
            env_state=env_state,
            obs=obs,
            carry=carry,
            reset=reset,
            episode_return=jnp.zeros((c.num_envs,), jnp.float32),
            episode_length=jnp.zeros((c.num_envs,), jnp.int32),
            ground_truth=jnp.zeros((c.num_envs, policy.ground_truth_dims), jnp.float32),
            key=key,
            update=jnp.zeros((), jnp.int32),
        )

    def _update(self, ts: TrainState):
        c, policy = self.config, self.policy
        carry0 = ts.carry
        ts, traj, stats = rollout(policy, ts, self.rollout_steps)
        _, _, next_value = policy.act(ts.params, ts.carry, ts.obs, ts.reset)
        adv, ret = rollout_advantages(
            traj, next_value, c.gamma, c.gae_lambda, c.bootstrap_truncation
        )
        batch = training_batch(traj, adv, ret)
        ent_coef = self.ent_coef_schedule(ts.update)
        per_mb = c.num_envs // c.num_minibatches
        grad_fn = jax.value_and_grad(lambda p, *a: minibatch_loss(policy, p, *a), has_aux=True)

        def epoch(carry, key):
            params, opt_state = carry
            order = jax.random.permutation(key, c.num_envs).reshape(c.num_minibatches, per_mb)
            mb_keys = jax.random.split(jax.random.fold_in(key, 1), c.num_minibatches)

            def minibatch(carry, inp):
                params, opt_state = carry
                idx, mb_key = inp
                mb = jax.tree.map(lambda x: jnp.take(x, idx, axis=1), batch)
                mb_carry = jax.tree.map(lambda x: jnp.take(x, idx, axis=0), carry0)
                (loss, metrics), grads = grad_fn(params, mb_carry, mb, ent_coef, mb_key)
                updates, opt_state = self.tx.update(grads, opt_state, params)
                params = optax.apply_updates(params, updates)
                metrics = dict(metrics, loss=loss, grad_norm=optax.tree.norm(grads))
                return (params, opt_state), metrics

            # Unrolled on purpose: XLA:CPU runs convolution gradients inside a while loop
            # about 8x slower than the same ops unrolled (measured: 8 minibatches of a
            # 16 x 128 rollout take 40 s in a scan and 4 s unrolled).
            return jax.lax.scan(minibatch, (params, opt_state), (order, mb_keys), unroll=True)

        key, k_perm = jax.random.split(ts.key)
        (params, opt_state), metrics = jax.lax.scan(
            epoch, (ts.params, ts.opt_state), jax.random.split(k_perm, c.num_epochs), unroll=True
        )
        metrics = jax.tree.map(jnp.mean, metrics)
        metrics.update(stats)
        metrics["learning_rate"] = self.lr_schedule(ts.update * self.opt_steps_per_update)
        metrics["ent_coef"] = ent_coef
        ts = ts.replace(params=params, opt_state=opt_state, key=key, update=ts.update + 1)
        return ts, metrics
