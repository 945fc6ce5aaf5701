"""Source connectors: each turns one kind of source into normalized Messages and a checkpoint.

Connectors import only :mod:`monitor.message`, :mod:`monitor.errors` and their client library;
they know nothing of storage, tickets or alerts (import-linter keeps it so).
"""
