"""Mortar Mayhem: the rules (:mod:`.env`), the pictures (:mod:`.render`) and the geometry
they share (:mod:`.geometry`). Importing the package registers its five ids."""

from engram.envs.mortar_mayhem.env import COMMAND_NAMES, COMMANDS, MortarMayhem, Variant
from engram.envs.mortar_mayhem.geometry import SCREEN, TILE

__all__ = ["COMMANDS", "COMMAND_NAMES", "SCREEN", "TILE", "MortarMayhem", "Variant"]
