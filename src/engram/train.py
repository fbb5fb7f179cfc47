"""PPO training of memory agents: ``Trainer`` (the jit-compiled ``init`` and ``update``) and
``train`` (the host loop with progress output, TensorBoard, checkpoints and the final
evaluation).

One update = a rollout of ``num_steps`` steps in ``num_envs`` vmapped environments (with
same-step autoreset), GAE, then ``num_epochs`` passes over ``num_minibatches`` minibatches.
A minibatch is a set of whole per-environment rollout sequences, replayed through the
memory model's ``sequence`` operation from the carry stored at the rollout's start, so every
memory model learns through the same code path.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec

import engram
from engram.config import TrainConfig
from engram.core.params import parse_options
from engram.core.spaces import Discrete, MultiDiscrete
from engram.core.wrappers import AutoReset, autoreset_step_batch
from engram.models import (
    DECODER_MEMORIES,
    ActorCritic,
    encoder_for,
    log_prob_entropy,
    sample_action,
)
from engram.ppo import gae, ppo_loss


def action_dims(space) -> tuple[int, ...]:
    """Categories per action component of a Discrete or MultiDiscrete space."""
    if isinstance(space, Discrete):
        return (int(space.n),)
    if isinstance(space, MultiDiscrete):
        return tuple(int(n) for n in np.asarray(space.nvec))
    raise ValueError(f"action space {space} is not supported (Discrete or MultiDiscrete only)")


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
    """

    def __init__(self, config: TrainConfig):
        config.validate()
        self.config = c = config
        env, self.env_params = engram.make(c.env, **parse_options(c.env_options))
        self.env = AutoReset(env)
        self.dims = action_dims(env.action_space)
        self.discrete = isinstance(env.action_space, Discrete)
        self.has_success = "success" in env.info_at_end
        #: A trial task (engram.core.trials): memory resets at trial starts only.
        self.trials = env.trials
        #: End-of-episode info keys logged as task metrics (charts/<key>), e.g.
        #: commands_completed; return, length and success have charts of their own.
        self.task_metrics = tuple(
            k for k in env.info_at_end if k not in ("reward", "length", "success", "ground_truth")
        )
        self.ground_truth_dims = self._ground_truth_dims(env) if c.ground_truth_estimation else 0
        encoder = encoder_for(env.observation_space)
        if c.obs_reconstruction and encoder != "cnn":
            raise ValueError(
                f"obs_reconstruction: got {c.obs_reconstruction}, but {c.env} has vector "
                "observations; the reconstruction decoder draws 84x84 images (use 0)"
            )
        self.agent = ActorCritic(
            self.dims,
            c.agent,
            c.memory_hidden,
            c.hidden,
            c.shared_body,
            reconstruction=c.obs_reconstruction > 0,
            ground_truth_dims=self.ground_truth_dims,
            encoder=encoder,
            trxl=c.trxl_settings() if c.agent == "trxl" else None,
            attention=c.decoder_settings() if c.agent in DECODER_MEMORIES else None,
        )
        # Memo/RMT draw their segment length per learning pass (segment_jitter).
        self.segment_rng = c.agent in ("memo", "rmt") and c.segment_jitter > 0
        # Both anneal linearly over anneal_updates updates; the learning rate is evaluated
        # per optimiser step (epochs x minibatches of them per update), the entropy
        # coefficient once per update.
        self.opt_steps_per_update = c.num_epochs * c.num_minibatches
        self.lr_schedule = optax.linear_schedule(
            c.lr, c.final_lr, c.anneal_updates * self.opt_steps_per_update
        )
        self.ent_coef_schedule = optax.linear_schedule(
            c.ent_coef, c.final_ent_coef, c.anneal_updates
        )
        self.tx = optax.chain(
            optax.clip_by_global_norm(c.max_grad_norm),
            optax.adam(self.lr_schedule, eps=1e-5),
        )
        # Several seeds: the same programs vmapped over a leading seed axis of the state.
        many = (lambda f: jax.vmap(f)) if c.num_seeds > 1 else (lambda f: f)
        self.mesh = Mesh(np.asarray(jax.devices()[: c.num_devices]), ("env",))
        if c.num_devices == 1:  # nothing to place: plain programs on the default device
            self.init = jax.jit(many(self._init))
            self.update = jax.jit(many(self._update))
            return
        shardings = self._state_shardings()
        replicated = NamedSharding(self.mesh, PartitionSpec())
        self.init = jax.jit(many(self._init), out_shardings=shardings)
        self.update = jax.jit(many(self._update), out_shardings=(shardings, replicated))

    def memory_state_bytes(self) -> int:
        """Bytes of the agent's memory state (the carry) per environment: what acting keeps
        between steps and the learner stores once per rollout (e.g. a GRU-512 carry is 2 KiB;
        Transformer-XL's window ``(memory_length - 1) x blocks x width`` float32)."""
        carry = jax.eval_shape(lambda: self.agent.initial_carry(1))
        return int(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(carry)))

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

    def _ground_truth_dims(self, env) -> int:
        """Size of ``info["ground_truth"]``, found by tracing one step (nothing runs).

        Raises:
            ValueError: the environment reports no ground truth.
        """
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

    # ------------------------------------------------------------------ helpers
    def env_action(self, action):
        """The agent's int32 ``(..., n_components)`` action in the environment's layout:
        a scalar for Discrete, the vector for MultiDiscrete."""
        return action[..., 0] if self.discrete else action

    def act(self, params, carry, obs, reset):
        """One acting step for a batch: ``obs`` leaves ``(B, ...)``, ``reset`` bool ``(B,)``.

        Returns ``(carry, logits float32 (B, sum(action_dims)), value float32 (B,))``.
        """
        return self.agent.apply(params, carry, obs, reset, method=ActorCritic.step)

    def _reset_envs(self, key, n):
        return jax.vmap(self.env.reset, in_axes=(0, None))(
            jax.random.split(key, n), self.env_params
        )

    # ------------------------------------------------------------------ init
    def _init(self, key) -> TrainState:
        c = self.config
        k_param, k_env, key = jax.random.split(key, 3)
        obs, env_state = self._reset_envs(k_env, c.num_envs)
        carry = self.agent.initial_carry(c.num_envs)
        reset = jnp.ones((c.num_envs,), bool)
        seq_obs = jax.tree.map(lambda x: x[None], obs)
        params = self.agent.init(k_param, carry, seq_obs, reset[None], aux=True)
        return TrainState(
            params=params,
            opt_state=self.tx.init(params),
            env_state=env_state,
            obs=obs,
            carry=carry,
            reset=reset,
            episode_return=jnp.zeros((c.num_envs,), jnp.float32),
            episode_length=jnp.zeros((c.num_envs,), jnp.int32),
            ground_truth=jnp.zeros((c.num_envs, self.ground_truth_dims), jnp.float32),
            key=key,
            update=jnp.zeros((), jnp.int32),
        )

    # ------------------------------------------------------------------ update
    def _rollout(self, ts: TrainState):
        c = self.config

        def one_step(s: TrainState, _):
            key, k_act, k_env = jax.random.split(s.key, 3)
            carry, logits, value = self.act(s.params, s.carry, s.obs, s.reset)
            action = sample_action(k_act, logits, self.dims)
            logp, _ = log_prob_entropy(logits, action, self.dims)
            obs, env_state, reward, term, trunc, info = autoreset_step_batch(
                self.env.unwrapped,
                jax.random.split(k_env, c.num_envs),
                s.env_state,
                self.env_action(action),
                self.env_params,
            )
            # The memory resets where the protocol's episode ends (a trial, for trial
            # tasks); advantages, returns and the episode statistics stop at every episode
            # end, including those inside a trial.
            done = term | trunc
            if self.trials:
                ep_term, ep_trunc = info["episode_terminated"], info["episode_truncated"]
                final_obs = info["episode_final_obs"]
            else:
                ep_term, ep_trunc, final_obs = term, trunc, info["final_obs"]
            # A time-limited episode is bootstrapped with the value of its last observation,
            # read by the memory as the continuation of that episode.
            final_value = jax.lax.cond(
                jnp.any(ep_trunc),
                lambda: self.act(s.params, carry, final_obs, jnp.zeros_like(s.reset))[2],
                lambda: jnp.zeros_like(value),
            )
            ep_done = ep_term | ep_trunc
            ep_ret = s.episode_return + reward
            ep_len = s.episode_length + 1
            success = info["success"].astype(bool) if self.has_success else jnp.zeros_like(done)
            stats = {
                "episodes": ep_done.sum(),
                "return_sum": jnp.where(ep_done, ep_ret, 0.0).sum(),
                "length_sum": jnp.where(ep_done, ep_len, 0).sum(),
                "success_sum": (ep_done & success).sum(),
            }
            if self.trials:
                stats["trials"] = done.sum()
                stats["trial_return_sum"] = jnp.where(done, info["trial_return"], 0.0).sum()
            for k in self.task_metrics:
                if k in info and info[k].ndim == 1:  # one number per environment
                    stats[f"task/{k}"] = jnp.where(ep_done, info[k], 0).sum().astype(jnp.float32)
            transition = {
                "obs": s.obs,
                "reset": s.reset,
                "action": action,
                "logp": logp,
                "value": value,
                "reward": reward,
                "terminated": ep_term,
                "truncated": ep_trunc,
                "final_value": final_value,
                "ground_truth": s.ground_truth,
            }
            s = s.replace(
                env_state=env_state,
                obs=obs,
                carry=carry,
                reset=done,
                episode_return=jnp.where(ep_done, 0.0, ep_ret),
                episode_length=jnp.where(ep_done, 0, ep_len),
                ground_truth=(
                    info["ground_truth"].reshape(c.num_envs, -1).astype(jnp.float32)
                    if self.ground_truth_dims
                    else s.ground_truth
                ),
                key=key,
            )
            return s, (transition, stats)

        ts, (traj, stats) = jax.lax.scan(one_step, ts, None, c.num_steps)
        stats = jax.tree.map(lambda x: x.sum(), stats)
        return ts, traj, stats

    def _loss(self, params, carry0, batch, ent_coef, key):
        c = self.config
        rngs = {"segments": key} if self.segment_rng else None
        _, logits, values, aux = self.agent.apply(
            params, carry0, batch["obs"], batch["reset"], aux=True, rngs=rngs
        )
        logp, entropy = log_prob_entropy(logits, batch["action"], self.dims)
        loss, metrics = ppo_loss(
            logp,
            batch["logp"],
            batch["advantages"],
            values,
            batch["value"],
            batch["returns"],
            entropy,
            c.clip,
            c.vf_coef,
            ent_coef,
            c.advantage_normalization,
        )
        if c.obs_reconstruction:
            image = (
                batch["obs"]["visual_observation"]
                if isinstance(batch["obs"], dict)
                else batch["obs"]
            )
            target = image.astype(jnp.float32) / 255.0
            # Binary cross-entropy per pixel, as CleanRL's PPO-TrXL; log clamped like torch's.
            pred = aux["reconstruction"]
            bce = -(
                target * jnp.maximum(jnp.log(pred), -100.0)
                + (1.0 - target) * jnp.maximum(jnp.log1p(-pred), -100.0)
            )
            metrics["reconstruction_loss"] = bce.mean()
            loss = loss + c.obs_reconstruction * metrics["reconstruction_loss"]
        if self.ground_truth_dims:
            # A reset observation's ground truth is not known (the info of that step
            # describes the episode that ended), so those steps are left out.
            err = ((aux["ground_truth"] - batch["ground_truth"]) ** 2).mean(-1)
            keep = (~batch["reset"]).astype(jnp.float32)
            metrics["ground_truth_loss"] = (err * keep).sum() / jnp.maximum(keep.sum(), 1.0)
            loss = loss + c.ground_truth_estimation * metrics["ground_truth_loss"]
        return loss, metrics

    def _update(self, ts: TrainState):
        c = self.config
        carry0 = ts.carry
        ts, traj, stats = self._rollout(ts)
        _, _, next_value = self.act(ts.params, ts.carry, ts.obs, ts.reset)
        adv, ret = gae(
            traj["reward"],
            traj["value"],
            traj["terminated"],
            traj["truncated"],
            next_value,
            traj["final_value"],
            c.gamma,
            c.gae_lambda,
        )
        batch = {k: traj[k] for k in ("obs", "reset", "action", "logp", "value", "ground_truth")}
        batch["advantages"], batch["returns"] = adv, ret
        ent_coef = self.ent_coef_schedule(ts.update)
        per_mb = c.num_envs // c.num_minibatches
        grad_fn = jax.value_and_grad(self._loss, has_aux=True)

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


