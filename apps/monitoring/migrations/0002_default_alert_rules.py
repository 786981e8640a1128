"""Sensible default alert rules; operators tune or disable them in the admin."""

from django.db import migrations

DEFAULT_RULES = [
    # name, metric, threshold, window minutes, min count, severity
    ("Slow endpoint: p95 above 500 ms for 5 minutes", "endpoint_p95_ms", 500, 5, 20, "warning"),
    ("Server errors above 5% for 5 minutes", "error_rate", 5, 5, 20, "critical"),
    ("Jobs wait: p95 above 60 s in a queue for 10 minutes", "queue_wait_p95_ms", 60000, 10, 5, "warning"),
    ("Jobs moved to dead letters in the last 15 minutes", "dead_letters", 0, 15, 0, "warning"),
    ("Job failure rate above 20% for 15 minutes", "job_failure_rate", 20, 15, 10, "warning"),
    ("Replica lag above 30 s", "replica_lag_s", 30, 1, 0, "critical"),
    ("Worker clusters missing", "workers_missing", 0, 1, 0, "critical"),
    ("Slow queries above 10 per minute for 10 minutes", "slow_query_rate", 10, 10, 0, "warning"),
]


def create_rules(apps, schema_editor):
    AlertRule = apps.get_model("monitoring", "AlertRule")
    for name, metric, threshold, window, min_count, severity in DEFAULT_RULES:
        AlertRule.objects.get_or_create(
            name=name,
            defaults={
                "metric": metric,
                "threshold": threshold,
                "window_minutes": window,
                "min_count": min_count,
                "severity": severity,
            },
        )


def remove_rules(apps, schema_editor):
    AlertRule = apps.get_model("monitoring", "AlertRule")
    AlertRule.objects.filter(name__in=[rule[0] for rule in DEFAULT_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial")]
    operations = [migrations.RunPython(create_rules, remove_rules)]
