"""Customer feedback after the ticket: satisfaction follow-ups, survey campaigns, opt-outs."""
