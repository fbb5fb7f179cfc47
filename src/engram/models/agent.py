"""The actor-critic: encoder, memory model, post-memory layer, policy and value heads."""

from __future__ import annotations

from collections.abc import Hashable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from engram.models.encoders import AtariCNN, ObservationDecoder, VectorEncoder
from engram.models.memory import memory_spec


class Trunk(nn.Module):
    """Encoder -> memory -> dense + ReLU: the body that the heads read.

    ``encoder="cnn"``: images ``(..., 84, 84, C)`` through the Atari CNN; a dict observation
    (``visual_observation`` + ``vector_observation``, the Mortar Mayhem B variants) has its
    vector concatenated to the CNN features. ``encoder="mlp"``: vector observations
    ``(..., D)`` through :class:`VectorEncoder`.
    """

    memory: str = "gru"
    memory_settings: Hashable = None
    hidden: int = 512
    encoder_kind: str = "cnn"

    def setup(self):
        if self.encoder_kind not in ("cnn", "mlp"):
            raise ValueError(f"encoder_kind: got {self.encoder_kind!r}, expected 'cnn' or 'mlp'")
        self.encoder = AtariCNN() if self.encoder_kind == "cnn" else VectorEncoder()
        self.mem = memory_spec(self.memory).build(self.memory_settings)
        self.body = nn.Dense(self.hidden, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))

    def _features(self, obs):
        if isinstance(obs, dict):
            img = self.encoder(obs["visual_observation"])
            return jnp.concatenate([img, obs["vector_observation"].astype(jnp.float32)], -1)
        return self.encoder(obs)

    def __call__(self, carry, obs, resets, recorded=None):
        """Sequence form: leaves ``(T, B, ...)``; returns ``(carry, memory output
        (T, B, M), body output (T, B, hidden))``. ``recorded``: what acting computed per
        step (the memory spec's ``recorded``), reused instead of recomputed."""
        extra = {} if recorded is None else {"recorded": recorded}
        carry, y = self.mem.sequence(carry, self._features(obs), resets, **extra)
        return carry, y, nn.relu(self.body(y))

    def step(self, carry, obs, reset):
        """Acting form: leaves ``(B, ...)``; returns ``(carry, (B, M), (B, hidden))``."""
        carry, y = self.mem.step(carry, self._features(obs), reset)
        return carry, y, nn.relu(self.body(y))


