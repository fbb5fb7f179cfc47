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
