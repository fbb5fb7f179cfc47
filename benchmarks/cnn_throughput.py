"""Forward + backward images/s of the paper's encoder (Atari CNN + dense 512), in JAX or
PyTorch, on the same CPU: the yardstick of ``benchmarks/train_throughput.py`` (issue 20).

The network: 84x84x3 uint8 pixels / 255, conv 32x8x8/4, 64x4x4/2, 64x3x3/1, ReLU after each,
flatten (3136), dense 512 + ReLU (the Memory Gym paper's encoder, neroRL ``encoder.py``).
One measured call = the gradient of the mean output with respect to every parameter for a
batch of images (the work a PPO minibatch does in the encoder). The PyTorch side imports
nothing of engram or JAX, so it runs in a venv with only torch::

    python benchmarks/cnn_throughput.py                       # JAX (engram's AtariCNN)
    /work/torch/bin/python benchmarks/cnn_throughput.py --framework torch

Prints one JSON line: ``{"framework", "batch", "images_per_s", "gflops", "threads"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

#: Multiply-accumulates of one image through the network, forward only (conv outputs
#: 20x20x32, 9x9x64, 7x7x64, then 3136 -> 512); x2 for FLOPs, x3 for forward + backward.
MACS_PER_IMAGE = (
    20 * 20 * 32 * 8 * 8 * 3 + 9 * 9 * 64 * 4 * 4 * 32 + 7 * 7 * 64 * 3 * 3 * 64 + 3136 * 512
)
FLOPS_PER_IMAGE = 2 * 3 * MACS_PER_IMAGE


def _timed(step, seconds: float) -> float:
    """Calls per second of ``step()`` (which must block until done) over ``seconds``, after
    two warm-up calls."""
    step()
    step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - start)


def jax_calls_per_s(batch: int, seconds: float) -> float:
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    import engram  # noqa: F401  (applies engram's XLA flags before the backend starts)
    from engram.models.encoders import AtariCNN

    class Encoder(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.relu(nn.Dense(512)(AtariCNN()(x)))

    net = Encoder()
    x = jnp.asarray(
        jax.random.randint(jax.random.key(0), (batch, 84, 84, 3), 0, 256), dtype=jnp.uint8
    )
    params = net.init(jax.random.key(1), x[:1])
    grad = jax.jit(jax.grad(lambda p, x: net.apply(p, x).mean()))
    return _timed(lambda: jax.block_until_ready(grad(params, x)), seconds)


def torch_calls_per_s(batch: int, seconds: float) -> float:
    import torch
    from torch import nn

    net = nn.Sequential(
        nn.Conv2d(3, 32, 8, 4),
        nn.ReLU(),
        nn.Conv2d(32, 64, 4, 2),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, 1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(3136, 512),
        nn.ReLU(),
    )
    x = torch.randint(0, 256, (batch, 3, 84, 84), dtype=torch.uint8)

    def step():
        net.zero_grad(set_to_none=True)
        net(x.float() / 255.0).mean().backward()

    return _timed(step, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--framework", choices=("jax", "torch"), default="jax")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if args.framework == "torch":
        import torch

        threads = torch.get_num_threads()
        calls = torch_calls_per_s(args.batch, args.seconds)
    else:
        threads = os.cpu_count()
        calls = jax_calls_per_s(args.batch, args.seconds)
    images = calls * args.batch
    result = {
        "framework": args.framework,
        "batch": args.batch,
        "images_per_s": round(images, 1),
        "gflops": round(images * FLOPS_PER_IMAGE / 1e9, 1),
        "threads": threads,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
