"""Alert events: the open ones (the overview, the alerts page, /metrics, the API, evaluation)."""

from django.db.models import QuerySet

from apps.monitoring.models import AlertEvent, AlertRule


def alerts_open(*, rule: AlertRule | None = None) -> QuerySet[AlertEvent]:
    """Events not resolved yet, newest first, each with its rule; of one ``rule`` if given."""
    events = rule.events.all() if rule is not None else AlertEvent.objects.select_related("rule")
    return events.filter(resolved_at__isnull=True)
