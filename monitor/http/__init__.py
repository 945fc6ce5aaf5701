"""Small HTTP endpoints the daemon serves (acknowledge links)."""
