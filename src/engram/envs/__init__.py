"""The environments. Importing this package registers every id."""

from engram.envs import (
    dark_key_to_door,  # noqa: F401  (registers DarkKeyToDoor-v0)
    mortar_mayhem,  # noqa: F401  (registers the Mortar Mayhem ids)
    mystery_path,  # noqa: F401  (registers the Mystery Path ids)
    object_nav,  # noqa: F401  (registers ObjectNav-v0)
    searing_spotlights,  # noqa: F401  (registers the Searing Spotlights ids)
    tmaze,  # noqa: F401  (registers TMaze-v0)
)
