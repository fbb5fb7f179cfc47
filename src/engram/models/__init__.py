"""Encoders, memory models and the actor-critic.

Importing this package registers every memory model (:data:`MEMORY_MODELS`): each model's
file registers its :class:`MemorySpec`; a new model's file is imported here.
"""

# The memory models, in the order --help lists them; each import registers its spec(s).
from engram.models import recurrent, transformer_xl, fct, memo  # noqa: I001, F401
from engram.models.agent import (
    ActorCritic,
    encoder_for,
    greedy_action,
    log_prob_entropy,
    sample_action,
    split_logits,
)
from engram.models.decoder import DecoderMemorySettings
from engram.models.encoders import AtariCNN, VectorEncoder
from engram.models.fct import FullContextTransformerMemory
from engram.models.memo import MemoMemory
from engram.models.memory import (
    MEMORY_MODELS,
    PPO_RECIPES,
    MemorySpec,
    memory_spec,
    register_memory,
)
from engram.models.recurrent import GRUMemory, LSTMMemory, NoMemory, RecurrentSettings
from engram.models.transformer_xl import TransformerXLMemory, TransformerXLSettings

__all__ = [
    "MEMORY_MODELS",
    "ActorCritic",
    "AtariCNN",
    "DecoderMemorySettings",
    "FullContextTransformerMemory",
    "GRUMemory",
    "LSTMMemory",
    "MemoMemory",
    "MemorySpec",
    "NoMemory",
    "RecurrentSettings",
    "TransformerXLMemory",
    "TransformerXLSettings",
    "VectorEncoder",
    "encoder_for",
    "greedy_action",
    "log_prob_entropy",
    "memory_spec",
    "PPO_RECIPES",
    "register_memory",
    "sample_action",
    "split_logits",
]
