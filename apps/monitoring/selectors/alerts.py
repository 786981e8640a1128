"""Alert rules and their events (each event with its rule): the open ones (the overview, the
alerts page, /metrics, the API, evaluation), the resolved ones, and all of them open first."""

from django.db.models import QuerySet

from apps.monitoring.models import AlertEvent, AlertRule


def alert_rules() -> QuerySet[AlertRule]:
    """Every rule, by name."""
    return AlertRule.objects.all()


def alerts_open(*, rule: AlertRule | None = None) -> QuerySet[AlertEvent]:
    """Events not resolved yet, newest first, each with its rule; of one ``rule`` if given."""
    events = rule.events.all() if rule is not None else AlertEvent.objects.select_related("rule")
    return events.filter(resolved_at__isnull=True)


def alerts_resolved() -> QuerySet[AlertEvent]:
    """Resolved events, newest first."""
    return AlertEvent.objects.select_related("rule").filter(resolved_at__isnull=False)


def alerts_open_first() -> QuerySet[AlertEvent]:
    """Every event: the open ones first, then by when they opened, newest first."""
    return AlertEvent.objects.select_related("rule").order_by("resolved_at", "-opened_at")
