"""The memory-model protocol and the registry of memory models.

Every memory model offers:

* ``initial_carry(batch_size)`` -> the empty memory;
* ``step(carry, x, reset) -> (carry, y)``: one time step for ``x`` of shape ``(B, F)`` and a
  bool ``reset`` of shape ``(B,)`` that clears the memory *before* ``x`` is read;
* ``sequence(carry, xs, resets) -> (carry, ys)``: ``T`` steps at once, ``xs`` ``(T, B, F)``,
  ``resets`` ``(T, B)``; the same result as ``T`` calls of ``step``.

PPO only ever calls these three, so recurrent and attention models share one code path.
A model subclasses :class:`MemoryModule`, which makes calling it ``sequence`` and gives a
``step`` (a sequence of one step) that a model overrides where it has a cheaper one.

Each model's file describes it with a :class:`MemorySpec` and calls :func:`register_memory`
when it is imported (``engram.models`` imports them all); the configuration, the agent, the
trainer and evaluation read the spec, never the model's name. Adding a model is one new
file plus its import in ``engram/models/__init__.py`` (``docs/architecture.md`` walks
through it).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import flax.linen as nn

#: The optimiser of each paper's PPO: name, epsilon, decoupled weight decay. The Memory
#: Gym paper's code (neroRL, CleanRL's ``ppo_trxl``) uses ``torch.optim.AdamW`` with its
#: defaults (eps 1e-8, weight decay 0.01); the Memo paper's (habitat-baselines) Adam with
#: eps 1e-5 (reference: memo.md, section 3).
PPO_RECIPES: dict[str, dict[str, Any]] = {
    "memory-gym": {"optimizer": "adamw", "adam_eps": 1e-8, "weight_decay": 0.01},
    "memo": {"optimizer": "adam", "adam_eps": 1e-5, "weight_decay": 0.0},
}


class MemoryModule(nn.Module):
    """Base of the memory models: calling the module is :meth:`sequence`, and :meth:`step`
    is a sequence of one step, for the models that have no cheaper single step."""

    def step(self, carry, x, reset):
        """One time step: ``x`` ``(B, F)``, ``reset`` bool ``(B,)`` -> ``(carry, y (B, W))``."""
        carry, ys = self.sequence(carry, x[None], reset[None])
        return carry, ys[0]

    def __call__(self, carry, xs, resets):
        return self.sequence(carry, xs, resets)


@dataclass(frozen=True)
class MemorySpec:
    """What the rest of engram knows about one memory model.

    Attributes:
        name: the ``--agent`` value, e.g. ``"gru"``.
        summary: one line for ``--help`` and the docs.
        settings: ``TrainConfig -> settings``, the model's architecture as a hashable value
            (a frozen dataclass, or None), built from the configuration's fields with
            their defaults resolved.
        module: ``settings -> flax module`` implementing the protocol.
        initial_carry: ``(settings, batch_size) -> carry``, the empty memory without
            building the module (flax forbids creating modules inside another module's
            methods); must equal ``module(settings).initial_carry(batch_size)``.
        token_cache: the memory is a cache of past tokens (keys and values) that can be
            resized for evaluation: longer trials, streaming windows
            (:meth:`engram.policy.Policy.for_evaluation`).
        segments: the memory works in segments with summary tokens (Memo, RMT): the
            segment length may be drawn per learning pass (``segment_jitter``).
        validate: ``TrainConfig -> None``, raising ``ValueError`` naming the field for a
            configuration the model cannot be built with (None: nothing to check).
        resolved: ``TrainConfig -> dict``, the model's fields with their defaults filled
            in, saved in a run's ``config.json`` (None: nothing to add).
        defaults: the settings used where none are given (the paper's architecture).
        paper: whose PPO recipe the training defaults follow for this model (see
            :data:`PPO_RECIPES`): ``"memory-gym"`` (the Memory Gym paper: neroRL and
            CleanRL's ``ppo_trxl``) or ``"memo"`` (the Memo paper).
        hidden: ``settings -> int``, the width of the post-memory layer the paper pairs
            with the model (Transformer-XL: its own width); None: 512, the paper's GRU.
        recorded: ``carry -> array``, what acting just computed that learning reuses
            instead of recomputing it (Transformer-XL: the step's layer inputs, as CleanRL's
            ``ppo_trxl`` stores them). The rollout keeps it per step, ``(T, B, ...)``, and
            learning passes it to ``sequence(carry, xs, resets, recorded=...)``. None:
            learning recomputes everything from the carry at the rollout's start.
    """

    name: str
    summary: str
    settings: Callable[[Any], Hashable]
    module: Callable[[Any], nn.Module]
    initial_carry: Callable[[Any, int], Any]
    token_cache: bool = False
    segments: bool = False
    validate: Callable[[Any], None] | None = None
    resolved: Callable[[Any], dict] | None = None
    defaults: Hashable = None
    paper: str = "memory-gym"
    hidden: Callable[[Any], int] | None = None
    recorded: Callable[[Any], Any] | None = None

    def __post_init__(self):
        if self.paper not in PPO_RECIPES:
            raise ValueError(f"paper: got {self.paper!r}, known: {sorted(PPO_RECIPES)}")

    def post_memory_width(self, settings) -> int:
        """The paper's post-memory layer width for ``settings``."""
        return (
            512
            if self.hidden is None
            else self.hidden(self.defaults if settings is None else settings)
        )

    def build(self, settings=None) -> nn.Module:
        """The flax module for ``settings`` (None: :attr:`defaults`)."""
        return self.module(self.defaults if settings is None else settings)

    def empty_carry(self, settings, batch_size: int):
        """The empty memory of ``batch_size`` environments for ``settings`` (None:
        :attr:`defaults`), without building the module."""
        return self.initial_carry(self.defaults if settings is None else settings, batch_size)


#: Registered memory models by name, in registration order.
MEMORY_MODELS: dict[str, MemorySpec] = {}


def register_memory(spec: MemorySpec) -> MemorySpec:
    """Add ``spec`` to :data:`MEMORY_MODELS`.

    Raises:
        ValueError: a model of that name is already registered.
    """
    if spec.name in MEMORY_MODELS:
        raise ValueError(f"memory model {spec.name!r} is already registered")
    MEMORY_MODELS[spec.name] = spec
    return spec


def memory_spec(name: str) -> MemorySpec:
    """The spec of memory model ``name``.

    Raises:
        ValueError: for an unknown ``name`` (lists the known ones).
    """
    if name not in MEMORY_MODELS:
        raise ValueError(f"agent: unknown memory model {name!r}; known: {sorted(MEMORY_MODELS)}")
    return MEMORY_MODELS[name]
