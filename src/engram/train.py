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
import importlib.util
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec

import engram
from engram.core.params import parse_options, resolve
from engram.core.spaces import Discrete, MultiDiscrete
from engram.core.wrappers import AutoReset, autoreset_step_batch
from engram.models import (
    DECODER_MEMORIES,
    ActorCritic,
    DecoderMemorySettings,
    TransformerXLSettings,
    encoder_for,
    log_prob_entropy,
    sample_action,
)
from engram.models.memo import segment_length_range
from engram.ppo import gae, ppo_loss
from engram.presets import trxl_defaults

# CleanRL's PPO-TrXL benchmark on Memory Gym normalises advantages for MM-Grid only
# (reference section 5.1); the paper's neroRL runs never do.
_NORMALIZE_ADVANTAGES_BY_DEFAULT = frozenset({"MortarMayhem-Grid-v0"})


@dataclass
class TrainConfig:
    """PPO with a memory agent on one environment id.

    PPO and network defaults are the Memory Gym paper's (reference section 5.1): gamma
    0.995, lambda 0.95, clip 0.1, 3 epochs, 8 minibatches, value coefficient 0.5, gradient
    norm 0.25, learning rate 2.75e-4 -> 1e-5 and entropy 1e-4 -> 1e-6 annealed linearly over
    10,000 updates, Atari CNN + GRU 512 + dense 512; advantages are normalised only on
    MortarMayhem-Grid-v0, as in CleanRL's Memory Gym benchmark. The rollout (16 envs x 128
    steps) and the budget (100,000 steps) are far smaller than the paper's (32 x 512,
    163.8 M steps on the grid tasks) so that the default run finishes on a CPU: about 11
    minutes on 2 cores (160 steps/s). It shows learning starting (the return of
    MortarMayhem-Grid-v0 doubles that of a random policy), not the paper's results.
    """

    env: str = "MortarMayhem-Grid-v0"
    """Environment id (see ``engram.registered_ids()``)."""
    env_options: tuple[str, ...] = ()
    """Reset parameters of the environment as name=value (the original's names), e.g.
    ``show_origin=False``."""
    agent: Literal["gru", "lstm", "trxl", "fct", "memo", "rmt", "none"] = "gru"
    """Memory model: a GRU (the paper's), an LSTM, Transformer-XL (the paper's episodic
    sliding-window transformer), the Memo paper's full-context transformer (fct), Memo
    (accumulated summary tokens), RMT (only the newest summary tokens), or none
    (memory-less baseline)."""
    total_steps: int = 100_000
    """Environment steps to train for (rounded down to whole updates)."""
    num_envs: int = 16
    """Environments stepped in parallel (the paper: 32 workers)."""
    num_steps: int = 128
    """Steps per environment per rollout (the paper: 512)."""
    num_epochs: int = 3
    """Passes over each rollout."""
    num_minibatches: int = 8
    """Minibatches per epoch; each holds num_envs / num_minibatches whole sequences."""
    gamma: float = 0.995
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip: float = 0.1
    """PPO clip range (also clips the value update)."""
    vf_coef: float = 0.5
    """Value-loss coefficient."""
    max_grad_norm: float = 0.25
    """Global gradient-norm clip."""
    lr: float = 2.75e-4
    """Initial learning rate (Adam)."""
    final_lr: float = 1e-5
    """Learning rate after ``anneal_updates`` updates."""
    ent_coef: float = 1e-4
    """Initial entropy coefficient."""
    final_ent_coef: float = 1e-6
    """Entropy coefficient after ``anneal_updates`` updates."""
    anneal_updates: int = 10_000
    """Updates over which learning rate and entropy coefficient decay linearly."""
    normalize_advantages: bool | None = None
    """Normalise advantages per minibatch. Default (None): on for MortarMayhem-Grid-v0, as
    CleanRL's Memory Gym benchmark does, off elsewhere, as in the paper."""
    memory_hidden: int = 512
    """Hidden size of the recurrent memory (GRU or LSTM)."""
    hidden: int = 512
    """Units of the post-memory layer."""
    trxl_num_layers: int | None = None
    """Transformer-XL blocks (default: the paper's, 3; 2 on MysteryPath-Grid-v0)."""
    trxl_dim: int | None = None
    """Transformer-XL embedding width (default: the paper's, 384; 256 on MysteryPath-Grid-v0)."""
    trxl_num_heads: int = 4
    """Transformer-XL attention heads; must divide trxl_dim."""
    trxl_memory_length: int | None = None
    """Transformer-XL window in steps, the current one included (default: the paper's per
    environment, e.g. 275 on MortarMayhem-v0, 119 on MortarMayhem-Grid-v0, 256 on the endless
    ids; elsewhere the whole episode up to 256). At most the environment's episode cap."""
    trxl_positional_encoding: bool | None = None
    """Add the absolute sinusoidal encoding of episode positions to the memory (default: the
    paper's, on; off on MysteryPath-Grid-v0)."""
    trxl_query_positional_encoding: bool = False
    """Add the positional encoding to the query too (the paper's "QPos" variants)."""
    trxl_gated: bool = False
    """GTrXL gating instead of residual connections (the paper's ablation)."""
    decoder_num_layers: int = 4
    """fct/memo/rmt: decoder layers (the Memo paper: 4)."""
    decoder_width: int = 256
    """fct/memo/rmt: model width (the Memo paper: 256)."""
    decoder_num_heads: int = 8
    """fct/memo/rmt: attention heads; must divide decoder_width into an even head size."""
    decoder_mlp_hidden: int = 1024
    """fct/memo/rmt: hidden units of the gated MLP (the Memo paper: 1024)."""
    max_context: int | None = None
    """fct/memo/rmt: steps of a memory episode (a trial on trial tasks, else an episode) the
    caches hold before dropping their oldest entries. Default: the trial length on trial
    tasks, else the episode cap, else 4096 (the Memo paper's training trials)."""
    segment_length: int | None = None
    """memo/rmt: steps summarised at a time. Default: the Memo paper's 256, or a quarter of
    max_context where max_context is under 1024 steps."""
    summary_length: int | None = None
    """memo/rmt: summary tokens written per segment; fewer than segment_length. Default:
    segment_length / 8 (the Memo paper's 32 for 256)."""
    segment_jitter: float = 0.2
    """memo/rmt: in learning, the segment length is drawn uniformly within +-this fraction
    of segment_length for every forward pass (the Memo paper: 0.2); acting uses the fixed
    length."""
    shared_body: bool = True
    """One encoder-memory body for policy and value (the paper's), or one each."""
    obs_reconstruction: float = 0.0
    """Coefficient of the observation-reconstruction auxiliary loss, a transposed-CNN
    decoder on the memory output (the paper's "+ Obs. Rec." uses 0.1); 0: off."""
    ground_truth_estimation: float = 0.0
    """Coefficient of the ground-truth-estimation auxiliary loss, a head predicting
    info["ground_truth"] (endless ids only; the paper's "+ GT" uses 0.1); 0: off."""
    seed: int = 0
    """Seed of parameters, environments and actions."""
    num_seeds: int = 1
    """Train this many independent seeds (seed, seed+1, ...) in one program with vmap;
    seed k gives the run that --seed seed+k alone gives."""
    devices: int | None = None
    """Shard the environment batch across this many devices of the default backend
    (parameters replicated); default all of them. Must divide num_envs."""
    distributed: bool = False
    """Call jax.distributed.initialize() first (a run launched on several hosts)."""
    run_dir: str = "runs"
    """Folder that receives one sub-folder per run."""
    run_name: str | None = None
    """Name of this run's folder (default: env__agent__seed__time)."""
    checkpoint_every: int = 10
    """Write a checkpoint every this many updates (and always at the end); 0: only at the end."""
    eval_levels: int = 50
    """Level seeds of the final evaluation, none used in training (the paper: 50)."""
    eval_repetitions: int = 3
    """Episodes per evaluation level (the paper: 3)."""
    eval_deterministic: bool = False
    """Evaluate with the most likely action instead of sampling."""
    eval_every: int = 0
    """Also evaluate every this many updates (logged as eval/*); 0: only at the end."""
    track: bool = False
    """Log to Weights & Biases as well (TensorBoard events are synced; needs wandb)."""
    wandb_project: str = "engram"
    """Weights & Biases project of --track."""
    wandb_entity: str | None = None
    """Weights & Biases entity (team or user) of --track; default your own."""
    config: str | None = None
    """Read the defaults of every option from this JSON file (e.g. a run's config.json),
    or ``paper`` for the Memory Gym paper's configuration of --env; options given on the
    command line override it."""
    resume: str | None = None
    """Continue the run in this folder from its last checkpoint, with the configuration
    saved there (no other option may be given)."""

    #: Fields that say how to start, not what to train: not saved with a run.
    LAUNCH_FIELDS = ("config", "resume")

    @classmethod
    def from_dict(cls, values: dict, source: str = "configuration") -> TrainConfig:
        """Build a config from a dict such as a run's ``config.json``.

        Raises:
            ValueError: naming the unknown keys (e.g. a file of another program).
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"{source}: unknown option(s) {unknown}; known: {sorted(names)}")
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Read a config from a JSON file (a run's ``config.json`` or one written by hand).

        Raises:
            ValueError: the file is missing, not JSON, or has unknown keys.
        """
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"config: {path} does not exist") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"config: {path} is not valid JSON ({e})") from None
        if not isinstance(values, dict):
            raise ValueError(f"config: {path} must hold a JSON object of options")
        if "env_options" in values:  # JSON has lists where the dataclass has tuples
            values["env_options"] = tuple(values["env_options"])
        return cls.from_dict(values, source=f"config {path}")

    def resolved(self) -> dict:
        """The configuration a run saves: per-environment defaults filled in, launch
        fields (``config``, ``resume``) left out."""
        out = dataclasses.asdict(self)
        out["normalize_advantages"] = self.advantage_normalization
        if self.agent == "trxl":
            for name, value in dataclasses.asdict(self.trxl_settings()).items():
                out[f"trxl_{name}"] = value
        if self.agent in DECODER_MEMORIES:
            d = self.decoder_settings()
            out.update(
                max_context=d.max_context,
                segment_length=d.segment_length,
                summary_length=d.summary_length,
            )
        for name in self.LAUNCH_FIELDS:
            out.pop(name)
        out["env_options"] = list(self.env_options)
        return out

    def validate(self) -> None:
        """Check every field before anything is compiled.

        Raises:
            ValueError: naming the field, the value and what is allowed.
        """
        # An unknown id, reset parameter or value raises here, before any compilation.
        resolve(engram.reset_parameters(self.env), parse_options(self.env_options))
        for name in (
            "total_steps",
            "num_envs",
            "num_steps",
            "num_epochs",
            "num_minibatches",
            "memory_hidden",
            "hidden",
            "anneal_updates",
            "eval_levels",
            "eval_repetitions",
            "num_seeds",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: got {value!r}, must be a positive integer")
        if self.num_envs % self.num_minibatches:
            raise ValueError(
                f"num_minibatches: got {self.num_minibatches}, must divide num_envs "
                f"({self.num_envs}) because minibatches are whole environment sequences"
            )
        if self.total_steps < self.num_envs * self.num_steps:
            raise ValueError(
                f"total_steps: got {self.total_steps}, must be at least one rollout "
                f"(num_envs x num_steps = {self.num_envs * self.num_steps})"
            )
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: got {getattr(self, name)}, must be in [0, 1]")
        for name in ("clip", "lr", "final_lr", "max_grad_norm"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: got {getattr(self, name)}, must be > 0")
        available = len(jax.devices())
        if self.devices is not None and not 1 <= self.devices <= available:
            raise ValueError(
                f"devices: got {self.devices}, this machine has {available} "
                f"{jax.default_backend().upper()} device(s)"
            )
        if self.num_envs % self.num_devices:
            raise ValueError(
                f"num_envs: got {self.num_envs}, must be a multiple of the {self.num_devices} "
                "devices the environment batch is sharded across (see --devices)"
            )
        if self.track and importlib.util.find_spec("wandb") is None:
            raise ValueError(
                'track: Weights & Biases is not installed: pip install "engram[track]"'
            )
        for name in (
            "checkpoint_every",
            "eval_every",
            "obs_reconstruction",
            "ground_truth_estimation",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: got {getattr(self, name)}, must be >= 0")
        if self.agent == "trxl":
            self._validate_trxl()
        if self.agent in DECODER_MEMORIES:
            self._validate_decoder()

    def episode_cap(self) -> int | None:
        """The environment's longest possible episode with ``env_options`` (None: unbounded)."""
        values = resolve(engram.reset_parameters(self.env), parse_options(self.env_options))
        env, _ = engram.make(self.env, **parse_options(self.env_options))
        return env.episode_cap(values)

    def trxl_settings(self) -> TransformerXLSettings:
        """The Transformer-XL architecture: the ``trxl_*`` fields, the paper's per-environment
        defaults (:func:`engram.presets.trxl_defaults`) where a field is None."""
        defaults = trxl_defaults(self.env, self.episode_cap())
        pick = {
            name: defaults[name]
            if getattr(self, f"trxl_{name}") is None
            else getattr(self, f"trxl_{name}")
            for name in defaults
        }
        return TransformerXLSettings(
            num_heads=self.trxl_num_heads,
            query_positional_encoding=self.trxl_query_positional_encoding,
            gated=self.trxl_gated,
            **pick,
        )

    def _validate_trxl(self) -> None:
        for name in ("trxl_num_layers", "trxl_dim", "trxl_num_heads", "trxl_memory_length"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name}: got {value!r}, must be a positive integer")
        t = self.trxl_settings()
        if t.dim % t.num_heads:
            raise ValueError(f"trxl_num_heads: got {t.num_heads}, must divide trxl_dim ({t.dim})")
        cap = self.episode_cap()
        if cap is not None and t.memory_length > cap:
            raise ValueError(
                f"trxl_memory_length: got {t.memory_length}, longer than the longest episode "
                f"of {self.env} ({cap} steps); use at most {cap}"
            )

    def memory_episode_length(self) -> int | None:
        """Steps between two memory resets at most: the trial length of a trial task, else
        the episode cap (None: unbounded)."""
        env, params = engram.make(self.env, **parse_options(self.env_options))
        if env.trials:
            return int(params.trial_length)
        return self.episode_cap()

    def decoder_settings(self) -> DecoderMemorySettings:
        """The fct/memo/rmt architecture: the ``decoder_*`` fields and ``max_context``,
        ``segment_length``, ``summary_length`` with their defaults resolved."""
        context = self.max_context or self.memory_episode_length() or 4096
        segment = self.segment_length or (256 if context >= 1024 else max(2, context // 4))
        summary = self.summary_length or max(1, segment // 8)
        return DecoderMemorySettings(
            num_layers=self.decoder_num_layers,
            width=self.decoder_width,
            num_heads=self.decoder_num_heads,
            mlp_hidden=self.decoder_mlp_hidden,
            max_context=context,
            segment_length=segment,
            summary_length=summary,
            segment_jitter=self.segment_jitter if self.agent in ("memo", "rmt") else 0.0,
        )

    def _validate_decoder(self) -> None:
        for name in (
            "decoder_num_layers",
            "decoder_width",
            "decoder_num_heads",
            "decoder_mlp_hidden",
            "max_context",
            "segment_length",
            "summary_length",
        ):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name}: got {value!r}, must be a positive integer")
        d = self.decoder_settings()
        if d.width % d.num_heads or (d.width // d.num_heads) % 2:
            raise ValueError(
                f"decoder_num_heads: got {d.num_heads}, must divide decoder_width "
                f"({d.width}) into an even head size (rotary embeddings rotate pairs)"
            )
        if self.agent == "fct":
            return
        if d.summary_length >= d.segment_length:
            raise ValueError(
                f"summary_length: got {d.summary_length}, must be shorter than "
                f"segment_length ({d.segment_length}): summaries compress a segment"
            )
        if not 0.0 <= self.segment_jitter < 1.0:
            raise ValueError(f"segment_jitter: got {self.segment_jitter}, must be in [0, 1)")
        longest = segment_length_range(d.segment_length, d.segment_jitter)[1]
        if longest > d.max_context:
            what = "trial" if self.max_context is None else "max_context"
            raise ValueError(
                f"segment_length: got {d.segment_length} (up to {longest} steps with "
                f"segment_jitter {self.segment_jitter}), longer than the {what} "
                f"({d.max_context} steps)"
            )

    @property
    def advantage_normalization(self) -> bool:
        """``normalize_advantages`` with the per-environment default resolved."""
        if self.normalize_advantages is None:
            return self.env in _NORMALIZE_ADVANTAGES_BY_DEFAULT
        return self.normalize_advantages

    @property
    def num_devices(self) -> int:
        """Devices the environment batch is sharded across."""
        return self.devices or len(jax.devices())

    @property
    def num_updates(self) -> int:
        return self.total_steps // (self.num_envs * self.num_steps)


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
