"""HTTP wiring shared by every domain: the health probes and the versioned router."""
