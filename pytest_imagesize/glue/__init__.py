"""The pytest-only glue: options, fixtures, collection, pytest-xdist, the run's hooks' work, the
hooks for other plugins and the progress lines. Everything below it runs without pytest."""
