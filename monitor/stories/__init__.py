"""The lifecycle owner: stories (an incident, or a ticket group in no incident) from open to resolved,
the route tree, grouping timers, escalation, review notices and the outbox queue."""
