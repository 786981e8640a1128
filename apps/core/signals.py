"""Events the core app publishes; apps above it listen (core knows no app).

circuit_changed(sender=Circuit, name=str, opened=bool, error=str) — a circuit
(apps.core.circuit) of this process opened (``error``: the failure that opened it) or
closed again. Sent with ``send_robust``: a listener that fails never fails the caller.
"""

from django.dispatch import Signal

circuit_changed = Signal()
