"""Alerting: routing, grouping, silences, the durable outbox, and one module per receiver."""
