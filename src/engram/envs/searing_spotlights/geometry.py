"""Searing Spotlights' geometry: the screen, the top bar and where each spotlight is on
its path (shared by the rules and the pictures)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engram.core import dfloat

if TYPE_CHECKING:
    from engram.envs.searing_spotlights.env import State

SCREEN = 84  # px; 336 * SCALE with SCALE = 0.25
BAR = 4  # px; the top bar's height, 16 * 0.25


def spot_location(state: State):
    """Current path points of every slot, double-float (S, 2, 2):
    ``spawn.lerp(target.lerp(offset, t), t)`` with ``a.lerp(b, t) = a + (b - a) t``."""
    t = state.spot_t[:, None, :]

    def lerp(a, b):
        return dfloat.add(a, dfloat.mul(dfloat.add(b, dfloat.neg(a)), t))

    return lerp(state.spot_spawn, lerp(state.spot_target, state.spot_offset))
