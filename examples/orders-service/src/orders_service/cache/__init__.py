"""Caches behind one protocol, cache-aside reads, and the Bloom filter of known keys."""
