"""Root conftest: the matrix plugin itself is loaded through its pytest11 entry point
(see pyproject.toml), so a checkout and an installed copy behave alike."""
