"""Load and fault tests against a local instance of the service (see the Makefile)."""
