"""Alert senders: one module and one class per channel."""
