"""outwatch: probes national services, watches official channels, correlates, alerts."""

__version__ = "0.1.0"
