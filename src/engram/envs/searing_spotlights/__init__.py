"""Searing Spotlights: the rules and pictures of the finite and endless ids (:mod:`.env`;
the spotlight and darkness drawing primitives are :mod:`engram.render.spotlights`).
Importing the package registers the ids."""

from engram.envs.searing_spotlights.env import SearingSpotlights, Variant, health_tables

__all__ = ["SearingSpotlights", "Variant", "health_tables"]
