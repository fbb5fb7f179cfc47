"""Encoders, memory models and the actor-critic."""

from engram.models.agent import (
    ActorCritic,
    encoder_for,
    greedy_action,
    log_prob_entropy,
    sample_action,
    split_logits,
)
from engram.models.encoders import AtariCNN, VectorEncoder
from engram.models.memo import FullContextTransformerMemory, MemoMemory
from engram.models.memory import (
    DECODER_MEMORIES,
    MEMORY_MODELS,
    DecoderMemorySettings,
    GRUMemory,
    LSTMMemory,
    NoMemory,
    TransformerXLSettings,
    make_memory,
)
from engram.models.transformer_xl import TransformerXLMemory

__all__ = [
    "DECODER_MEMORIES",
    "MEMORY_MODELS",
    "DecoderMemorySettings",
    "FullContextTransformerMemory",
    "MemoMemory",
    "ActorCritic",
    "AtariCNN",
    "GRUMemory",
    "LSTMMemory",
    "NoMemory",
    "TransformerXLMemory",
    "TransformerXLSettings",
    "VectorEncoder",
    "encoder_for",
    "greedy_action",
    "log_prob_entropy",
    "make_memory",
    "sample_action",
    "split_logits",
]
