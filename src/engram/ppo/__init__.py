"""One PPO for every memory model: GAE and the clipped loss (the loop is in engram.train)."""

from engram.ppo.gae import gae
from engram.ppo.loss import ppo_loss

__all__ = ["gae", "ppo_loss"]
