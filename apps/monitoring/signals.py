"""Events the monitoring app publishes.

alert_opened(sender=AlertEvent, event=AlertEvent)
alert_resolved(sender=AlertEvent, event=AlertEvent)
"""

from django.dispatch import Signal

alert_opened = Signal()
alert_resolved = Signal()