# ---------------------------------------------------------------------- checkpoints
def _is_key(x) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def save_checkpoint(path: Path, ts: TrainState) -> None:
    """Write ``ts`` to ``path`` atomically: a temporary file, flushed, then renamed, so a
    crash mid-write never leaves a truncated checkpoint behind. Typed PRNG keys are stored
    as their raw key data."""
    raw = jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, ts)
    data = flax.serialization.to_bytes(jax.device_get(raw))
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path, template: TrainState) -> TrainState:
    """Read a checkpoint written by :func:`save_checkpoint` into the structure of ``template``
    (a ``TrainState`` of the same configuration, e.g. ``Trainer(config).init(key)``).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is unreadable (damaged) or does not match the template's
            structure (another configuration).
    """
    raw_template = jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, template)
    data = Path(path).read_bytes()
    try:
        raw = flax.serialization.from_bytes(raw_template, data)
    except Exception as e:  # msgpack and flax raise assorted errors on damaged files
        raise ValueError(f"checkpoint {path} is unreadable ({type(e).__name__}: {e})") from None
    # flax restores whatever arrays the file holds; a checkpoint of another configuration
    # would load silently with the wrong shapes, so compare leaf by leaf.
    paths = jax.tree_util.tree_flatten_with_path(raw_template)[0]
    for (where, want), got in zip(paths, jax.tree.leaves(raw), strict=True):
        if np.shape(got) != np.shape(want) or np.asarray(got).dtype != want.dtype:
            raise ValueError(
                f"checkpoint {path}: {jax.tree_util.keystr(where)} has shape "
                f"{np.shape(got)} {np.asarray(got).dtype}, the configuration expects "
                f"{np.shape(want)} {want.dtype}; was it written with another configuration?"
            )
    return jax.tree.map(
        lambda t, x: jax.random.wrap_key_data(x) if _is_key(t) else jnp.asarray(x), template, raw
    )


