"""Composing frames for people to look at: upscaling and side-by-side views.

Used by ``engram play`` and ``engram record``; nothing here runs inside an environment.
"""

from __future__ import annotations

import numpy as np

#: Pixels of the dark gap between two views placed side by side.
GAP = 4


def image_of(obs) -> np.ndarray:
    """The picture in an observation: the array itself, or ``obs["visual_observation"]``
    for dict observations (Mortar Mayhem B). Returns uint8 (H, W, 3)."""
    if isinstance(obs, dict):
        obs = obs["visual_observation"]
    return np.asarray(obs, dtype=np.uint8)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of uint8 (H, W, 3) to (H*factor, W*factor, 3), so the
    pixels the agent sees stay sharp (no interpolation).

    Raises:
        ValueError: ``factor`` is not an int >= 1.
    """
    if not isinstance(factor, (int, np.integer)) or isinstance(factor, bool) or factor < 1:
        raise ValueError(f"scale: got {factor!r}, expected an int >= 1")
    if factor == 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = GAP, fill: int = 32) -> np.ndarray:
    """Two uint8 (H, W, 3) images of the same height joined with a ``gap``-px band of
    grey level ``fill`` (dark by default).

    Raises:
        ValueError: the heights differ.
    """
    if left.shape[0] != right.shape[0]:
        raise ValueError(f"side_by_side: heights differ ({left.shape[0]} vs {right.shape[0]})")
    band = np.full((left.shape[0], gap, 3), fill, np.uint8)
    return np.concatenate([left, band, right], axis=1)


def caption(image: np.ndarray, text: str, height: int = 20) -> np.ndarray:
    """``image`` with a dark ``height``-px bar below it holding ``text`` (Pillow's
    built-in bitmap font), so numbers such as the step and return never cover pixels
    the agent sees. Returns uint8 (H + height, W, 3)."""
    from PIL import Image, ImageDraw

    bar = Image.new("RGB", (image.shape[1], height), (24, 24, 24))
    ImageDraw.Draw(bar).text((4, (height - 11) // 2), text, fill=(235, 235, 235))
    return np.concatenate([image, np.asarray(bar, np.uint8)], axis=0)
