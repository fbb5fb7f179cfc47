"""Mystery Path: the rules of the three ids (:mod:`.env`), their pictures
(:mod:`.render`), the geometry both share (:mod:`.geometry`) and the original's path
generator, walls and randomised A* (:mod:`.path_search`). Importing the package
registers the ids."""

from engram.envs.mystery_path.env import MysteryPath, Variant
from engram.envs.mystery_path.path_search import (
    CELLS,
    GRID,
    SearchState,
    generate_path,
    generate_walls,
    search_init,
    search_step,
    trace_path,
)

__all__ = [
    "CELLS",
    "GRID",
    "MysteryPath",
    "SearchState",
    "Variant",
    "generate_path",
    "generate_walls",
    "search_init",
    "search_step",
    "trace_path",
]
