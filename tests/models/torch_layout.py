"""What the golden tests share: the tolerance check against a reference implementation, and
the mapping between PyTorch's parameter layouts and engram's flax trees for the parts both
references have (the Atari CNN, the dense layer that reads its flattened output, the policy
branches).

Layouts: torch's ``Linear`` weight is ``(out, in)``, flax's ``Dense`` kernel ``(in, out)``;
torch's ``Conv2d`` weight is OIHW, flax's ``Conv`` kernel HWIO; torch flattens the CNN's
``(64, 7, 7)`` output channel-first, engram its ``(7, 7, 64)`` channel-last, so the rows of
the first kernel that reads it are permuted.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Row ``r`` of a kernel reading engram's (H, W, C) features is row ``CHW_OF_HWC[r]`` of
#: the same kernel reading torch's (C, H, W) features; ``HWC_OF_CHW`` is the inverse.
CHW_OF_HWC = np.arange(64 * 7 * 7).reshape(64, 7, 7).transpose(1, 2, 0).ravel()
HWC_OF_CHW = np.argsort(CHW_OF_HWC)


#: The golden files keep only every ``GRAD_STRIDE``-th element of the flattened gradient of
#: the large tensors their script names (``scripts/golden_io.py``), to stay small.
GRAD_STRIDE = 8


def as_stored(grad, name: str, strided) -> np.ndarray:
    """``grad`` of the parameter ``name`` as a golden file stores it: flattened and strided
    by :data:`GRAD_STRIDE` for the names in ``strided``, whole otherwise."""
    return np.asarray(grad).ravel()[::GRAD_STRIDE] if name in strided else grad


def _f32(x) -> np.ndarray:
    return np.asarray(x, np.float32)  # the golden files store weights as float16 values


def assert_close(actual, expected, what: str, reference: str, rel=1e-5, floor=1e-3) -> None:
    """``max |actual - expected| <= rel * max(max |expected|, floor)`` (float64), with a
    message naming ``what`` and the ``reference`` implementation."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(float(np.abs(expected).max()), floor)
    err = float(np.abs(actual - expected).max())
    assert err <= rel * scale, (
        f"{what}: max |engram - {reference}| = {err:.3g} > {rel:g} x scale {scale:.3g}"
    )


def cnn_from_torch(w: dict, conv: Callable[[int], str]) -> dict:
    """engram's ``AtariCNN`` parameters (float32) from the torch state ``w``; ``conv(i)``
    names the ``i``-th convolution (0, 1, 2) in ``w``."""
    return {
        f"Conv_{i}": {
            "kernel": _f32(w[f"{conv(i)}.weight"]).transpose(2, 3, 1, 0),
            "bias": _f32(w[f"{conv(i)}.bias"]),
        }
        for i in range(3)
    }


def cnn_to_torch(tree: dict, conv: Callable[[int], str], out: dict) -> None:
    """The inverse of :func:`cnn_from_torch`, written into ``out``."""
    for i in range(3):
        node = tree[f"Conv_{i}"]
        out[f"{conv(i)}.weight"] = np.asarray(node["kernel"]).transpose(3, 2, 0, 1)
        out[f"{conv(i)}.bias"] = np.asarray(node["bias"])


def branches_from_torch(w: dict, names: list[str]) -> dict:
    """engram's one policy ``Dense`` (float32) from the torch branches ``names`` (one per
    action component), their outputs concatenated."""
    return {
        "kernel": np.concatenate([_f32(w[f"{n}.weight"]).T for n in names], 1),
        "bias": np.concatenate([_f32(w[f"{n}.bias"]) for n in names]),
    }


def branches_to_torch(node: dict, names: list[str], dims, out: dict) -> None:
    """The inverse of :func:`branches_from_torch` for components of ``dims`` categories."""
    split = np.cumsum(dims)[:-1]
    kernels = np.split(np.asarray(node["kernel"]), split, axis=1)
    biases = np.split(np.asarray(node["bias"]), split)
    for name, kernel, bias in zip(names, kernels, biases, strict=True):
        out[f"{name}.weight"], out[f"{name}.bias"] = kernel.T, bias
