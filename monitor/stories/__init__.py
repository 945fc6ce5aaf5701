"""The lifecycle owner: stories (an incident, or a ticket group in no incident) from open to resolved,
the route tree, grouping timers, escalation, review notices and the outbox queue; and the operator's
problems (``operator``: invalid rule files, rejected credentials), one notice when a problem opens
and one when it is fixed, nothing in between however often it recurs."""
