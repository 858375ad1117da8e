"""Shared foundations: the database, the repository base, problem+json errors, the circuit breaker."""
