"""The configuration of ``engram train``: :class:`TrainConfig`, one dataclass parsed by tyro,
with the Memory Gym paper's defaults, per-environment defaults (Transformer-XL window, Memo
segment sizes) and the checks that reject bad values before anything is compiled."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import jax
import tyro

import engram
from engram.core.params import parse_options, resolve
from engram.models import (
    MEMORY_MODELS,
    PPO_RECIPES,
    DecoderMemorySettings,
    TransformerXLSettings,
    memory_spec,
)
from engram.presets import trxl_defaults

#: The ``--agent`` choices: every registered memory model (engram.models.MEMORY_MODELS),
#: with ``--help`` listing each one's ``MemorySpec.summary``.
AgentName = Annotated[
    Literal[tuple(MEMORY_MODELS)],
    tyro.conf.arg(
        help="Memory model: "
        + "; ".join(f"{name}: {memory_spec(name).summary}" for name in MEMORY_MODELS)
        + "."
    ),
]

# CleanRL's PPO-TrXL benchmark on Memory Gym (where the paper's Transformer-XL results come
# from) normalises advantages for MortarMayhem-Grid-v0 only; the paper's neroRL GRU runs and
# the Memo paper (use_normalized_advantage False) never do.
_NORMALIZE_ADVANTAGES_BY_DEFAULT = frozenset({("MortarMayhem-Grid-v0", "trxl")})


@dataclass
class TrainConfig:
    """PPO with a memory agent on one environment id.

    PPO and network defaults are the Memory Gym paper's (its training setup; neroRL and
    CleanRL's ``ppo_trxl``): gamma 0.995, lambda 0.95, clip 0.1 per action component, 3
    epochs, 8 minibatches, value coefficient 0.5, gradient norm 0.25, AdamW (eps 1e-8,
    weight decay 0.01), learning rate 2.75e-4 -> 1e-5 and entropy 1e-4 -> 1e-6 annealed
    linearly over 10,000 updates, no bootstrapping at time limits, Atari CNN + GRU 512 +
    dense 512; advantages are normalised only for Transformer-XL on MortarMayhem-Grid-v0,
    as in CleanRL's Memory Gym benchmark. fct/memo/rmt use the Memo paper's optimiser
    (Adam, eps 1e-5). The rollout (16 envs x 128
    steps) and the budget (100,000 steps) are far smaller than the paper's (32 x 512,
    163.8 M steps on the grid tasks) so that a run finishes on a CPU; at that budget the
    paper's tasks are not learned yet. ``engram train`` without --env and --config starts
    instead from :data:`engram.presets.DEFAULT_RUN` (``--config default``): a reduced
    Mortar Mayhem Grid with the paper's network, where the GRU reaches 0.9 success on a CPU
    (204,800 steps) while the memory-less agent (``--agent none``) stays at chance.
    """

    env: str = "MortarMayhem-Grid-v0"
    """Environment id (see ``engram.registered_ids()``)."""
    env_options: tuple[str, ...] = ()
    """Reset parameters of the environment as name=value (the original's names), e.g.
    ``show_origin=False``."""
    agent: AgentName = "gru"
    """Memory model: one of the registered models (engram.models.MEMORY_MODELS); ``--help``
    lists each with its spec's summary."""
    total_steps: int = 100_000
    """Environment steps to train for (rounded down to whole updates)."""
    num_envs: int = 16
    """Environments stepped in parallel (the paper: 32 workers)."""
    num_steps: int | None = None
    """Steps per environment per rollout (the paper: 512). Default (None): 128; for
    fct/memo/rmt on a trial task, one trial, as the Memo paper's rollout is one fresh trial:
    learning then always starts from an empty memory. Not a multiple of the trial length,
    a rollout may start mid-trial and learning from a memory that older parameters wrote
    (engram's option)."""
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
    """Initial learning rate."""
    final_lr: float = 1e-5
    """Learning rate after ``anneal_updates`` updates."""
    ent_coef: float = 1e-4
    """Initial entropy coefficient."""
    final_ent_coef: float = 1e-6
    """Entropy coefficient after ``anneal_updates`` updates."""
    anneal_updates: int = 10_000
    """Updates over which learning rate and entropy coefficient decay linearly (both stay
    constant within an update, as in neroRL and CleanRL)."""
    optimizer: Literal["adamw", "adam"] | None = None
    """Optimiser. Default (None): the paper's of the agent, AdamW (torch's defaults, as
    neroRL and CleanRL) for gru/lstm/trxl/none, Adam for fct/memo/rmt (the Memo paper)."""
    adam_eps: float | None = None
    """Epsilon of Adam(W). Default (None): 1e-8 with AdamW, 1e-5 with Adam (the papers')."""
    weight_decay: float | None = None
    """Decoupled weight decay of AdamW, on every parameter as torch.optim.AdamW. Default
    (None): 0.01 (torch's default, the paper's); must be 0 with Adam."""
    normalize_advantages: bool | None = None
    """Normalise advantages per minibatch. Default (None): on for Transformer-XL on
    MortarMayhem-Grid-v0, as CleanRL's Memory Gym benchmark does, off elsewhere, as in the
    papers."""
    bootstrap_truncation: bool = False
    """Bootstrap an episode cut by its time limit with the value of its last observation
    (engram's option). Default off: the papers' PPO treats every episode end alike and
    never bootstraps there (the cap is part of the task; on trial tasks the observation
    shows the time left)."""
    recompute_memory: bool = False
    """Learning recomputes what acting stored (Transformer-XL: the window's layer inputs)
    with the current parameters and backpropagates through it (engram's option). Default
    off: as CleanRL's ppo_trxl, learning reuses the layer inputs seen while acting,
    detached, in every epoch. Models that store nothing (GRU, Memo, ...) always recompute."""
    memory_hidden: int = 512
    """Hidden size of the recurrent memory (GRU or LSTM; a new model's settings may read it
    too)."""
    hidden: int | None = None
    """Units of the post-memory layer. Default (None): the paper's, 512 (GRU, LSTM, the
    Memo models), or the Transformer-XL's width (384 by default)."""
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
    ``paper`` for the Memory Gym paper's configuration of --env, or ``default`` for the
    reduced Mortar Mayhem Grid of ``engram train`` alone (the defaults when neither --config
    nor --env is given); options given on the command line override it."""
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
        out.update(self.optimizer_settings())
        out["hidden"] = self.post_memory_width
        out["num_steps"] = self.rollout_steps
        spec = memory_spec(self.agent)
        if spec.resolved is not None:
            out.update(spec.resolved(self))
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
            "num_epochs",
            "num_minibatches",
            "memory_hidden",
            "anneal_updates",
            "eval_levels",
            "eval_repetitions",
            "num_seeds",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: got {value!r}, must be a positive integer")
        if self.num_steps is not None and (
            not isinstance(self.num_steps, int) or self.num_steps < 1
        ):
            raise ValueError(f"num_steps: got {self.num_steps!r}, must be a positive integer")
        if self.num_envs % self.num_minibatches:
            raise ValueError(
                f"num_minibatches: got {self.num_minibatches}, must divide num_envs "
                f"({self.num_envs}) because minibatches are whole environment sequences"
            )
        if self.total_steps < self.num_envs * self.rollout_steps:
            raise ValueError(
                f"total_steps: got {self.total_steps}, must be at least one rollout "
                f"(num_envs x num_steps = {self.num_envs * self.rollout_steps})"
            )
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: got {getattr(self, name)}, must be in [0, 1]")
        for name in ("clip", "lr", "final_lr", "max_grad_norm"):
            # math.isfinite first: NaN fails every comparison, and inf passes "> 0".
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: got {value}, must be a finite number > 0")
        for name in (
            "vf_coef",
            "ent_coef",
            "final_ent_coef",
            "obs_reconstruction",
            "ground_truth_estimation",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: got {value}, must be a finite number >= 0")
        if not (math.isfinite(self.segment_jitter) and 0 <= self.segment_jitter < 1):
            raise ValueError(
                f"segment_jitter: got {self.segment_jitter}, must be in [0, 1) (a fraction "
                "of segment_length; 1 would allow empty segments)"
            )
        if self.hidden is not None and (not isinstance(self.hidden, int) or self.hidden < 1):
            raise ValueError(f"hidden: got {self.hidden!r}, must be a positive integer")
        if self.optimizer not in (None, "adamw", "adam"):
            raise ValueError(f"optimizer: got {self.optimizer!r}, must be 'adamw' or 'adam'")
        if self.adam_eps is not None and not self.adam_eps > 0:
            raise ValueError(f"adam_eps: got {self.adam_eps}, must be > 0")
        if self.weight_decay is not None and not self.weight_decay >= 0:
            raise ValueError(f"weight_decay: got {self.weight_decay}, must be >= 0")
        opt = self.optimizer_settings()
        if opt["optimizer"] == "adam" and opt["weight_decay"]:
            raise ValueError(
                f"weight_decay: got {self.weight_decay}, but Adam has no decoupled weight "
                "decay; use --optimizer adamw or --weight-decay 0"
            )
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
        for name in ("checkpoint_every", "eval_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: got {getattr(self, name)}, must be >= 0")
        spec = memory_spec(self.agent)
        if spec.validate is not None:
            spec.validate(self)

    def episode_cap(self) -> int | None:
        """The environment's longest possible episode with ``env_options`` (None: unbounded)."""
        values = resolve(engram.reset_parameters(self.env), parse_options(self.env_options))
        env, _ = engram.make(self.env, **parse_options(self.env_options))
        return env.episode_cap(values)

    def trxl_settings(self) -> TransformerXLSettings:
        """The Transformer-XL architecture: the ``trxl_*`` fields, the paper's per-environment
        defaults (:func:`engram.presets.trxl_defaults`) where a field is None, and the
        positional encoding's horizon, the episode cap (1024 without one), as CleanRL
        ``ppo_trxl``'s ``max_episode_steps``."""
        cap = self.episode_cap()
        defaults = trxl_defaults(self.env, cap)
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
            positional_encoding_horizon=cap or 1024,
            **pick,
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
            segment_jitter=self.segment_jitter if memory_spec(self.agent).segments else 0.0,
        )

    @property
    def advantage_normalization(self) -> bool:
        """``normalize_advantages`` with the per-environment and per-agent default resolved."""
        if self.normalize_advantages is None:
            return (self.env, self.agent) in _NORMALIZE_ADVANTAGES_BY_DEFAULT
        return self.normalize_advantages

    def optimizer_settings(self) -> dict:
        """``optimizer``, ``adam_eps`` and ``weight_decay`` with the defaults of the agent's
        paper (:data:`engram.models.PPO_RECIPES`) filled in where a field is None. With an
        explicit ``optimizer`` the defaults are that optimiser's (AdamW: eps 1e-8, weight
        decay 0.01; Adam: eps 1e-5, no weight decay)."""
        name = self.optimizer or PPO_RECIPES[memory_spec(self.agent).paper]["optimizer"]
        recipe = next(r for r in PPO_RECIPES.values() if r["optimizer"] == name)
        return {
            "optimizer": name,
            "adam_eps": recipe["adam_eps"] if self.adam_eps is None else self.adam_eps,
            "weight_decay": (
                recipe["weight_decay"] if self.weight_decay is None else self.weight_decay
            ),
        }

    @property
    def post_memory_width(self) -> int:
        """``hidden`` with the agent's default resolved (the paper's width)."""
        if self.hidden is not None:
            return self.hidden
        spec = memory_spec(self.agent)
        return spec.post_memory_width(spec.settings(self))

    @property
    def num_devices(self) -> int:
        """Devices the environment batch is sharded across."""
        return self.devices or len(jax.devices())

    @property
    def num_updates(self) -> int:
        return self.total_steps // (self.num_envs * self.rollout_steps)

    @property
    def rollout_steps(self) -> int:
        """``num_steps`` with its default resolved: 128, or one trial for the Memo paper's
        agents on a trial task."""
        if self.num_steps is not None:
            return self.num_steps
        if memory_spec(self.agent).paper == "memo":
            env, params = engram.make(self.env, **parse_options(self.env_options))
            if env.trials:
                return int(params.trial_length)
        return 128
