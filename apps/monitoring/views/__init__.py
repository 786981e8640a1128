"""Server-rendered performance pages (staff), the browser-metrics beacon and /metrics."""
