"""Analysis: normalize, segment, match rules, score sentiment -> Findings.

Analysis never writes and never alerts; it only describes a message. Tickets and alerts act on it.
"""
