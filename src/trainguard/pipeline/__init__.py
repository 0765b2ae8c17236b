"""The lifecycle pipeline: stages, gates and the demo that runs them on built-in data."""
