"""SLA clocks on business calendars, computed from a ticket's event log (pure engine + thin storage)."""
