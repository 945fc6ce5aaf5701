"""Ingest: store a batch of messages, quarantine rows and the checkpoint in one transaction."""
