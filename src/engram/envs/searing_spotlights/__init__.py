"""Searing Spotlights: the rules of the finite and endless ids (:mod:`.env`), their
pictures (:mod:`.render`; the spotlight and darkness drawing primitives are
:mod:`engram.render.spotlights`) and the geometry both share (:mod:`.geometry`).
Importing the package registers the ids."""

from engram.envs.searing_spotlights.env import SearingSpotlights, Variant, health_tables

__all__ = ["SearingSpotlights", "Variant", "health_tables"]
