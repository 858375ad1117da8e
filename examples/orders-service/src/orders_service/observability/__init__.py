"""Logs, request IDs, metrics and traces: what the service tells about itself."""
