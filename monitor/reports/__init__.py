"""Metrics against the policy's targets, the monthly report and database backups."""
