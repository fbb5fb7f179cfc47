"""The Atari CNN's strided convolutions (space-to-depth) against XLA's own strided
convolution: same outputs and gradients, same parameters."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from engram.models.encoders import AtariCNN, strided_conv

NHWC = ("NHWC", "HWIO", "NHWC")


def reference(x, kernel, stride):
    return jax.lax.conv_general_dilated(
        x, kernel, (stride, stride), "VALID", dimension_numbers=NHWC
    )


@pytest.mark.parametrize(
    "shape, k, stride",
    [
        ((2, 84, 84, 3), 8, 4),  # the CNN's first layer (space-to-depth)
        ((3, 20, 20, 32), 4, 2),  # its second (space-to-depth)
        ((2, 9, 9, 64), 3, 1),  # its third (stride 1: XLA's)
        ((2, 22, 21, 5), 4, 2),  # a width the stride does not divide (XLA's)
    ],
)
def test_strided_conv_equals_xla_convolution_and_its_gradients(shape, k, stride):
    kx, kk = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, shape)
    kernel = jax.random.normal(kk, (k, k, shape[-1], 7))
    got, want = strided_conv(x, kernel, stride), reference(x, kernel, stride)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)

    def loss(f):
        return lambda x, w: (jnp.sin(f(x, w, stride)) ** 2).sum()

    got_g = jax.grad(loss(strided_conv), argnums=(0, 1))(x, kernel)
    want_g = jax.grad(loss(reference), argnums=(0, 1))(x, kernel)
    for g, w in zip(got_g, want_g, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-3 * float(jnp.abs(w).max()))


class NNConvCNN(nn.Module):
    """The Atari CNN written with flax's nn.Conv (engram's before the space-to-depth
    convolutions): the independent reference."""

    @nn.compact
    def __call__(self, x):
        x = x.astype(jnp.float32) / 255.0
        init = nn.initializers.orthogonal(np.sqrt(2))
        for features, k, s in ((32, 8, 4), (64, 4, 2), (64, 3, 1)):
            x = nn.relu(nn.Conv(features, (k, k), (s, s), "VALID", kernel_init=init)(x))
        return x.reshape(x.shape[0], -1)


def test_atari_cnn_equals_the_nn_conv_network():
    """Same parameters (names, shapes, initial values: checkpoints and the PyTorch weight
    mapping depend on them), same features."""
    x = jax.random.randint(jax.random.key(1), (3, 84, 84, 3), 0, 256).astype(jnp.uint8)
    params = AtariCNN().init(jax.random.key(3), x)
    want_params = NNConvCNN().init(jax.random.key(3), x)
    assert jax.tree.structure(params) == jax.tree.structure(want_params)
    for got, want in zip(jax.tree.leaves(params), jax.tree.leaves(want_params), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(
        AtariCNN().apply(params, x), NNConvCNN().apply(params, x), rtol=1e-5, atol=1e-5
    )
