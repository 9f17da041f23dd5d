"""Probe kinds: one module per kind, one shared signature, one registry (probes.registry)."""
