"""Reads of the monitoring app: metric windows, slow queries, database and queue health."""
