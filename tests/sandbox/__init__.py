"""passbot: tests of the sandbox over loopback, with the real clients."""
