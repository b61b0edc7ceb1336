"""passbot: core package."""
