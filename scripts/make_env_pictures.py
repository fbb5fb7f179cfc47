"""Draw the README's picture of every environment (``docs/images/<id>.png``).

Each picture is the agent's view (for vector observations, the environment's ``frame``)
at a few steps of one episode under a random policy, then the ground-truth debug view of
the last of those steps (what the agent must remember, made visible), side by side and
upscaled 3x without interpolation. Run from the repository root::

    python scripts/make_env_pictures.py [--ids ID ...]
"""

from __future__ import annotations

import argparse
from functools import reduce
from pathlib import Path

import imageio.v3 as iio
import numpy as np

import engram
from engram.render.compose import image_of, side_by_side, upscale
from engram.runner import EpisodeRunner

#: The steps shown: the first frame, early play, and two later moments.
PICKS = (0, 2, 40, 58)

#: Reset parameters of the pictures where the defaults draw too wide a picture.
OPTIONS = {"TMaze-v0": {"corridor_length": 12}}


def panels(env_id: str, seed: int = 0) -> list[np.ndarray]:
    """Frames at the steps in ``PICKS`` of one random episode (a new episode starts if
    one ends early), then the debug view at the last pick."""
    runner = EpisodeRunner(env_id, OPTIONS.get(env_id), seed=seed)
    runner.reset()
    out = []
    for t in range(max(PICKS) + 1):
        if t in PICKS:
            out.append(runner.frame())
        if t < max(PICKS) and runner.step(runner.random_action()) is not None:
            runner.reset()
    if runner.has_debug_view:
        out.append(runner.debug_frame())
    if not runner.env.pixel_observations and isinstance(runner.obs, dict):
        # The agent's own view (ObjectNav's egocentric one), centred on the frames' height.
        view = image_of(runner.obs)
        gap = max(out[0].shape[0] - view.shape[0], 0)
        out.append(np.pad(view, ((gap // 2, gap - gap // 2), (0, 0), (0, 0)), constant_values=255))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", nargs="*", default=None, help="default: every registered id")
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--scale", type=int, default=3)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for env_id in args.ids or engram.registered_ids():
        row = reduce(lambda a, b: side_by_side(a, b, fill=255), panels(env_id))
        path = args.out / f"{env_id}.png"
        iio.imwrite(path, upscale(row, args.scale))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
