"""passbot: handlers package."""
