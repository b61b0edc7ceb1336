"""Benchmarks: the real code against the sandbox at scale; they print figures, not verdicts."""
