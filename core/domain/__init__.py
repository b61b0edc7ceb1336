"""The pure rules of passbot: documents, the fulfilment rule, matching, findings, reports.

Nothing here does I/O or imports a port, a use case or an adapter: every function takes the facts
as arguments and returns values, so each rule is testable on its own.
"""
