"""The use cases: they orchestrate the pure rules (core.domain) through the ports (core.ports)."""
