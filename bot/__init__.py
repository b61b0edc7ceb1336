"""passbot: bot package."""
