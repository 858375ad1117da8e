"""HTTP wiring shared by every domain: dependencies, health probes, the versioned router."""
