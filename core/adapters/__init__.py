"""passbot: core.adapters package."""
