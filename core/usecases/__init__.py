"""The use cases: fetch through the ports, judge with the pure core, write, audit."""
