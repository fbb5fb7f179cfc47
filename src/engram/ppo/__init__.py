"""One PPO for every memory model: the rollout, GAE, the losses and the compiled trainer
(the host loop around it is :mod:`engram.run`)."""

from engram.ppo.gae import gae, rollout_advantages
from engram.ppo.loss import ground_truth_loss, minibatch_loss, ppo_loss, reconstruction_loss
from engram.ppo.rollout import rollout
from engram.ppo.trainer import Trainer, TrainState

__all__ = [
    "TrainState",
    "Trainer",
    "gae",
    "ground_truth_loss",
    "minibatch_loss",
    "ppo_loss",
    "reconstruction_loss",
    "rollout",
    "rollout_advantages",
]
