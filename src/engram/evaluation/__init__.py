"""Evaluating policies: the papers' protocol (:mod:`.protocol`) and the statistics of the
results (:mod:`.stats`)."""

from engram.evaluation.protocol import LEVEL_SEED_OFFSET, MAX_EPISODE_INDEX, evaluate
from engram.evaluation.stats import interval_estimates, merge_seeds

__all__ = [
    "LEVEL_SEED_OFFSET",
    "MAX_EPISODE_INDEX",
    "evaluate",
    "interval_estimates",
    "merge_seeds",
]