class ActorCritic(nn.Module):
    """Actor-critic for image (or image + vector) observations.

    Layout as in the Memory Gym paper (its training setup): Atari CNN -> memory
    (GRU 512) -> dense 512 + ReLU -> policy logits and value, one body shared by both
    heads. With ``shared=False`` the critic has a body (encoder, memory, dense) of its own,
    and the carry is the pair ``(actor carry, critic carry)``.

    Attributes:
        action_dims: categories of each action component, e.g. ``(4,)`` for Discrete(4),
            ``(3, 3)`` for MultiDiscrete([3, 3]).
        memory: a registered memory model (:data:`engram.models.MEMORY_MODELS`), e.g.
            ``"gru"``, ``"trxl"``, ``"memo"``.
        memory_settings: its architecture, as its spec builds it from a configuration
            (e.g. :class:`engram.models.RecurrentSettings` for ``"gru"``; None: the
            spec's defaults, the paper's).
        hidden: units of the post-memory layer.
        shared: one body for policy and value (the paper's) or one each.
        reconstruction: add the observation decoder (on the memory output, as the paper's
            ``obs_decoder.attach_to: memory``) for the reconstruction auxiliary loss.
        ground_truth_dims: size of ``info["ground_truth"]`` to predict from the body
            output (ground-truth estimation auxiliary loss); 0: no such head.
        encoder: ``"cnn"`` for image observations, ``"mlp"`` for vector ones (see
            :func:`encoder_for`).
    """

    action_dims: tuple[int, ...]
    memory: str = "gru"
    memory_settings: Hashable = None
    hidden: int = 512
    shared: bool = True
    reconstruction: bool = False
    ground_truth_dims: int = 0
    encoder: str = "cnn"

    def setup(self):
        body = (self.memory, self.memory_settings, self.hidden, self.encoder)
        self.trunk = Trunk(*body)
        if not self.shared:
            self.critic_trunk = Trunk(*body)
        ortho = nn.initializers.orthogonal
        self.policy = nn.Dense(sum(self.action_dims), kernel_init=ortho(0.01))
        self.value = nn.Dense(1, kernel_init=ortho(1.0))
        if self.reconstruction:
            self.decoder = ObservationDecoder()
        if self.ground_truth_dims:
            self.ground_truth = nn.Dense(self.ground_truth_dims, kernel_init=ortho(1.0))

    def initial_carry(self, batch_size: int):
        """The empty memory for ``batch_size`` environments (needs no parameters: call it on
        the unbound module)."""
        one = memory_spec(self.memory).empty_carry(self.memory_settings, batch_size)
        return one if self.shared else (one, one)

    def recorded(self, carry):
        """What acting just computed that learning reuses (the memory spec's
        ``recorded`` of each body's carry; a pair without a shared body), or None when
        the memory records nothing. Needs no parameters: call it on the unbound module."""
        record = memory_spec(self.memory).recorded
        if record is None:
            return None
        return record(carry) if self.shared else (record(carry[0]), record(carry[1]))

    def _run(self, carry, obs, resets, method: str, aux: bool = False, recorded=None):
        def body(trunk, carry, recorded):
            if method == "step":
                return trunk.step(carry, obs, resets)
            return trunk(carry, obs, resets, recorded)

        if self.shared:
            carry, y, h = body(self.trunk, carry, recorded)
            h_v = h
        else:
            (actor, critic) = carry
            a_rec, c_rec = (None, None) if recorded is None else recorded
            actor, y, h = body(self.trunk, actor, a_rec)
            critic, _, h_v = body(self.critic_trunk, critic, c_rec)
            carry = (actor, critic)
        out = (carry, self.policy(h), self.value(h_v)[..., 0])
        if not aux:
            return out
        extra = {}
        if self.reconstruction:
            extra["reconstruction"] = self.decoder(y)
        if self.ground_truth_dims:
            extra["ground_truth"] = self.ground_truth(h)
        return (*out, extra)

    def __call__(self, carry, obs, resets, aux: bool = False, recorded=None):
        """Sequence form: ``obs`` leaves ``(T, B, ...)``, ``resets`` bool ``(T, B)``;
        ``recorded`` (optional): :meth:`recorded` of every acting step, leaves ``(T, B,
        ...)``, which the memory reuses instead of recomputing (gradients do not flow
        into it).

        Returns ``(carry, logits (T, B, sum(action_dims)), value (T, B))``, and with
        ``aux=True`` a fourth item, a dict with the auxiliary predictions that are
        configured: ``reconstruction`` float32 (T, B, 84, 84, 3) in (0, 1) and
        ``ground_truth`` float32 (T, B, ground_truth_dims).
        """
        return self._run(carry, obs, resets, "__call__", aux, recorded)

    def step(self, carry, obs, reset):
        """Acting form: ``obs`` leaves ``(B, ...)``, ``reset`` ``(B,)``."""
        return self._run(carry, obs, reset, "step")


def encoder_for(space) -> str:
    """``"mlp"`` for a one-dimensional ``Box`` observation space, ``"cnn"`` otherwise
    (images and the Mortar Mayhem B dict)."""
    shape = getattr(space, "shape", None)
    return "mlp" if shape is not None and len(shape) == 1 else "cnn"


def split_logits(logits, action_dims):
    """Split concatenated logits into one array per action component."""
    return jnp.split(logits, np.cumsum(action_dims)[:-1], axis=-1)


def sample_action(key, logits, action_dims):
    """Sample every component; returns int32 ``(..., len(action_dims))``."""
    parts = split_logits(logits, action_dims)
    keys = jax.random.split(key, len(parts))
    return jnp.stack(
        [jax.random.categorical(k, p) for k, p in zip(keys, parts, strict=True)], -1
    ).astype(jnp.int32)


def greedy_action(logits, action_dims):
    """Most likely category of every component; int32 ``(..., len(action_dims))``."""
    parts = split_logits(logits, action_dims)
    return jnp.stack([jnp.argmax(p, -1) for p in parts], -1).astype(jnp.int32)


def log_prob_entropy(logits, action, action_dims):
    """Log-probability of each action component and the entropy of the whole action.

    Args:
        logits: float32 ``(..., sum(action_dims))``, the components' logits concatenated.
        action: int32 ``(..., len(action_dims))``.
        action_dims: categories of each component.

    Returns:
        ``(logp, entropy)``: float32 ``(..., len(action_dims))``, one log-probability per
        component (PPO clips each component's ratio, as neroRL and CleanRL's ``ppo_trxl``
        do), and float32 ``(...)``, the entropies of the components summed (they are
        independent).
    """
    logps, ent = [], 0.0
    for i, p in enumerate(split_logits(logits, action_dims)):
        lp = jax.nn.log_softmax(p)
        logps.append(jnp.take_along_axis(lp, action[..., i : i + 1], -1)[..., 0])
        ent = ent - jnp.sum(jnp.exp(lp) * lp, -1)
    return jnp.stack(logps, -1), ent
