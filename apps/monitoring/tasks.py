"""Scheduled job kinds of the monitoring app (run by the jobs dispatcher's schedules)."""

from datetime import timedelta

from apps.jobs.models import Queue
from apps.jobs.registry import job
from apps.monitoring.services import alerts, explain, metrics, silk


@job("monitoring.rollup", queue=Queue.SYSTEM, max_attempts=1, timeout=120, every=timedelta(minutes=1))
def rollup(ctx, params) -> dict:
    """Merges the metrics flushed to Redis into per-minute rows."""
    return metrics.metrics_rollup()


@job("monitoring.fold", queue=Queue.SYSTEM, max_attempts=2, timeout=1800, every=timedelta(hours=1))
def fold(ctx, params) -> dict:
    """Folds minute rows into hourly rows and applies metric retention."""
    return metrics.metrics_fold()


@job("monitoring.explain", queue=Queue.SYSTEM, max_attempts=1, timeout=300, every=timedelta(minutes=1))
def explain_slow_queries(ctx, params) -> dict:
    """Takes EXPLAIN plans of the slowest new slow-query samples (read-only, rolled back)."""
    return explain.slow_queries_explain()


@job("monitoring.alerts", queue=Queue.SYSTEM, max_attempts=1, timeout=120, every=timedelta(minutes=1))
def evaluate_alerts(ctx, params) -> dict:
    """Evaluates the alert rules: opens and resolves alert events, notifying staff."""
    return alerts.alerts_evaluate()


@job("monitoring.silk_prune", queue=Queue.SYSTEM, max_attempts=2, timeout=1800, every=timedelta(hours=1))
def silk_prune(ctx, params) -> dict:
    """Deletes Silk's recorded requests older than MONITORING_SILK_RETENTION_HOURS."""
    return {"deleted": silk.silk_prune()}