# ---------------------------------------------------------------------- host loop
class NonFiniteLossError(RuntimeError):
    """Raised when a loss becomes NaN or infinite; the last good checkpoint is kept."""


def _run_folder(c: TrainConfig) -> Path:
    name = c.run_name or f"{c.env}__{c.agent}__{c.seed}__{time.strftime('%Y%m%d-%H%M%S')}"
    path = Path(c.run_dir) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


CHECKPOINT = "checkpoint.msgpack"


def open_run(run_dir: str | Path) -> tuple[TrainConfig, Trainer, TrainState]:
    """Load a run folder written by :func:`train`: its configuration, the compiled
    trainer and the last checkpoint.

    Raises:
        ValueError: the folder, its ``config.json`` or its checkpoint is missing, or the
            checkpoint is unreadable (corrupt) or of another configuration. Nothing is
            written.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise ValueError(f"resume: {run} is not a folder")
    if not (run / "config.json").is_file():
        raise ValueError(f"resume: {run} has no config.json; is it a run folder of engram train?")
    if not (run / CHECKPOINT).is_file():
        raise ValueError(f"resume: {run} has no {CHECKPOINT} (the run stopped before its first)")
    config = TrainConfig.from_file(run / "config.json")
    trainer = Trainer(config)
    template = trainer.initial_state()
    return config, trainer, load_checkpoint(run / CHECKPOINT, template)


def _log_eval(writer, summary: dict, step: int) -> None:
    writer.add_scalar("eval/episodic_return", summary["mean_return"], step)
    writer.add_scalar("eval/episodic_length", summary["mean_length"], step)
    if summary["success_rate"] is not None:
        writer.add_scalar("eval/success", summary["success_rate"], step)


def _start_wandb(c: TrainConfig, run: Path):
    """Start (or, for a resumed run, continue) the Weights & Biases run of ``run``; the
    TensorBoard events are synced to it, so both show the same metrics."""
    try:
        import wandb
    except ImportError:
        raise ImportError('--track needs wandb: pip install "engram[track]"') from None
    return wandb.init(
        project=c.wandb_project,
        entity=c.wandb_entity,
        name=run.name,
        id=run.name.replace(":", "-"),
        resume="allow",
        config=c.resolved(),
        dir=str(run),
        sync_tensorboard=True,
    )


def train(config: TrainConfig, console=None) -> dict:
    """Train, printing progress, and evaluate the final policy.

    Writes to ``run_dir/run_name``: ``config.json``, TensorBoard events (CleanRL metric
    names), ``checkpoint.msgpack`` and ``eval.json``. With ``config.resume`` set, the run
    in that folder continues from its last checkpoint with its saved configuration; on a
    CPU the result is bit for bit that of an uninterrupted run. Ctrl-C writes a checkpoint
    of the last completed update before stopping.

    Returns:
        the evaluation summary (also in ``eval.json``) plus ``run_dir``.

    Raises:
        ValueError: for an invalid configuration or resume folder (before compilation).
        NonFiniteLossError: if a loss becomes NaN or infinite.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from tensorboardX import SummaryWriter

    from engram.eval import LEVEL_SEED_OFFSET, evaluate, interval_estimates, merge_seeds

    console = console or Console()
    if config.distributed:
        jax.distributed.initialize()  # reads the cluster from the environment
    if config.resume is not None:
        run = Path(config.resume)
        c, trainer, ts = open_run(run)
        done = int(np.max(ts.update))  # one counter per seed, all equal
        console.print(f"resuming {run} after update {done}/{c.num_updates}")
    else:
        config.validate()
        c = config
        run = _run_folder(c)
        # The resolved configuration: per-environment defaults filled in.
        (run / "config.json").write_text(json.dumps(c.resolved(), indent=2))
        trainer = Trainer(c)
        ts = trainer.initial_state()
        done = 0
    steps_per_update = c.num_envs * c.num_steps
    seeds = list(range(c.seed, c.seed + c.num_seeds))
    wandb_run = _start_wandb(c, run) if c.track else None
    # One event folder per seed (the run folder itself for one seed). Events after the
    # checkpoint were written by the killed process: purge_step drops them.
    folders = [run] if len(seeds) == 1 else [run / f"seed_{s}" for s in seeds]
    purge = done * steps_per_update if done else None
    writers = [SummaryWriter(str(f), purge_step=purge) for f in folders]
    if not done:
        for writer in writers:
            writer.add_text("config", json.dumps(c.resolved(), indent=2))
    console.print(
        f"[bold]engram train[/bold] {c.env} agent={c.agent} "
        f"seed={c.seed if len(seeds) == 1 else f'{seeds[0]}..{seeds[-1]}'}: "
        f"{c.num_updates} updates of {c.num_envs} envs x {c.num_steps} steps "
        f"on {c.num_devices} {jax.devices()[0].platform.upper()} device(s) -> {run}"
    )
    # The same unseen levels for the agent and the random baseline, at every evaluation.
    levels = dict(
        levels=c.eval_levels, repetitions=c.eval_repetitions, seed=c.seed + LEVEL_SEED_OFFSET
    )

    if len(seeds) > 1:
        console.print(
            "[yellow]--num-seeds is experimental: on CPU a vmapped multi-seed update has been "
            "seen to stall inside XLA; if progress stops, train the seeds one by one.[/yellow]"
        )

    def evaluate_seeds(state: TrainState, **kw) -> list[dict]:
        return [
            evaluate(trainer, trainer.seed_params(state, i), **levels, **kw)
            for i in range(len(seeds))
        ]

    state_bytes = trainer.memory_state_bytes()
    console.print(
        f"memory state: {state_bytes / 1024:,.1f} KiB per environment "
        f"({state_bytes * c.num_envs / 2**20:,.1f} MiB for {c.num_envs} environments)"
    )
    console.print("compiling the update (takes a minute on a CPU) ...")
    total_steps = c.num_updates * steps_per_update
    recent: list[tuple[float, float, float]] = []  # (episodes, return sum, success sum)
    ckpt = run / CHECKPOINT
    start = time.time()
    measured_from, measured_steps = None, 0
    columns = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} steps"),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(
            "training", total=total_steps, completed=done * steps_per_update, info=""
        )
        for u in range(done + 1, c.num_updates + 1):
            try:
                ts, m = trainer.update(ts)
            except KeyboardInterrupt:
                save_checkpoint(ckpt, ts)  # ts is the last completed update
                progress.console.print(
                    f"interrupted: checkpoint of update {int(np.max(ts.update))} written; "
                    f"continue with  engram train --resume {run}"
                )
                raise
            m = jax.tree.map(np.asarray, jax.device_get(m))
            losses = ("loss", "policy_loss", "value_loss")
            if not all(np.isfinite(m[k]).all() for k in losses):
                raise NonFiniteLossError(
                    f"update {u}: loss is not finite (loss={m['loss']}, policy_loss="
                    f"{m['policy_loss']}, value_loss={m['value_loss']}); stopping. The last "
                    f"good checkpoint is {ckpt if ckpt.exists() else 'not written yet'}."
                )
            now = time.time()
            if measured_from is None:  # the first update of a process includes compilation
                measured_from = now
            else:
                measured_steps += steps_per_update * len(seeds)
            sps = measured_steps / max(now - measured_from, 1e-9) if measured_steps else 0.0
            step = u * steps_per_update
            for i, writer in enumerate(writers):
                seed_metrics = jax.tree.map(lambda x, i=i: x.reshape(-1)[i], m)
                _log_update(writer, seed_metrics, step, sps / len(seeds), trainer.has_success)
            # Progress: the episodes of the last 10 updates, all seeds pooled.
            counts = ("episodes", "return_sum", "success_sum", "trials", "trial_return_sum")
            recent = (recent + [[float(m[k].sum()) if k in m else 0.0 for k in counts]])[-10:]
            n, ret, succ, trials, trial_ret = (sum(r[i] for r in recent) for i in range(5))
            ret, succ = (ret / n, succ / n) if n else (float("nan"), float("nan"))
            info = f"SPS {sps:,.0f}  return {ret:.3f}" if measured_steps else f"return {ret:.3f}"
            if trainer.has_success:
                info += f"  success {succ:.2f}"
            if trainer.trials:
                info += f"  trial return {trial_ret / trials if trials else float('nan'):.2f}"
            progress.update(task, completed=step, info=info)
            if u == done + 1:
                progress.console.print(
                    f"first update (with compilation) took {now - start:.0f} s; return and "
                    "success are means over the episodes of the last 10 updates"
                    + (" of all seeds" if len(seeds) > 1 else "")
                )
            if u == done + 1 or u % max(1, c.num_updates // 20) == 0 or u == c.num_updates:
                progress.console.print(f"update {u:>5}/{c.num_updates}  steps {step:>9,}  {info}")
            if c.checkpoint_every and u % c.checkpoint_every == 0:
                save_checkpoint(ckpt, ts)
            if c.eval_every and u % c.eval_every == 0 and u != c.num_updates:
                periodic = evaluate_seeds(ts, deterministic=c.eval_deterministic)
                for writer, r in zip(writers, periodic, strict=True):
                    _log_eval(writer, r, step)
                merged = merge_seeds(periodic)
                line = f"update {u:>5}: eval return {merged['mean_return']:.3f}"
                if merged["success_rate"] is not None:
                    line += f", success {merged['success_rate']:.2f}"
                progress.console.print(line)
    save_checkpoint(ckpt, ts)
    elapsed = time.time() - start
    console.print(f"trained {total_steps * len(seeds):,} steps in {elapsed:.0f} s")
    peak = peak_device_memory()
    if peak is not None:
        console.print(f"peak accelerator memory: {peak / 2**30:.2f} GiB")
    console.print(
        f"evaluating on {c.eval_levels} unseen levels x {c.eval_repetitions} episodes ..."
    )
    per_seed = evaluate_seeds(ts, deterministic=c.eval_deterministic)
    baseline = evaluate(trainer, trainer.seed_params(ts, 0), random_policy=True, **levels)
    for writer, r in zip(writers, per_seed, strict=True):
        _log_eval(writer, r, total_steps)
        writer.close()
    summary = merge_seeds(per_seed)
    if len(seeds) > 1:
        summary["seeds"] = seeds
        summary["per_seed"] = per_seed
    summary.update({f"return_{k}": v for k, v in interval_estimates(summary["returns"]).items()})
    summary.update(
        train_seconds=elapsed,
        train_steps=total_steps,
        random_policy_mean_return=baseline["mean_return"],
        random_policy_success_rate=baseline["success_rate"],
        memory_state_bytes_per_env=state_bytes,
        peak_device_memory_bytes=peak,
    )
    (run / "eval.json").write_text(json.dumps(summary, indent=2))
    if wandb_run is not None:
        wandb_run.finish()
    line = (
        f"eval: return {summary['mean_return']:.3f} +- {summary['std_return']:.3f} "
        f"(IQM {summary['return_iqm']:.3f})"
    )
    if summary.get("success_rate") is not None:
        line += f", success {summary['success_rate']:.2f}"
    if len(seeds) > 1:
        means = ", ".join(f"{r['mean_return']:.3f}" for r in per_seed)
        line += f"; per seed {means}"
    line += f"; a random policy on the same levels: {baseline['mean_return']:.3f}"
    console.print(line + f"  (saved to {run / 'eval.json'})")
    summary["run_dir"] = str(run)
    return summary


def peak_device_memory() -> int | None:
    """Peak bytes in use on the first device since the process started, where the backend
    reports it (GPUs and TPUs); None on CPUs, which keep no such count."""
    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return int(peak) if peak is not None else None


def program_bytes(compiled) -> int | None:
    """Bytes XLA's buffer assignment holds at once for a compiled program (``jit(f).lower(
    ...).compile()``): arguments + outputs + temporaries - donated (aliased) buffers; None
    where the backend reports no memory analysis."""
    mem = compiled.memory_analysis()
    if mem is None:
        return None
    return int(
        mem.argument_size_in_bytes
        + mem.output_size_in_bytes
        + mem.temp_size_in_bytes
        - mem.alias_size_in_bytes
    )


def _log_update(writer, m: dict, step: int, sps: float, has_success: bool) -> None:
    """One update's metrics of one seed, under CleanRL's names."""
    if m.get("trials"):
        writer.add_scalar("charts/trial_return", m["trial_return_sum"] / m["trials"], step)
    if m["episodes"]:
        writer.add_scalar("charts/episodic_return", m["return_sum"] / m["episodes"], step)
        writer.add_scalar("charts/episodic_length", m["length_sum"] / m["episodes"], step)
        if has_success:
            writer.add_scalar("charts/success", m["success_sum"] / m["episodes"], step)
        for k in m:
            if k.startswith("task/"):
                writer.add_scalar(f"charts/{k[5:]}", m[k] / m["episodes"], step)
    writer.add_scalar("charts/SPS", sps, step)
    writer.add_scalar("charts/learning_rate", m["learning_rate"], step)
    writer.add_scalar("charts/entropy_coef", m["ent_coef"], step)
    for k in ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac", "loss"):
        writer.add_scalar(f"losses/{k}", m[k], step)
    for k in ("reconstruction_loss", "ground_truth_loss"):
        if k in m:
            writer.add_scalar(f"losses/{k}", m[k], step)
