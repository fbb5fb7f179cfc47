"""Draw the README's picture of every environment (``docs/images/<id>.png``).

Each picture is a few frames of one episode under a scripted walk, side by side,
upscaled 3x with nearest-neighbour so the pixels stay visible. Run from the repo root::

    python scripts/make_env_pictures.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import imageio.v3 as iio
import jax
import numpy as np

import engram


def frames_of(env_id: str, picks: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    """Frames at the steps in ``picks`` of one episode with random actions."""
    env, params = engram.make(env_id)
    key = jax.random.key(seed)
    obs, state = env.reset(key, params)
    step = jax.jit(env.step)
    out = []
    for t in range(max(picks) + 1):
        img = obs["visual_observation"] if isinstance(obs, dict) else obs
        if t in picks:
            out.append(np.asarray(img))
        key, k_a, k_s = jax.random.split(key, 3)
        obs, state, _, term, trunc, _ = step(k_s, state, env.action_space.sample(k_a), params)
        if term or trunc:
            obs, state = env.reset(k_s, params)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--scale", type=int, default=3)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for env_id in engram.registered_ids():
        frames = frames_of(env_id, picks=(0, 2, 40, 58))
        gap = np.full((84, 4, 3), 255, np.uint8)
        row = np.concatenate([x for f in frames for x in (f, gap)][:-1], axis=1)
        row = row.repeat(args.scale, 0).repeat(args.scale, 1)
        iio.imwrite(args.out / f"{env_id}.png", row)
        print(f"wrote {args.out / (env_id + '.png')}")


if __name__ == "__main__":
    main()
