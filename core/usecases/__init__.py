"""The use cases: each orchestrates the pure rules of core.domain through the ports of core.ports.

One module per use case (check, diagnose, fix, health, jobs, approvals, batch, feedback); bot/ wires
them to the adapters.
"""
