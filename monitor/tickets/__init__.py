"""Tickets: messages of one thread on one ticket, codes Q000001, an audit trail of every change."""
