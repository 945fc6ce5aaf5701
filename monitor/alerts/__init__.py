"""Alerts: outbox rows written with their cause, delivered by senders, never sent twice."""
