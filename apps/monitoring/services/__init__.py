"""Writes of the monitoring app: metric flushes and roll-ups, slow queries, alerts, Silk."""
