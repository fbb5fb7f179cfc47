"""Observation encoders."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import numpy as np


class AtariCNN(nn.Module):
    """The Nature-DQN encoder the Memory Gym paper uses (neroRL ``encoder.py``).

    conv 32x8x8 stride 4, 64x4x4 stride 2, 64x3x3 stride 1, ReLU after each, orthogonal
    init with gain sqrt(2); the output is flattened (3136 features for an 84x84 input).

    Input: uint8 or float ``(..., 84, 84, C)``, pixel values in 0..255 (scaled to [0, 1]
    here). Output: float32 ``(..., 3136)``.
    """

    @nn.compact
    def __call__(self, x):
        lead = x.shape[:-3]
        x = x.reshape((-1,) + x.shape[-3:]).astype(jnp.float32) / 255.0
        init = nn.initializers.orthogonal(np.sqrt(2))
        for features, kernel, stride in ((32, 8, 4), (64, 4, 2), (64, 3, 1)):
            x = nn.Conv(features, (kernel, kernel), (stride, stride), "VALID", kernel_init=init)(x)
            x = nn.relu(x)
        return x.reshape(lead + (-1,))


class VectorEncoder(nn.Module):
    """Encoder of vector observations (e.g. ``TMaze-v0``'s ``(2,)``): dense + ReLU layers,
    orthogonal init with gain sqrt(2).

    Input: ``(..., D)`` (cast to float32). Output: float32 ``(..., features[-1])``.
    """

    features: tuple[int, ...] = (128,)

    @nn.compact
    def __call__(self, x):
        x = x.astype(jnp.float32)
        for n in self.features:
            x = nn.relu(nn.Dense(n, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
        return x


class ObservationDecoder(nn.Module):
    """Transposed-CNN decoder of the observation-reconstruction auxiliary loss (Memory Gym
    paper, "+ Obs. Rec."): the mirror image of :class:`AtariCNN`.

    dense -> 64x7x7, then transposed convs 64x3x3/1 (9x9), 32x4x4/2 (20x20) and 3x8x8/4
    (84x84), ReLU between them and a sigmoid at the end.

    Input: float32 ``(..., F)``. Output: float32 ``(..., 84, 84, 3)`` in (0, 1), the
    predicted observation divided by 255.
    """

    @nn.compact
    def __call__(self, x):
        lead = x.shape[:-1]
        init = nn.initializers.orthogonal(np.sqrt(2))
        x = nn.relu(nn.Dense(64 * 7 * 7, kernel_init=init)(x.reshape((-1, x.shape[-1]))))
        x = x.reshape((-1, 7, 7, 64))
        layers = ((64, 3, 1), (32, 4, 2), (3, 8, 4))
        for i, (features, kernel, stride) in enumerate(layers):
            x = nn.ConvTranspose(
                features, (kernel, kernel), (stride, stride), "VALID", kernel_init=init
            )(x)
            x = nn.relu(x) if i < len(layers) - 1 else nn.sigmoid(x)
        return x.reshape(lead + x.shape[1:])
