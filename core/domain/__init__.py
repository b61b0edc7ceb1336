"""The pure rules of passbot: no I/O, no ports, no adapters."""
