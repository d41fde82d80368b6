"""Developer tools that run against the repository (not part of the wheel)."""
