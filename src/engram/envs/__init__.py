"""The environments. Importing this package registers every id."""

from engram.envs import mortar_mayhem  # noqa: F401  (registers the Mortar Mayhem ids)
from engram.envs import searing_spotlights  # noqa: F401  (registers the Searing Spotlights ids)
from engram.envs import mystery_path  # noqa: F401  (registers the Mystery Path ids)
