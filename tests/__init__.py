"""passbot: tests package."""
