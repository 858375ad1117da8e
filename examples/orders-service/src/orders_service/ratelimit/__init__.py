"""Rate limiting: the sliding-window limit per client."""
