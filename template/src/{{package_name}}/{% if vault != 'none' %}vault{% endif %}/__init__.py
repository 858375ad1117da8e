"""Secrets from Vault: read at start-up, and kept fresh while the service runs."""
